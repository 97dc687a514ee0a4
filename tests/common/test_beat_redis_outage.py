"""During a Redis outage beat must not log "The Celery application must be restarted": it recovers
by itself when Redis answers again, and the log says so. The outage is a TCP relay in front of
the real Redis that the test cuts (connections refused) and restores on the same port."""

import logging
import socket
import threading
import uuid
from urllib.parse import urlsplit

import pytest
import redis
from celery import Celery
from celery.beat import Scheduler
from kombu import Queue

from tests.workers import wait_until

pytestmark = pytest.mark.redis


class RedisRelay:
    """127.0.0.1:<port> forwards to Redis until cut(); restore() listens on the same port again."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.port, self.sockets = target, 0, []
        self.restore()

    def restore(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self):
        self.listener.close()
        for sock in self.sockets:
            _shutdown(sock)
        self.sockets = []

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _shutdown(source)
        _shutdown(sink)


def _shutdown(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


@pytest.fixture
def relay(redis_url):
    parts = urlsplit(redis_url)
    running = RedisRelay((parts.hostname or "127.0.0.1", parts.port or 6379))
    yield running, f"redis://127.0.0.1:{running.port}{parts.path or '/0'}"
    running.cut()


def test_beat_during_a_redis_outage_logs_no_restart_and_sends_again_once_redis_answers(relay, redis_url, caplog):
    running, relayed_url = relay
    queue = f"beat-outage-{uuid.uuid4().hex[:8]}"
    app = Celery("beat-outage")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(
        broker_url=relayed_url,
        result_backend=relayed_url,
        # Fewer reconnect attempts than the default 20 x 1 s, so the give-up comes within the test.
        result_backend_transport_options={
            "retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
        },
        beat_schedule={"collect": {"task": "apps.markets.tasks.collect_due", "schedule": 0.2, "options": {"queue": queue}}},
    )
    with app.connection_for_write() as connection:
        Queue(queue).bind(connection).declare()  # as the worker does for its queues
    beat = Scheduler(app=app)
    queued = redis.Redis.from_url(redis_url)
    try:
        wait_until(lambda: beat.tick() is not None and queued.llen(queue) >= 1, timeout=10, message="beat's first send")

        running.cut()
        caplog.set_level(logging.INFO)
        wait_until(
            lambda: beat.tick() is not None and any("No restart is needed" in r.getMessage() for r in caplog.records),
            timeout=60,
            interval=0.3,
            message="beat to give up a send during the outage",
        )
        sent_before = queued.llen(queue)
        running.restore()
        wait_until(
            lambda: beat.tick() is not None and queued.llen(queue) > sent_before,
            timeout=30,
            interval=0.3,
            message="beat to send again once Redis answers",
        )
    finally:
        queued.delete(queue, f"_kombu.binding.{queue}")
        app.close()

    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.CRITICAL] == []
    assert [r for r in caplog.records if "must be restarted" in r.getMessage()] == []
    notices = [r for r in caplog.records if "No restart is needed" in r.getMessage()]
    assert {r.levelname for r in notices} == {"WARNING"}
    assert "reconnects by itself once Redis answers" in notices[0].getMessage()
