"""deadline_risk: told once (across restarts) when the projection passes the end of support or
fewer than 14 days are left; by the app (the mailboxes screen's read) and by `wmtui coverage`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from test_coverage_cli import ORG as CLI_ORG
from test_coverage_cli import _argv, server  # noqa: F401  (the fixture)
from test_mailboxes_screen import directory
from test_notify import heard, recorder
from test_ui_app import SIZE, settle
from test_ui_fakes import NOW, ORG, REGION, FakeService, fixed_clock, standard_jobs

from wmtui.cli import main
from wmtui.core.cache import JobCache
from wmtui.core.deadline import Deadline, deadline_risk_event
from wmtui.core.settings import Settings
from wmtui.core.watchlist import WatchList
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorState
from wmtui.ui.app import WmtuiApp
from wmtui.ui.screens.mailboxes import MailboxesScreen

BASE = Deadline(
    end_of_support=date(2027, 3, 31),
    days_left=100,
    total=300,
    verified=10,
    exported=100,
    running=10,
    left=200,
    pace_per_day=5.0,
    finish_at_pace=datetime(2027, 2, 1, tzinfo=UTC),
    finish_full_slots=datetime(2027, 1, 1, tzinfo=UTC),
)


def test_the_event_says_why_and_is_the_same_event_each_time() -> None:
    assert deadline_risk_event(BASE, region=REGION, organization_id=ORG, now=NOW) is None
    late = replace(BASE, finish_at_pace=datetime(2027, 5, 12, tzinfo=UTC))
    event = deadline_risk_event(late, region=REGION, organization_id=ORG, now=NOW)
    assert event is not None and event.event == "deadline_risk"
    assert event.extra["reason"] == "projection_late"
    assert event.error_info is not None and "projected to finish 12 May 2027" in event.error_info
    again = deadline_risk_event(late, region=REGION, organization_id=ORG, now=NOW + timedelta(1))
    assert again is not None and again.id == event.id  # once, whenever it is judged again
    hurry = deadline_risk_event(
        replace(BASE, days_left=9), region=REGION, organization_id=ORG, now=NOW
    )
    assert hurry is not None and hurry.extra["reason"] == "few_days_left"
    assert hurry.id != event.id
    done = replace(BASE, days_left=3, left=0)
    assert deadline_risk_event(done, region=REGION, organization_id=ORG, now=NOW) is None


def test_coverage_tells_the_risk_once(
    server: tuple[EmulatorServer, EmulatorState],  # noqa: F811  (the imported fixture)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running, _ = server
    command, log = recorder(tmp_path)
    monkeypatch.setenv("WMTUI_NOTIFY_COMMAND", command)
    # One export finished in the last week: 3 mailboxes left take 21 days at that pace.
    end = datetime.now(UTC).date() + timedelta(days=20)
    monkeypatch.setenv("WMTUI_END_OF_SUPPORT", end.isoformat())
    for _ in range(2):  # the second run is told nothing new
        assert main(_argv(running, CLI_ORG, "--json")) == 1
    told = heard(log)
    assert [e["event"] for e in told] == ["deadline_risk"]
    assert told[0]["organization_id"] == CLI_ORG and told[0]["reason"] == "projection_late"
    assert told[0]["mailboxes_left"] == 3 and told[0]["end_of_support"] == end.isoformat()


def test_coverage_without_risk_tells_nothing(
    server: tuple[EmulatorServer, EmulatorState],  # noqa: F811  (the imported fixture)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running, _ = server
    command, log = recorder(tmp_path)
    monkeypatch.setenv("WMTUI_NOTIFY_COMMAND", command)
    monkeypatch.setenv("WMTUI_END_OF_SUPPORT", "2099-12-31")
    assert main(_argv(running, CLI_ORG)) == 1
    assert heard(log) == []


def _app(tmp_path: Path, command: str, end: date) -> WmtuiApp:
    jobs = standard_jobs()
    service = FakeService(jobs, mailboxes=directory(12))
    settings = Settings(
        config_dir=tmp_path / "config",
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        region=REGION,
        clipboard="osc52",
        notify_command=command,
        end_of_support=end,
        toasts=False,
    )
    watchlist = WatchList(tmp_path / "config" / "watchlist.json")
    watchlist.add([job.key for job in jobs])
    return WmtuiApp(
        service, watchlist, JobCache(tmp_path / "cache" / "jobs.json"), settings, clock=fixed_clock
    )


async def _open_and_read(app: WmtuiApp) -> None:
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("m")
        for _ in range(50):
            await app.workers.wait_for_complete()
            await pilot.pause()
            screen = app.screen
            if isinstance(screen, MailboxesScreen) and screen.complete:
                break
        await app.workers.wait_for_complete()
        await pilot.pause()


async def test_the_app_tells_the_risk_once_across_restarts(tmp_path: Path) -> None:
    command, log = recorder(tmp_path)
    # 9 mailboxes left at 2 exports a week: 31 days, and only 10 are left.
    end = NOW.date() + timedelta(days=10)
    for _ in range(2):  # the second app is a restart: nothing is told again
        await _open_and_read(_app(tmp_path, command, end))
    told = heard(log)
    assert [(e["event"], e["reason"]) for e in told] == [("deadline_risk", "projection_late")]
    assert told[0]["organization_id"] == ORG and told[0]["days_left"] == 10


async def test_the_app_tells_nothing_while_on_track(tmp_path: Path) -> None:
    command, log = recorder(tmp_path)
    await _open_and_read(_app(tmp_path, command, date(2099, 12, 31)))
    assert heard(log) == []
