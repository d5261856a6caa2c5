"""Organization exports keep running in the app's background, against the emulator through the
real boto3 service: closing the view leaves the export running (it goes on starting jobs while
another screen is shown), only x (with a confirmation) or quitting stops it, and quitting lets
go of its lock. An export `wmtui export-org` runs in another process is shown read-only."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from test_cli_e2e import Shell
from test_ui_app import notices, settle, static_text, watchlist_keys
from test_ui_fakes import ORG, REGION, FakeService, build_app, people, standard_jobs
from test_ui_operations_emulator import SIZE, export_app, fill_destination, twenty
from textual.app import SystemCommand
from textual.pilot import Pilot
from textual.widgets import Input, Log

from wmtui.core.export import ExportSpec, export_state_path, lock_holder, read_export_state
from wmtui.core.export.state import ExportLock
from wmtui.core.models import JobKey
from wmtui.emulator.demo import DEMO_BUCKET, DEMO_KMS_KEY_ARN, DEMO_REGION, DEMO_ROLE_ARN
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState
from wmtui.ui.app import WmtuiApp
from wmtui.ui.org_export_runs import ExportRun, FollowedExport, wait_or_stop
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.export_org import ExportFormScreen, ExportProgressScreen
from wmtui.ui.screens.help import HelpScreen
from wmtui.ui.screens.org_exports import OrgExportsScreen

__all__ = ["twenty"]  # a fixture, used by name

ORG_PREFIX = "org-export"


def spec_of(org: str, prefix: str = ORG_PREFIX) -> ExportSpec:
    return ExportSpec(DEMO_REGION, org, DEMO_BUCKET, prefix, DEMO_ROLE_ARN, DEMO_KMS_KEY_ARN)


async def until(pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    """Handle messages until `condition` holds (workers post them from their threads)."""
    for _ in range(400):
        if condition():
            return
        await pilot.pause()
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what}")


async def until_status(pilot: Pilot[Any], app: WmtuiApp, words: str) -> None:
    """The status line is drawn again once a second: wait for one that says `words`."""
    for _ in range(100):
        if words in static_text(app.jobs_screen, "#status"):
            return
        await pilot.pause(0.1)
    raise AssertionError(f"the status line never said {words!r}")


def palette_entry(app: WmtuiApp, words: str) -> SystemCommand:
    """The command palette's entry whose title has `words`."""
    [found] = [c for c in app.get_system_commands(app.screen) if words in c.title]
    return found


async def when_set(event: threading.Event, what: str) -> None:
    assert await asyncio.to_thread(event.wait, 60), f"never happened: {what}"


async def start_with_E(pilot: Pilot[Any], org: str) -> None:
    app = pilot.app
    await pilot.press("E")
    await pilot.pause()
    assert isinstance(app.screen, ExportFormScreen)
    app.screen.query_one("#export-organization", Input).value = org
    await fill_destination(pilot, "export", ORG_PREFIX)
    await pilot.press("ctrl+s")
    await pilot.pause()


def log_lines(screen: ExportProgressScreen) -> str:
    return "\n".join(screen.query_one("#export-log", Log).lines)


async def test_the_export_keeps_starting_jobs_after_its_view_is_closed(
    tmp_path: Path, twenty: EmulatorServer
) -> None:
    state = twenty.state
    org = state.organization_ids[0]
    app = export_app(tmp_path, twenty)
    first_round = threading.Event()
    go_on = threading.Event()

    def wait(seconds: float, stop: threading.Event) -> None:
        if not first_round.is_set():
            first_round.set()
            go_on.wait(60)  # until the view is closed and another screen is shown
        state.clock.advance(max(seconds, 600))  # the three-minute jobs end meanwhile

    app.export_wait = wait
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await start_with_E(pilot, org)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await when_set(first_round, "the first round")
        view = app.screen
        assert isinstance(view, ExportProgressScreen)
        await until(pilot, lambda: view.last_progress is not None, "the first round shown")
        assert len(state.exports_started(org)) == 10  # the first round fills the slots
        assert view.check_action("stop_export", ()) is True  # the footer offers x
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ExportProgressScreen)
        await until_status(pilot, app, f"exporting org {org}: 0/20")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        path = export_state_path(tmp_path / "data", spec_of(org))
        run = app.export_runs.live_run(path)
        assert run is not None and not run.stop.is_set()
        assert lock_holder(path).held  # closing the view stopped nothing
        go_on.set()
        await when_set(run.done, "the export's end")
        await until(pilot, lambda: run.halted is not None, "the end handled")
        # It went on behind the help screen, which is still there.
        assert isinstance(app.screen, HelpScreen)
        started = state.exports_started(org)
        assert len(started) == 20 and all(len(jobs) == 1 for jobs in started.values())
        assert state.max_running_seen(org) <= 10
        assert run.halted is not None and run.halted.finished
        assert any(f"Organization export of {org} finished: 20 of 20" in n for n in notices(app))
        assert not lock_holder(path).held
        watched = set(watchlist_keys(app))
        assert watched == {JobKey(DEMO_REGION, org, ids[0]) for ids in started.values()}
        # O lists it; Enter shows its view again, with the counts and the log so far.
        await pilot.press("escape", "O")
        await until(pilot, lambda: isinstance(app.screen, OrgExportsScreen), "the list")
        await until(
            pilot,
            lambda: "20/20 done" in static_text(app.screen, "#org-exports-list"),
            "the export listed",
        )
        await pilot.press("enter")
        await pilot.pause()
        again = app.screen
        assert isinstance(again, ExportProgressScreen) and again.source is run
        assert "20 done" in static_text(again, "#export-counts")
        assert "Export finished: 20 done" in log_lines(again)
        # The command palette lists it too, and opens the same view.
        await pilot.press("escape", "escape")
        entry = palette_entry(app, f"Organization export: {org}")
        assert "20/20 done" in entry.title and entry.title.endswith("(finished)")
        entry.callback()
        await pilot.pause()
        assert isinstance(app.screen, ExportProgressScreen) and app.screen.source is run


