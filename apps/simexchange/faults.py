"""Fault injection: scripted failures for chaos tests and demos, set through /sim/faults.

- errors: the next N requests (optionally only a path/method) answer an HTTP status and,
  if given, a Binance {"code", "msg"} body (without a code the body is plain text, so ccxt
  maps the HTTP status, e.g. 503 -> ExchangeNotAvailable);
- latency: the next N requests (or all, until cleared) wait `ms` first;
- drop: the next N order POSTs are booked but never answered (the connection is held past
  the client's timeout, then closed);
- garble: the next N order POSTs are booked, but answered HTTP 200 with a body that is not an
  order (`not json`, `null`, `{"unexpected": true}`...). An error fault with status 200 and a
  `text` answers the same body without booking the order;
- down: for T seconds every API request answers 503 (or has its connection reset).
Only /api/ and /sapi/ requests are affected; /sim/ control requests never are.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

DEFAULT_MESSAGES = {
    -1003: "Too much request weight used; current limit is 6000 request weight per 1 MINUTE.",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -1022: "Signature for this request is not valid.",
    -2010: "Account has insufficient balance for requested action.",
    -2013: "Order does not exist.",
    -2014: "API-key format invalid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
    -1000: "An unknown error occurred while processing the request.",
    -1001: "Internal error; unable to process your request. Please try again.",
}


@dataclass
class ErrorFault:
    status: int
    code: int | None = None
    msg: str = ""
    remaining: int = 1
    path: str | None = None  # substring of the request path, e.g. "/api/v3/order"
    method: str | None = None
    text: str | None = None  # a raw body instead of Binance's JSON error (malformed-reply drills)

    def matches(self, method: str, path: str) -> bool:
        return (self.path is None or self.path in path) and (self.method is None or self.method.upper() == method)

    def body(self) -> dict | None:
        if self.code is None:
            return None
        return {"code": self.code, "msg": self.msg or DEFAULT_MESSAGES.get(self.code, "Simulated failure.")}


@dataclass
class LatencyFault:
    ms: int
    remaining: int | None = None  # None: until cleared
    path: str | None = None


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.errors: list[ErrorFault] = []
            self.latencies: list[LatencyFault] = []
            self.drop_orders = 0
            self.drop_hold_seconds = 30.0
            self.garble_orders = 0
            self.garble_text = "not json"
            self.down_until = 0.0  # wall clock seconds
            self.down_mode = "503"

    def error_add(self, fault: ErrorFault) -> None:
        if not 100 <= fault.status <= 599:
            raise ValueError("status must be an HTTP status (100-599)")
        if fault.remaining < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self.errors.append(fault)

    def latency_add(self, fault: LatencyFault) -> None:
        if fault.ms < 0:
            raise ValueError("latency must be >= 0 ms")
        with self._lock:
            self.latencies.append(fault)

    def drop_add(self, count: int = 1, hold_seconds: float = 30.0) -> None:
        with self._lock:
            self.drop_orders += count
            self.drop_hold_seconds = hold_seconds

    def garble_add(self, count: int = 1, text: str = "not json") -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self.garble_orders += count
            self.garble_text = text

    def garble_take(self) -> str | None:
        """If this order POST, once booked, must be answered with a malformed body: the body."""
        with self._lock:
            if self.garble_orders <= 0:
                return None
            self.garble_orders -= 1
            return self.garble_text

    def down_for(self, seconds: float, mode: str = "503") -> None:
        if mode not in ("503", "reset"):
            raise ValueError("mode is '503' or 'reset'")
        with self._lock:
            self.down_until = time.time() + seconds
            self.down_mode = mode

    def down_mode_now(self) -> str | None:
        with self._lock:
            return self.down_mode if time.time() < self.down_until else None

    def error_take(self, method: str, path: str) -> ErrorFault | None:
        with self._lock:
            for fault in self.errors:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.errors.remove(fault)
                    return fault
        return None

    def latency_take(self, path: str) -> float:
        """Seconds to wait before answering this request."""
        with self._lock:
            for fault in self.latencies:
                if fault.path is None or fault.path in path:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self.latencies.remove(fault)
                    return fault.ms / 1000.0
        return 0.0

    def drop_take(self) -> float | None:
        """If this order POST's answer must be dropped, how long to hold the connection."""
        with self._lock:
            if self.drop_orders <= 0:
                return None
            self.drop_orders -= 1
            return self.drop_hold_seconds

    def describe(self) -> dict:
        with self._lock:
            return {
                "errors": [asdict(f) for f in self.errors],
                "latencies": [asdict(f) for f in self.latencies],
                "drop_orders": self.drop_orders,
                "drop_hold_seconds": self.drop_hold_seconds,
                "garble_orders": self.garble_orders,
                "down_seconds_left": max(0.0, round(self.down_until - time.time(), 3)),
                "down_mode": self.down_mode,
            }
