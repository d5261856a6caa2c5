"""Snapshots of the main states at a fixed size and clock, cursor blink off.

Regenerate with `uv run pytest tests/test_snapshots.py --snapshot-update` and look at every
changed SVG before accepting it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from test_ui_fakes import FakeService, build_app, job_id, key, standard_jobs
from textual.pilot import Pilot
from textual.widgets import TextArea

from wmtui.core.service import ErrorKind, ServiceError
from wmtui.ui.app import WmtuiApp
from wmtui.ui.widgets.job_table import JobTable

SIZE = (120, 36)
SnapCompare = Callable[..., bool]


def settled(
    then: Callable[[WmtuiApp, Pilot[Any]], Awaitable[None]] | None = None,
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """run_before: wait for the first refresh to land, then do `then`."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, WmtuiApp)
        for _ in range(100):
            await app.workers.wait_for_complete()
            await pilot.pause()
            if not app.refreshing and all(w.is_finished for w in app.workers):
                break
        if then is not None:
            await then(app, pilot)
            await app.workers.wait_for_complete()
            await pilot.pause()

    return run_before


def standard_app(tmp_path: Path) -> WmtuiApp:
    jobs = standard_jobs()
    return build_app(tmp_path, FakeService(jobs), [job.key for job in jobs])


def test_main_view(snap_compare: SnapCompare, tmp_path: Path) -> None:
    assert snap_compare(standard_app(tmp_path), terminal_size=SIZE, run_before=settled())


def test_failed_job_detail(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def select_failed(app: WmtuiApp, pilot: Pilot[Any]) -> None:
        app.query_one(JobTable).select_key(str(key(4)))

    assert snap_compare(
        standard_app(tmp_path), terminal_size=SIZE, run_before=settled(select_failed)
    )


def test_add_modal(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def open_add(app: WmtuiApp, pilot: Pilot[Any]) -> None:
        await pilot.press("a")
        app.screen.query_one("#add-ids", TextArea).insert(f"{job_id(11)}\n{job_id(12)} not/valid")
        await pilot.pause()

    assert snap_compare(standard_app(tmp_path), terminal_size=SIZE, run_before=settled(open_add))


def test_help_screen(snap_compare: SnapCompare, tmp_path: Path) -> None:
    assert snap_compare(
        standard_app(tmp_path), terminal_size=SIZE, press=["question_mark"], run_before=settled()
    )


def test_narrow_terminal(snap_compare: SnapCompare, tmp_path: Path) -> None:
    assert snap_compare(standard_app(tmp_path), terminal_size=(80, 30), run_before=settled())


def test_error_banner(snap_compare: SnapCompare, tmp_path: Path) -> None:
    jobs = standard_jobs()
    service = FakeService(jobs)
    service.fail_with = ServiceError(
        ErrorKind.SSO_TOKEN,
        "The SSO session for profile 'admin' has expired",
        "Run: aws sso login --profile admin",
    )
    app = build_app(tmp_path, service, [job.key for job in jobs], cached=jobs)
    assert snap_compare(app, terminal_size=SIZE, run_before=settled())