async def test_only_x_stops_it_after_a_confirmation_and_quitting_lets_go_of_the_lock(
    tmp_path: Path, twenty: EmulatorServer
) -> None:
    state = twenty.state
    org = state.organization_ids[0]
    app = export_app(tmp_path, twenty)
    waiting = threading.Event()

    def wait(seconds: float, stop: threading.Event) -> None:
        waiting.set()
        stop.wait(60)  # a real wait: only a stop ends it

    app.export_wait = wait
    path = export_state_path(tmp_path / "data", spec_of(org))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await start_with_E(pilot, org)
        await pilot.press("y")
        await when_set(waiting, "the first round")
        run = app.export_runs.live_run(path)
        assert isinstance(run, ExportRun)
        # Leaving the view is not stopping: the export holds its lock, and O says it runs here.
        await pilot.press("escape", "O")
        await until(
            pilot,
            lambda: "run by this app" in static_text(app.screen, "#org-exports-list"),
            "the list",
        )
        assert run.running and lock_holder(path).held
        # x asks first; "no" leaves it running.
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert run.running and not run.stop.is_set()
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Stop the export of" in static_text(app.screen, "#confirm-question")
        await pilot.press("y")
        await when_set(run.done, "the stop")
        await until(pilot, lambda: run.halted is not None, "the stop handled")
        assert not lock_holder(path).held
        assert len(state.exports_started(org)) == 10  # nothing started after the stop
        await pilot.press("r")
        await until(
            pilot,
            lambda: static_text(app.screen, "#org-exports-list").startswith("paused"),
            "the export listed as paused",
        )
        # E in the list resumes it, after the start's confirmation; quitting stops it and lets
        # go of the lock.
        waiting.clear()
        await pilot.press("E")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Resumes the export saved there" in static_text(app.screen, "#confirm-question")
        await pilot.press("y")
        await when_set(waiting, "the resumed round")
        resumed = app.export_runs.live_run(path)
        assert resumed is not None and resumed is not run and lock_holder(path).held
    assert not lock_holder(path).held
    assert resumed.done.is_set()
    # What a user does next: the same export from the command line takes the lock.
    shell = Shell(tmp_path)
    command = [
        sys.executable, "-m", "wmtui", "--endpoint-url", twenty.endpoint_url,
        "--region", DEMO_REGION, "export-org", org, "--bucket", DEMO_BUCKET,
        "--prefix", ORG_PREFIX, "--role-arn", DEMO_ROLE_ARN, "--kms-key-arn",
        DEMO_KMS_KEY_ARN, "--once",
    ]  # fmt: skip
    done = subprocess.run(
        command,
        env=shell.env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 75, done.stderr  # not finished (its jobs run): not refused
    assert "another wmtui" not in done.stderr


async def test_an_export_org_in_another_process_is_shown_read_only(tmp_path: Path) -> None:
    state = EmulatorState(clock=EmulatorClock(manual=True), failure_rate=0)
    org = "m-0123456789abcdef0123456789abcdef"
    state.add_organization("example", org)
    for name in ("alice", "bob", "carol"):
        state.add_mailbox(org, name)
    state.add_job(org, "alice", state="COMPLETED", started_ago=timedelta(days=3))
    shell = Shell(tmp_path)
    with EmulatorServer(state) as server:
        command = [
            sys.executable, "-m", "wmtui", "export-org", org, "--bucket", DEMO_BUCKET,
            "--prefix", ORG_PREFIX, "--role-arn", DEMO_ROLE_ARN, "--kms-key-arn",
            DEMO_KMS_KEY_ARN, "--endpoint-url", server.endpoint_url, "--region", DEMO_REGION,
        ]  # fmt: skip
        # The emulator's clock stands still: its three jobs stay RUNNING until the test moves it.
        process = subprocess.Popen(
            command,
            env={**shell.env, "WMTUI_EXPORT_POLL_SECONDS": "0.2"},
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stderr is not None
            said = ""
            while "3 running" not in said:  # its progress line: the state file is saved
                line = process.stderr.readline()
                assert line, f"export-org ended: {said}"
                said += line
            await look_at_the_other_process(tmp_path, server, org, process)
            # The export ends over there; the view says so once it reads the file again.
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


async def look_at_the_other_process(
    tmp_path: Path, server: EmulatorServer, org: str, process: subprocess.Popen[str]
) -> None:
    app = export_app(tmp_path, server)
    path = export_state_path(tmp_path / "data", spec_of(org))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("O")
        await until(
            pilot,
            lambda: f"pid {process.pid}" in static_text(app.screen, "#org-exports-list"),
            "the export listed as run by the other process",
        )
        listed = static_text(app.screen, "#org-exports-list")
        assert listed.startswith("running") and "read-only here" in listed
        await pilot.press("enter")
        await pilot.pause()
        view = app.screen
        assert isinstance(view, ExportProgressScreen)
        followed = view.source
        assert isinstance(followed, FollowedExport)
        await until(pilot, lambda: view.last_progress is not None, "its progress")
        owner = static_text(view, "#export-owner")
        assert f"Run by another process (pid {process.pid})" in owner and "read-only" in owner
        assert "3 running" in static_text(view, "#export-counts")
        entry = palette_entry(app, f"Organization export: {org}")
        assert entry.title.endswith("(running elsewhere)")
        # Nothing to stop from here: x does nothing.
        await pilot.press("x")
        await pilot.pause()
        assert app.screen is view
        # The jobs it started are watched, as the app's own are.
        saved = read_export_state(path)
        assert saved is not None and len(saved.job_keys()) == 3
        await until(pilot, lambda: set(saved.job_keys()) <= set(app.watched), "its jobs watched")
        # E on the same destination shows the same thing instead of refusing.
        await pilot.press("escape", "escape")
        await start_with_E(pilot, org)
        again = app.screen
        assert isinstance(again, ExportProgressScreen) and again.source is followed
        # The jobs end; the other process finishes the export and lets go of it.
        server.state.clock.advance(3600)
        assert await asyncio.to_thread(process.wait, 60) == 0
        assert not lock_holder(path).held
        await pilot.press("r")
        await until(
            pilot,
            lambda: "Finished; no process runs it" in static_text(again, "#export-owner"),
            "the end read",
        )
        assert "3 done" in static_text(again, "#export-counts")
        assert "completed" in log_lines(again)


async def test_a_run_that_finds_the_lock_taken_shows_that_export_instead(tmp_path: Path) -> None:
    """export-org took the lock between the app's look and its run: no refusal, the view
    turns into the read-only one of that export."""
    jobs = standard_jobs()
    app = build_app(tmp_path, FakeService(jobs, mailboxes=people(8)), [job.key for job in jobs])
    spec = ExportSpec(REGION, ORG, "wm-export", "org", DEMO_ROLE_ARN, DEMO_KMS_KEY_ARN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = app.jobs_screen
        path = export_state_path(screen.settings.data_dir, spec)
        lock = ExportLock(path)
        lock.take()  # as the other process would
        try:
            run = ExportRun(
                spec,
                path,
                service=screen.service,
                clock=screen.clock,
                endpoint_url=None,
                poll_interval=15.0,
                min_interval=2.0,
                wait=wait_or_stop,
            )
            view = screen.export_flow.show(app.export_runs.start(run))
            await settle(app, pilot)
            assert isinstance(view.source, FollowedExport)
            assert "Run by another process" in static_text(view, "#export-owner")
            assert not view.query_one("#export-problem").display
            assert app.export_runs.live_run(path) is None
            assert view.check_action("resume_export", ()) is False  # it runs over there
        finally:
            lock.release()
        # That process let go before finishing: E resumes it here, after the confirmation.
        await pilot.press("r")
        await until(
            pilot, lambda: "Paused" in static_text(view, "#export-owner"), "the export paused"
        )
        await pilot.press("E")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "every enabled one" in static_text(app.screen, "#confirm-question")
