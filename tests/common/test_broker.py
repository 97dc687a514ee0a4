"""The embedded broker publishes each message whole: a worker polling the queue folder never
finds a message file that is still being written (kombu's own filesystem transport creates the
file first and writes after, and a worker that read it empty died with a JSONDecodeError)."""

import json

import pytest
from kombu import Connection

from apps.common import broker


@pytest.fixture
def connection(tmp_path, settings):
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False}
    with Connection("filesystem://localhost/", transport=settings.EMBEDDED_BROKER_TRANSPORT, transport_options=options) as conn:
        conn.folder = folder
        yield conn


def test_while_a_message_is_written_no_reader_can_see_it(connection, monkeypatch):
    seen_while_writing = []

    def dumps_and_look(payload):
        seen_while_writing.extend(path.name for path in connection.folder.glob("*.orders.msg"))
        return json.dumps(payload)

    monkeypatch.setattr(broker, "dumps", dumps_and_look)
    queue = connection.SimpleQueue("orders")
    queue.put({"order": 7})

    assert seen_while_writing == []
    assert queue.get(timeout=1).payload == {"order": 7}
    queue.close()
