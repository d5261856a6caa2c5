"""The table shows exactly the board's visible order, whatever happens in whatever order.

Random sequences of refreshes, sorts, filters, adds, removes and cursor moves are applied to a
running app; after each step the table's rows must be the order a fresh look at the board gives
(no row twice, none missing) and the cursor must still be on the job it was on.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ui_fakes import NOW, FakeService, build_app, make_job

from wmtui.core.models import ExportJob, JobState
from wmtui.core.refresh import RefreshResult
from wmtui.ui.job_rows import JobRows
from wmtui.ui.messages import RefreshFinished
from wmtui.ui.widgets.job_table import JobTable

STATES = [JobState.RUNNING, JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED]
FILTERS = ["", "running", "mailbox 1", "failed", "zzz-no-match"]

refreshes = st.tuples(
    st.just("refresh"),
    st.lists(
        st.tuples(st.integers(1, 40), st.sampled_from(STATES), st.integers(0, 100)), max_size=12
    ),
)
steps = st.one_of(
    refreshes,
    st.tuples(st.just("sort"), st.integers(1, 3)),
    st.tuples(st.just("filter"), st.sampled_from(FILTERS)),
    st.tuples(st.just("add"), st.integers(21, 40)),
    st.tuples(st.just("remove"), st.integers(1, 40)),
    st.tuples(st.just("move"), st.sampled_from(["j", "k", "G", "g", "pagedown"])),
)


def job(n: int, state: JobState = JobState.RUNNING, progress: int = 50) -> ExportJob:
    return make_job(n, state=state, progress=progress, started_ago=timedelta(minutes=n * 7))


def fresh_order(app: Any) -> list[str]:
    """The visible order worked out from scratch, with none of the screen's caches."""
    screen = app.jobs_screen
    rows = JobRows(screen.board, screen.clock)
    rows.sort_mode = screen.sort_mode
    rows.filter_text = screen.filter_text
    rows.mailboxes = dict(screen.rows.mailboxes)
    rows.watched_changed()
    return rows.order()


async def play(path: Path, script: list[tuple[Any, ...]]) -> None:
    jobs = [job(n) for n in range(1, 21)]
    app = build_app(path, FakeService(jobs), [j.key for j in jobs], cached=jobs, interval=3600)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = app.jobs_screen
        table = app.query_one(JobTable)
        await pilot.pause()
        for step in script:
            before = app.selected_key()
            kind = step[0]
            if kind == "refresh":
                changed = {
                    j.key: replace(j, state=state, raw_state=state.value, estimated_progress=p)
                    for n, state, p in step[1]
                    if (j := screen.board.jobs.get(job(n).key)) is not None
                }
                screen.on_refresh_finished(RefreshFinished(RefreshResult(changed, finished_at=NOW)))
            elif kind == "sort":
                for _ in range(step[1]):
                    await pilot.press("s")
            elif kind == "filter":
                screen.filter_text = step[1]
            elif kind == "add":
                new = job(step[1])
                screen.watch_jobs([new.key], records=[new], announce=False)
            elif kind == "remove":
                screen.watching._remove_confirmed(job(step[1]).key, True)
            else:
                await pilot.press(step[1])
            await pilot.pause()
            shown = table.row_keys_in_order()
            assert len(shown) == len(set(shown)), f"a row shows twice after {step}"
            assert shown == fresh_order(app), f"the table is not the board's order after {step}"
            kept = before is not None and str(before) in shown
            if kind in ("refresh", "sort", "filter", "add") and kept:
                assert app.selected_key() == before, f"the cursor moved off its job: {step}"


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(steps, min_size=1, max_size=12))
def test_the_table_always_shows_the_boards_order(script: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(play(Path(folder), script))
