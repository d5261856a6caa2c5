"""The main screen, whose updates are paced from the start of the last one.

Textual draws a screen from a timer that fires at most MAX_FPS times a second and sleeps
while nothing needs drawing. In Textual 8.2.8 that timer keeps counting from where it was
before it slept: after a pause, the first update is drawn at once, but the next one is put
on the grid's next-but-one point, one to two frame periods after the first one ends. So a
key pressed while a refresh is being drawn waited 17 to 33 ms more, on top of the refresh's
own update. Here the next update starts as soon as one frame period has passed since the
last one started, which keeps the same frame cap.
"""

from __future__ import annotations

from typing import Any

from textual import _time
from textual.screen import UPDATE_PERIOD, Screen
from textual.timer import EventTargetGone, Timer


def frame_delay(last_start: float | None, now: float, period: float) -> float:
    """How long to wait before an update may start: none if a period has passed since the
    last one started (or there was none)."""
    if last_start is None:
        return 0.0
    return max(0.0, last_start + period - now)


class FrameTimer(Timer):
    """A repeating timer that, once resumed, fires as soon as `frame_delay` allows."""

    async def _run(self) -> None:
        last_start: float | None = None
        while True:
            await self._active.wait()
            delay = frame_delay(last_start, _time.get_time(), self._interval)
            if delay > 0:
                await _time.sleep(delay)
                # Paused meanwhile: nothing to draw until something asks again.
                await self._active.wait()
            last_start = _time.get_time()
            try:
                await self._tick(next_timer=last_start, count=0)
            except EventTargetGone:
                break


class JobsScreen(Screen[None]):
    """The app's default screen: Screen with `FrameTimer` pacing its updates."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._frame_timer: FrameTimer | None = None

    @property
    def _update_timer(self) -> Timer:
        # What Screen._update_timer does with set_interval, with the timer class swapped.
        if self._frame_timer is None:
            timer = FrameTimer(
                self,
                UPDATE_PERIOD,
                name="screen_update",
                callback=self._on_timer_update,
                pause=True,
            )
            timer._start()
            self._timers.add(timer)
            self._frame_timer = timer
        return self._frame_timer
