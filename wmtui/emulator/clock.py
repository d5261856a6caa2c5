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
        # The wall-clock time at `_base_tick`: what `to_wall` maps emulated times onto.
        self._wall_base = datetime.now(UTC)
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
            self._wall_base = self._wall_now_locked()
            self._base_tick = self._monotonic()
            self._speed = speed

    def _now_locked(self) -> datetime:
        if self.manual:
            return self._base
        elapsed = (self._monotonic() - self._base_tick) * self._speed
        return self._base + timedelta(seconds=elapsed)

    def _wall_now_locked(self) -> datetime:
        return self._wall_base + timedelta(seconds=self._monotonic() - self._base_tick)

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

    def to_wall(self, when: datetime) -> datetime:
        """An emulated time as the service says it: on the wall clock's time line.

        Sped up, emulated time runs ahead of the wall clock; a client would read "started in
        4h". Answers carry `when` mapped back so durations shrink by the speed and nothing is
        ever later than the wall clock's now. A manual clock is the test's own time line.
        """
        if self.manual:
            return when
        with self._lock:
            if self._speed == 1.0:
                return when - self._base + self._wall_base
            return self._wall_base + (when - self._base) / self._speed

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move emulated time forward (in either mode); returns the new now."""
        step = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        with self._lock:
            self._base += step
            return self._now_locked()
