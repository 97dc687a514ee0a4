"""The simulated clock: real time, optionally sped up, plus an offset tests can move."""

from __future__ import annotations

import threading
import time


class SimClock:
    def __init__(self, *, speed: float = 1.0, start_ms: int | None = None):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._real_origin = time.time()
        self._sim_origin_ms = int(self._real_origin * 1000) if start_ms is None else int(start_ms)
        self._offset_ms = 0
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        elapsed = time.time() - self._real_origin
        with self._lock:
            return self._sim_origin_ms + int(elapsed * self.speed * 1000) + self._offset_ms

    def advance(self, seconds: float) -> int:
        """Jump the simulated clock forward (test hook); returns the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset_ms += int(seconds * 1000)
        return self.now_ms()

    @staticmethod
    def wall_ms() -> int:
        """Real time: what clients sign their timestamps with (recvWindow is checked against it)."""
        return int(time.time() * 1000)
