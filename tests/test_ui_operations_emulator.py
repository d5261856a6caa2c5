"""Start, cancel, the organization-wide export and the download URL against the emulator, through
the real boto3 service: what the emulator's own record shows afterwards."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from test_ui_app import notices, rows, settle, static_text, table, watchlist_keys
from test_ui_emulator import build, state_of
from textual.pilot import Pilot
from textual.widgets import Input, Log

from wmtui.aws.service import Boto3ExportService
from wmtui.core.cache import JobCache
from wmtui.core.models import JobKey
from wmtui.core.settings import Settings
from wmtui.core.watchlist import WatchList
from wmtui.emulator.demo import (
    DEMO_BUCKET,
    DEMO_KMS_KEY_ARN,
    DEMO_REGION,
    DEMO_ROLE_ARN,
    build_demo_state,
)
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock
from wmtui.ui.app import WmtuiApp
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.export_org import ExportFormScreen, ExportProgressScreen
from wmtui.ui.screens.start import StartExportScreen

SIZE = (120, 36)


async def fill_destination(pilot: Pilot[Any], prefix: str, export_prefix: str) -> None:
    screen = pilot.app.screen
    for name, value in (
        ("bucket", DEMO_BUCKET),
        ("prefix", export_prefix),
        ("role_arn", DEMO_ROLE_ARN),
        ("kms_key_arn", DEMO_KMS_KEY_ARN),
    ):
        screen.query_one(f"#{prefix}-{name}", Input).value = value
    await pilot.pause()


async def start_for(pilot: Pilot[Any], search: str) -> None:
    """n, find the mailbox by name, fill the destination, confirm."""
    app = pilot.app
    await pilot.press("n")
    assert isinstance(app, WmtuiApp)
    await settle(app, pilot)
    assert isinstance(app.screen, StartExportScreen)
    await pilot.press(*search, "enter")
    await fill_destination(pilot, "start", "tests")
    await pilot.press("ctrl+s")
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen)
    await pilot.press("y")
    await settle(app, pilot)


async def test_n_starts_an_export_that_joins_the_watch_list(
    tmp_path: Path, emulator: EmulatorServer, emulator_service: Any
) -> None:
    app, keys = build(tmp_path, emulator, emulator_service)
    org = emulator.state.organization_ids[0]
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await start_for(pilot, "dave")
        started = emulator.state.exports_started(org)
        dave = next(m for m in emulator.state.mailboxes(org) if m.name == "dave")
        assert list(started) == [dave.entity_id]
        new = JobKey("us-east-1", org, started[dave.entity_id][0])
        assert new in watchlist_keys(app) and new in rows(app)
        assert app.selected_key() in keys  # the cursor stayed where it was
        table(app).select_key(str(new))
        await pilot.pause()
        assert state_of(app, new) == "● RUNNING"
        assert "Dave Example" in static_text(app, "#detail-body")
        assert any("Started the export of Dave Example" in n for n in notices(app))


async def test_limit_exceeded_from_the_service_is_explained(
    tmp_path: Path, emulator: EmulatorServer, emulator_service: Any
) -> None:
    app, keys = build(tmp_path, emulator, emulator_service)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        # Alice has an export running: one per mailbox per 24 hours.
        await start_for(pilot, "alice")
        said = notices(app)[-1]
        assert "was not started" in said and "24 hours" in said
        assert sorted(watchlist_keys(app)) == sorted(keys)


async def test_c_cancels_in_the_service_and_the_row_shows_it(
    tmp_path: Path, emulator: EmulatorServer, emulator_service: Any
) -> None:
    app, keys = build(tmp_path, emulator, emulator_service)
    org = emulator.state.organization_ids[0]
    running = next(k for k in keys if emulator.state.job(org, k.job_id).state == "RUNNING")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(running))
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert emulator.state.job(org, running.job_id).state == "CANCELLED"
        assert state_of(app, running) == "⊘ CANCELLED"


async def test_Y_signs_a_download_url_locally(
    tmp_path: Path, emulator: EmulatorServer, emulator_service: Any
) -> None:
    app, keys = build(tmp_path, emulator, emulator_service)
    org = emulator.state.organization_ids[0]
    done = next(k for k in keys if emulator.state.job(org, k.job_id).state == "COMPLETED")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        requests = emulator.state.counters_snapshot().total()
        table(app).select_key(str(done))
        await pilot.press("Y")
        await settle(app, pilot)
        assert app.clipboard.startswith("https://")
        assert "X-Amz-Signature=" in app.clipboard and done.job_id in app.clipboard
        assert emulator.state.counters_snapshot().total() <= requests + 1  # a describe at most


# ---- E: the organization-wide export ---------------------------------------------------------


@pytest.fixture
def twenty(aws_credentials: None) -> Iterator[EmulatorServer]:
    """An organization of 20 mailboxes and no exports yet, on a clock that moves when told."""
    state = build_demo_state(clock=EmulatorClock(manual=True), mailboxes=20, jobs=0)
    state.failure_rate = 0.0
    server = EmulatorServer(state).start()
    try:
        yield server
    finally:
        server.stop()


def advance_clock(clock: EmulatorClock) -> Callable[[float, threading.Event], None]:
    def advance(seconds: float, stop: threading.Event) -> None:
        clock.advance(seconds)

    return advance


def export_app(tmp_path: Path, server: EmulatorServer) -> WmtuiApp:
    settings = Settings(
        config_dir=tmp_path / "config",
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        region=DEMO_REGION,
        endpoint_url=server.endpoint_url,
        clipboard="osc52",
        interval=300,
    )
    service = Boto3ExportService(
        endpoint_url=server.endpoint_url,
        region=DEMO_REGION,
        connect_timeout=2.0,
        read_timeout=5.0,
    )
    clock = server.state.clock

    def now() -> datetime:
        value: datetime = clock.now()
        return value

    app = WmtuiApp(
        service,
        WatchList(tmp_path / "config" / "watchlist.json"),
        JobCache(tmp_path / "cache" / "jobs.json"),
        settings,
        clock=now,
    )
    app.cursor_blink = False
    # Time passes between rounds on the emulator's clock, not the wall's; a round every 30 to
    # 60 emulated seconds (three-minute jobs) keeps the test short.
    app.export_wait = advance_clock(clock)
    app.export_poll_interval = 60.0
    app.export_min_interval = 30.0
    return app


async def test_E_exports_every_mailbox_once_within_the_limit_and_watches_the_jobs(
    tmp_path: Path, twenty: EmulatorServer
) -> None:
    state = twenty.state
    org = state.organization_ids[0]
    app = export_app(tmp_path, twenty)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
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
        assert screen.halted is not None and screen.halted.finished, screen.halted
        progress = screen.last_progress
        assert progress is not None and progress.done == 20 and progress.failed == 0
        assert "20 done" in static_text(screen, "#export-counts")
        assert "Export finished: 20 done" in "\n".join(screen.query_one("#export-log", Log).lines)
        started = state.exports_started(org)
        assert len(started) == 20 and all(len(jobs) == 1 for jobs in started.values())
        assert state.max_running_seen(org) <= 10
        await pilot.press("escape")
        await settle(app, pilot)
        watched = set(watchlist_keys(app))
        assert watched == {JobKey(DEMO_REGION, org, ids[0]) for ids in started.values()}
        assert len(rows(app)) == 20
        # The same export again: it resumes from its state file and starts nothing new.
        await pilot.press("E")
        await pilot.pause()
        assert app.screen.query_one("#export-bucket", Input).value == DEMO_BUCKET
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Resumes the export" in static_text(app.screen, "#confirm-question")
        await pilot.press("y")
        await settle(app, pilot)
        again = app.screen
        assert isinstance(again, ExportProgressScreen)
        assert again.halted is not None and again.halted.finished
        assert state.exports_started(org) == started
