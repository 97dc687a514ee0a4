"""Real receivers on 127.0.0.1 for the alert tests: an SMTP server (aiosmtpd) and one HTTP server
that speaks the Telegram Bot API `sendMessage`, Discord and Slack incoming webhooks and a
generic webhook. Each path can be told how to answer its next requests (429 with retry_after,
a dropped connection, a 503) before answering normally."""

import json
import socket
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

TELEGRAM_TOKEN = "123456:secret-bot-token"
TELEGRAM_PATH = f"/bot{TELEGRAM_TOKEN}/sendMessage"
DISCORD_PATH = "/api/webhooks/1/discord-token"
SLACK_PATH = "/services/T1/B1/slack-token"
WEBHOOK_PATH = "/hooks/desk"


@dataclass
class Request:
    path: str
    body: dict
    headers: dict
    at: float  # monotonic
    answered: int  # the status code sent back (0: connection dropped)


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    subject: str
    html: str
    at: float


@dataclass
class Receivers:
    http_url: str
    smtp_port: int
    requests: list[Request] = field(default_factory=list)
    mails: list[Mail] = field(default_factory=list)
    scripts: dict[str, deque] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    answer_delay: float = 0.0  # a slow receiver: seconds before each answer

    def answer_next(self, path: str, *answers: tuple) -> None:
        """("429", seconds) | ("drop",) | ("503",): how the next requests to `path` are answered."""
        self.scripts.setdefault(path, deque()).extend(answers)

    def delivered(self, path: str) -> list[Request]:
        """The requests to `path` that were answered with success."""
        with self.lock:
            return [request for request in self.requests if request.path == path and 200 <= request.answered < 300]

    def attempts(self, path: str) -> list[Request]:
        with self.lock:
            return [request for request in self.requests if request.path == path]

    def delivered_count(self) -> int:
        with self.lock:
            return sum(200 <= request.answered < 300 for request in self.requests) + len(self.mails)


def _handler(receivers: Receivers):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            body = json.loads(raw or b"{}")
            script = receivers.scripts.get(self.path)
            answer = script.popleft() if script else ("ok",)
            time.sleep(receivers.answer_delay)
            # Answered under the lock: a client that has its answer finds the request recorded.
            with receivers.lock:
                status = self._answer(answer)
                receivers.requests.append(Request(self.path, body, dict(self.headers), time.monotonic(), status))

        def _answer(self, answer: tuple) -> int:
            if answer[0] == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return 0
            if answer[0] == "429":
                seconds = answer[1]
                payload = (
                    {"ok": False, "error_code": 429, "parameters": {"retry_after": seconds}}
                    if self.path.startswith("/bot")
                    else {"message": "rate limited", "retry_after": seconds}
                )
                self._reply(429, payload, {"Retry-After": str(seconds)})
                return 429
            if answer[0] == "503":
                self._reply(503, {"error": "down for maintenance"})
                return 503
            if self.path.startswith("/bot"):
                self._reply(200, {"ok": True, "result": {"message_id": len(receivers.requests) + 1}})
            elif self.path.startswith("/api/webhooks"):
                self._reply(204, None)
                return 204
            else:
                self._reply(200, {"ok": True})
            return 200

        def _reply(self, status: int, payload, headers: dict | None = None) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


class _SmtpHandler:
    def __init__(self, receivers: Receivers):
        self.receivers = receivers

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        html_part = message.get_body(preferencelist=("html",))
        with self.receivers.lock:
            self.receivers.mails.append(
                Mail(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    str(message["Subject"]),
                    html_part.get_content() if html_part else "",
                    time.monotonic(),
                )
            )
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def receivers_running():
    http = ThreadingHTTPServer(("127.0.0.1", 0), None)
    receivers = Receivers(http_url=f"http://127.0.0.1:{http.server_address[1]}", smtp_port=free_port())
    http.RequestHandlerClass = _handler(receivers)
    thread = threading.Thread(target=http.serve_forever, name="test-receivers-http", daemon=True)
    thread.start()
    smtp = Controller(_SmtpHandler(receivers), hostname="127.0.0.1", port=receivers.smtp_port)
    smtp.start()
    try:
        yield receivers
    finally:
        smtp.stop()
        http.shutdown()
        http.server_close()
