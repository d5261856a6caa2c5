"""Snapshots of the main states at a fixed size and clock, cursor blink off.

Regenerate with `uv run pytest tests/test_snapshots.py --snapshot-update` and look at every
changed SVG before accepting it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from test_ui_fakes import ORG, FakeService, build_app, job_id, key, people, standard_jobs
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from wmtui.core.export import ExportSpec
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.ui.app import WmtuiApp
from wmtui.ui.widgets.job_table import JobTable

SIZE = (120, 36)
SnapCompare = Callable[..., bool]


async def until_still(app: WmtuiApp, pilot: Pilot[Any]) -> None:
    """Until no refresh, worker or describe timer is left and two screens in a row, a pause
    apart, are the same: what a worker posted is handled and laid out (the detail pane's
    scrollbar comes and goes with its content), however slow the machine is."""
    previous: str | None = None
    for _ in range(200):
        await app.workers.wait_for_complete()
        await pilot.pause()
        busy = (
            app.refreshing
            or not all(w.is_finished for w in app.workers)
            or app.jobs_screen.describer.pending
        )
        if busy:
            previous = None
            continue
        await pilot.wait_for_scheduled_animations()
        screen = app.export_screenshot()
        if screen == previous:
            return
        previous = screen
    raise AssertionError("the app did not settle")


def settled(
    then: Callable[[WmtuiApp, Pilot[Any]], Awaitable[None]] | None = None,
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """run_before: wait for the first refresh to land, then do `then`."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, WmtuiApp)
        await until_still(app, pilot)
        if then is not None:
            await then(app, pilot)
            await until_still(app, pilot)

    return run_before


def standard_app(tmp_path: Path) -> WmtuiApp:
    """Eight jobs whose mailboxes have names; the selected job is described at once (no
    debounce), so every picture shows the same detail pane."""
    jobs = standard_jobs()
    app = build_app(tmp_path, FakeService(jobs, mailboxes=people(8)), [job.key for job in jobs])
    app.describe_delay = 0
    return app


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


ROLE = "arn:aws:iam::111122223333:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:111122223333:key/abcd-1234"


def test_start_form(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def open_start(app: WmtuiApp, pilot: Pilot[Any]) -> None:
        await pilot.press("n")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press(*"ex")
        screen = app.screen
        for name, value in (
            ("bucket", "wm-export"),
            ("prefix", "pre shutdown"),
            ("role_arn", ROLE),
            ("kms_key_arn", "arn:aws:kms:us-east-1:1111"),
        ):
            screen.query_one(f"#start-{name}", Input).value = value
        await pilot.pause()
        screen.query_one("#start-mailbox", Input).focus()

    assert snap_compare(standard_app(tmp_path), terminal_size=SIZE, run_before=settled(open_start))


def test_export_progress(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """One round of the organization-wide export: its mailboxes with exports in the last 24
    hours are skipped, the others started up to the limit."""

    async def one_round(app: WmtuiApp, pilot: Pilot[Any]) -> None:
        # After one round the worker is told to stop, so the picture holds still.
        app.export_wait = lambda seconds, stop: stop.set()
        spec = ExportSpec("us-east-1", ORG, "wm-export", "org", ROLE, KMS, max_running=5)
        app.open_export(spec)
        await pilot.pause()

    assert snap_compare(standard_app(tmp_path), terminal_size=SIZE, run_before=settled(one_round))
