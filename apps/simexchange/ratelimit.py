"""A per-client request budget per minute, like Binance's REQUEST_WEIGHT (1 per request)."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, per_minute: int = 6000):
        self.per_minute = per_minute  # 0 disables
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        if self.per_minute <= 0:
            return True
        window = int(time.time() // 60)
        with self._lock:
            if len(self._counts) > 1000:
                self._counts = {k: v for k, v in self._counts.items() if k[1] == window}
            used = self._counts.get((client, window), 0) + 1
            self._counts[(client, window)] = used
            return used <= self.per_minute
