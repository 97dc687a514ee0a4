"""Inject faults into a running simulated exchange.

manage.py simfault --url http://127.0.0.1:8765 error --status 503 [--code -1001] [--count 3] [--path /api/v3/order] [--method POST]
manage.py simfault latency --ms 800 [--count 5] [--path ...]        (no --count: until reset)
manage.py simfault drop [--count 1] [--hold 30]                     (book the order, never answer)
manage.py simfault garble [--count 1] [--text 'not json']            (book the order, answer 200 with that body)
manage.py simfault down --seconds 10 [--mode 503|reset]
manage.py simfault reset | status
"""

import json
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def _post(url: str, path: str, body: dict | None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=data,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise CommandError(f"simexchange refused: {error.code} {error.read().decode(errors='replace')}") from None
    except urllib.error.URLError as error:
        raise CommandError(f"cannot reach simexchange at {url}: {error.reason}") from None


class Command(BaseCommand):
    requires_system_checks = []  # a tool, not the web app: no static-files warnings in its output
    help = "Inject faults (errors, latency, dropped order answers, downtime) into the simulated exchange."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=getattr(settings, "SIMEXCHANGE_URL", "http://127.0.0.1:8765"))
        sub = parser.add_subparsers(dest="action", required=True)
        error = sub.add_parser("error", help="the next N requests fail")
        error.add_argument("--status", type=int, required=True)
        error.add_argument("--code", type=int, default=None, help="Binance error code, e.g. -1003")
        error.add_argument("--msg", default="")
        error.add_argument("--count", type=int, default=1)
        error.add_argument("--path", default=None)
        error.add_argument("--method", default=None)
        latency = sub.add_parser("latency", help="slow answers")
        latency.add_argument("--ms", type=int, required=True)
        latency.add_argument("--count", type=int, default=None)
        latency.add_argument("--path", default=None)
        drop = sub.add_parser("drop", help="book the next order POSTs but never answer them")
        drop.add_argument("--count", type=int, default=1)
        drop.add_argument("--hold", type=float, default=30.0, help="seconds to hold the connection")
        garble = sub.add_parser("garble", help="book the next order POSTs, answer 200 with a body that is not an order")
        garble.add_argument("--count", type=int, default=1)
        garble.add_argument("--text", default="not json")
        down = sub.add_parser("down", help="the whole exchange is down")
        down.add_argument("--seconds", type=float, required=True)
        down.add_argument("--mode", choices=["503", "reset"], default="503")
        sub.add_parser("reset", help="clear every fault")
        sub.add_parser("status", help="show the faults in force")

    def handle(self, *args, **o):
        url, action = o["url"], o["action"]
        if action == "error":
            body = {
                "status": o["status"],
                "code": o["code"],
                "msg": o["msg"],
                "count": o["count"],
                "path": o["path"],
                "method": o["method"],
            }
            result = _post(url, "/sim/faults/error", body)
        elif action == "latency":
            result = _post(url, "/sim/faults/latency", {"ms": o["ms"], "count": o["count"], "path": o["path"]})
        elif action == "drop":
            result = _post(url, "/sim/faults/drop", {"count": o["count"], "hold_seconds": o["hold"]})
        elif action == "garble":
            result = _post(url, "/sim/faults/garble", {"count": o["count"], "text": o["text"]})
        elif action == "down":
            result = _post(url, "/sim/faults/down", {"seconds": o["seconds"], "mode": o["mode"]})
        elif action == "reset":
            result = _post(url, "/sim/reset", {})
        else:
            result = _post(url, "/sim/faults", None)
        self.stdout.write(json.dumps(result, indent=1))
