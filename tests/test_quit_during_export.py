"""Quitting stops an organization export the app runs, so q asks first while one runs."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from test_export_org_background import until
from test_ui_app import static_text
from test_ui_fakes import ORG, FakeService, build_app, people, standard_jobs
from textual.pilot import Pilot

from wmtui.core.export import ExportSpec
from wmtui.ui.app import WmtuiApp
from wmtui.ui.screens.confirm import ConfirmScreen

SIZE = (120, 36)
ROLE = "arn:aws:iam::111122223333:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:111122223333:key/abcd-1234"


def exporting_app(tmp_path: Path) -> WmtuiApp:
    jobs = standard_jobs()
    service = FakeService(jobs, mailboxes=people(8))
    app = build_app(tmp_path, service, [job.key for job in jobs])
    app.describe_delay = 0

    def wait(seconds: float, stop: threading.Event) -> None:
        stop.wait(60)  # the export's next round waits until it is stopped

    app.export_wait = wait
    return app


async def export_running(pilot: Pilot[Any], app: WmtuiApp) -> None:
    spec = ExportSpec("us-east-1", ORG, "wm-export", "org", ROLE, KMS, max_running=5)
    app.open_export(spec)
    await until(pilot, lambda: bool(app.export_runs.live_runs()), "the export running")
    await pilot.press("escape")  # back on the jobs screen; the export goes on
    await until(pilot, lambda: app.screen is app.jobs_screen, "the jobs screen")


async def asked_to_quit(pilot: Pilot[Any], app: WmtuiApp, key: str) -> str:
    """Press `key`; the confirmation is up: its question."""
    await pilot.press(key)
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen)
    return static_text(app.screen, "#confirm-question")


async def test_q_while_an_export_runs_asks_and_no_keeps_both(tmp_path: Path) -> None:
    app = exporting_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await export_running(pilot, app)
        question = await asked_to_quit(pilot, app, "q")
        assert "Quitting stops the organization export" in question
        assert ORG in question and "s3://wm-export/org" in question
        assert "resumes it" in question
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and app.return_code is None
        assert app.screen is app.jobs_screen
        (run,) = app.export_runs.live_runs()
        assert not run.stop.is_set()
        # Asked again, y quits; the export is told to stop and lets go of its lock.
        await asked_to_quit(pilot, app, "q")
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0
    assert run.stop.is_set()


async def test_q_with_no_export_running_quits_at_once(tmp_path: Path) -> None:
    app = exporting_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_ctrl_c_while_asking_quits_without_the_answer(tmp_path: Path) -> None:
    app = exporting_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await export_running(pilot, app)
        await asked_to_quit(pilot, app, "ctrl+c")
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0
