"""The emulator's clock: real time sped up, or frozen until a test moves it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["EmulatorClock"]


class EmulatorClock:
    """The emulator's notion of now: real time sped up by `speed`, or frozen until advanced.

    In manual mode time moves only through advance(), so tests decide exactly when jobs finish.
    """

    def __init__(
        self,
        *,
        start: datetime | None = None,
        speed: float = 1.0,
        manual: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._base = (start or datetime.now(UTC)).astimezone(UTC)
        self._base_tick = monotonic()
        self._speed = speed
        self.manual = manual

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        with self._lock:
            # Re-base so that changing speed never makes time jump.
            self._base = self._now_locked()
            self._base_tick = self._monotonic()
            self._speed = speed

    def _now_locked(self) -> datetime:
        if self.manual:
            return self._base
        elapsed = (self._monotonic() - self._base_tick) * self._speed
        return self._base + timedelta(seconds=elapsed)

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move emulated time forward (in either mode); returns the new now."""
        step = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        with self._lock:
            self._base += step
            return self._now_locked()
