"""What keeps a key press quick under a refresh, as rules (the timing is in benchmarks/, item 3).

- The main screen's updates are paced from the start of the last one (wmtui/ui/screens/jobs.py),
  not from a grid counted before the screen went idle.
- The app tunes the garbage collector while it runs (WmtuiApp._settle_heap) and puts it back.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from test_ui_fakes import FakeService, build_app, standard_jobs
from textual.screen import UPDATE_PERIOD

from wmtui.ui.app import YOUNG_GENERATION
from wmtui.ui.screens.jobs import FrameTimer, JobsScreen, frame_delay
from wmtui.ui.widgets.job_table import JobTable


@pytest.mark.parametrize(
    ("last_start", "now", "expected"),
    [
        (None, 5.0, 0.0),  # the first update: at once
        (10.0, 10.004, 0.012),  # a period from the last start, not from when it ended
        (10.0, 10.016, 0.0),  # a period has passed: at once, not on a later grid point
        (10.0, 12.0, 0.0),  # after a long idle: at once
    ],
)
def test_an_update_waits_one_period_from_the_last_ones_start(
    last_start: float | None, now: float, expected: float
) -> None:
    assert frame_delay(last_start, now, 0.016) == pytest.approx(expected)


async def test_the_main_screen_is_paced_by_the_frame_timer_and_paints(tmp_path: Path) -> None:
    jobs = standard_jobs()
    app = build_app(tmp_path, FakeService(jobs), [job.key for job in jobs])
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        timer = screen._update_timer
        assert isinstance(timer, FrameTimer)
        assert timer._interval == UPDATE_PERIOD
        # The timer Textual uses is this one: a move of the cursor is painted through it.
        ticks: list[float] = []
        tick = timer._tick

        async def counted(*, next_timer: float, count: int) -> None:
            ticks.append(next_timer)
            await tick(next_timer=next_timer, count=count)

        timer._tick = counted  # type: ignore[method-assign]
        table = app.query_one(JobTable)
        before = table.cursor_row
        await pilot.press("j")
        await pilot.pause()
        assert table.cursor_row == before + 1
        assert ticks, "the screen was not updated through the frame timer"
        assert screen._update_timer is timer


async def test_the_collector_is_tuned_while_the_app_runs_and_put_back(tmp_path: Path) -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    jobs = standard_jobs()
    app = build_app(tmp_path, FakeService(jobs), [job.key for job in jobs])
    async with app.run_test(size=(120, 36)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert gc.get_threshold() == (max(before[0], YOUNG_GENERATION), *before[1:])
        assert gc.get_freeze_count() > frozen_before
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
