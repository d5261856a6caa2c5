"""The app's side: a job that ends reaches the notify_command once, across restarts, with
the pop-up notices off; L shows the trail, newest first, filterable. Against the emulator."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from test_ui_emulator import settle
from test_ui_operations_emulator import export_app, fill_destination, twenty
from textual.widgets import DataTable, Input, Static

from wmtui.core.cache import JobCache
from wmtui.core.models import JobKey, StartRequest
from wmtui.core.settings import Settings
from wmtui.core.watchlist import WatchList
from wmtui.emulator.server import EmulatorServer
from wmtui.factory import Backend, audit, build_app
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.export_org import ExportFormScreen, ExportProgressScreen
from wmtui.ui.screens.trail import TrailScreen

__all__ = ["twenty"]  # a fixture, used by name

ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def recorder(folder: Path) -> tuple[str, Path]:
    log = folder / "heard.jsonl"
    script = folder / "notify.py"
    script.write_text(f"import sys\nopen({str(log)!r}, 'a').write(sys.stdin.read())\n")
    return f"{sys.executable} {script}", log


def heard(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def make_app(tmp_path: Path, emulator: EmulatorServer, service: Any, command: str) -> Any:
    """The app as the door builds it, its service audited, notifications on, toasts off."""
    state = emulator.state
    org = state.organization_ids[0]
    watchlist = WatchList(tmp_path / "config" / "watchlist.json")
    watchlist.add([JobKey("us-east-1", org, job.job_id) for job in state.jobs(org)])
    settings = Settings(
        config_dir=tmp_path / "config",
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        region="us-east-1",
        endpoint_url=emulator.endpoint_url,
        clipboard="osc52",
        notify_command=command,
        toasts=False,
    )
    backend = Backend(
        settings=settings,
        service=audit(service, settings),
        watchlist=watchlist,
        cache=JobCache(tmp_path / "cache" / "jobs.json"),
    )
    app = build_app(backend, clock=state.clock.now)
    app.cursor_blink = False
    return app


async def test_a_finished_job_is_told_once_and_the_trail_shows_a_start(
    tmp_path: Path, emulator: EmulatorServer, emulator_service: Any
) -> None:
    command, log = recorder(tmp_path)
    org = emulator.state.organization_ids[0]
    running = next(
        JobKey("us-east-1", org, job.job_id)
        for job in emulator.state.jobs(org)
        if str(job.state) == "RUNNING"
    )
    for _ in range(2):  # the second app is a restart: nothing is told again
        app = make_app(tmp_path, emulator, emulator_service, command)
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(app, pilot)
            if not heard(log):
                started = app.service.start_job(
                    "us-east-1", org, StartRequest("dave", "wm-export", "exports", ROLE, KMS)
                )
                emulator.state.clock.advance(11 * 60)
                await pilot.press("r")
                await settle(app, pilot)

            await pilot.press("L")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, TrailScreen)
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = screen.query_one(DataTable)
            assert table.row_count == 1
            assert started.job_id in " ".join(str(cell) for cell in table.get_row_at(0))
            detail = str(screen.query_one("#trail-detail", Static).render())
            assert "aws workmail start-mailbox-export-job" in detail
            await pilot.press("slash", *"no-such-thing")
            assert table.row_count == 0
            await pilot.press("escape", "escape")
            assert app.screen is not screen
    told = [(e["event"], e["job_id"]) for e in heard(log)]
    assert ("job_completed", running.job_id) in told
    assert len(told) == len(set(told))


async def test_an_organization_export_in_the_app_tells_its_end_once(
    tmp_path: Path, twenty: EmulatorServer
) -> None:
    command, log = recorder(tmp_path)
    org = twenty.state.organization_ids[0]
    for _ in range(2):  # the second run resumes a finished export: nothing new to tell
        app = export_app(tmp_path, twenty)
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(app, pilot)
            jobs = app.jobs_screen
            jobs.settings = replace(jobs.settings, notify_command=command)
            await pilot.press("E")
            await pilot.pause()
            assert isinstance(app.screen, ExportFormScreen)
            app.screen.query_one("#export-organization", Input).value = org
            await fill_destination(pilot, "export", "org-export")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ExportProgressScreen)
            await settle(app, pilot)
            assert screen.halted is not None and screen.halted.finished
    # Each job it started is a watched job too: told as the app sees it end, once.
    events = heard(log)
    jobs_told = [e["job_id"] for e in events if e["event"] == "job_completed"]
    assert len(jobs_told) == len(set(jobs_told))
    [event] = [e for e in events if e["event"] == "org_export_finished"]
    assert event["organization_id"] == org
    assert event["counts"] == {"total": 20, "done": 20, "failed": 0, "skipped": 0}
