"""Each process logs JSON lines to its own file under var/log, rotated by size, old files bounded."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.common.logging import process_name

ROOT = Path(__file__).resolve().parents[2]


def test_a_process_logs_json_lines_to_its_own_file_rotated_at_the_size_asked_keeping_the_count_asked(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tradedesk.settings",
        "TRADEDESK_TESTING": "1",
        "LOG_FILES": "true",
        "LOG_DIR": str(tmp_path),
        "LOG_FILE_MAX_BYTES": "4000",
        "LOG_FILE_BACKUPS": "2",
    }
    code = (
        "import django, logging; django.setup(); log = logging.getLogger('apps.test'); "
        "[log.warning('order %s sent', n) for n in range(400)]"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120)

    logs = sorted(path.name for path in tmp_path.glob("desk.jsonl*"))
    assert logs == ["desk.jsonl", "desk.jsonl.1", "desk.jsonl.2"]
    assert all((tmp_path / name).stat().st_size <= 4000 + 200 for name in logs)  # rotated at the line that passes the size
    newest = [json.loads(line) for line in (tmp_path / "desk.jsonl").read_text().splitlines()]
    assert newest[-1]["event"] == "order 399 sent" and newest[-1]["level"] == "warning"
    assert newest[-1]["timestamp"].endswith("Z")


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["/app/.venv/bin/python", "-m", "uvicorn", "tradedesk.asgi:application"], "web"),
        (["/usr/bin/celery", "-A", "tradedesk", "worker", "-Q", "default"], "worker"),
        (["/app/.venv/lib/python3.11/site-packages/celery/__main__.py", "-A", "tradedesk", "beat"], "beat"),
        (["manage.py", "relay"], "relay"),
        (["manage.py"], "desk"),
    ],
)
def test_the_log_file_is_named_after_the_process(argv, name):
    assert process_name(argv) == name
