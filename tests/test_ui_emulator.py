"""The TUI against the emulator through the real boto3 service: what crosses the wire."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.pilot import Pilot

from wmtui.core.cache import JobCache
from wmtui.core.models import JobKey, JobState
from wmtui.core.settings import Settings
from wmtui.core.watchlist import WatchList
from wmtui.emulator.server import EmulatorServer
from wmtui.ui.app import WmtuiApp
from wmtui.ui.widgets.job_table import JobTable


async def settle(app: WmtuiApp, pilot: Pilot[Any]) -> None:
    for _ in range(200):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not app.refreshing and all(w.is_finished for w in app.workers):
            return
    raise AssertionError("the app did not settle")


def build(tmp_path: Path, emulator: EmulatorServer, service: Any) -> tuple[WmtuiApp, list[JobKey]]:
    state = emulator.state
    org = state.organization_ids[0]
    keys = [JobKey("us-east-1", org, job.job_id) for job in state.jobs(org)]
    settings = Settings(
        config_dir=tmp_path / "config",
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        region="us-east-1",
        endpoint_url=emulator.endpoint_url,
        clipboard="osc52",
    )
    watchlist = WatchList(tmp_path / "config" / "watchlist.json")
    watchlist.add(keys)
    clock: Any = state.clock.now

    def now() -> datetime:
        value: datetime = clock()
        return value

    app = WmtuiApp(
        service, watchlist, JobCache(tmp_path / "cache" / "jobs.json"), settings, clock=now
    )
    app.cursor_blink = False
    return app, keys


def state_of(app: WmtuiApp, key: JobKey) -> str:
    value = app.query_one(JobTable).get_cell(str(key), "state")
    assert isinstance(value, Text)
    return value.plain


async def test_jobs_from_the_emulator_move_and_finish(
    tmp_path: Path, emulator: EmulatorServer, emulator_service: Any
) -> None:
    app, keys = build(tmp_path, emulator, emulator_service)
    running = next(k for k in keys if app_job_state(emulator, k) == "RUNNING")
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(app, pilot)
        assert state_of(app, running) == "● RUNNING"
        assert len(app.query_one(JobTable).row_keys_in_order()) == len(keys)
        app.query_one(JobTable).select_key(str(running))
        await pilot.press("j", "k")
        # Ten emulated minutes later the running export is done; r shows it at once.
        emulator.state.clock.advance(11 * 60)
        await pilot.press("r")
        await settle(app, pilot)
        assert state_of(app, running) == "✔ COMPLETED"
        assert app.selected_key() == running
        assert app.jobs[running].state is JobState.COMPLETED
        assert any("Export completed" in n.message for n in app._notifications)
        await pilot.press("y")
        await settle(app, pilot)
        assert app.clipboard.startswith("s3://")
        assert app.clipboard == app.jobs[running].s3_uri


async def test_unreachable_endpoint_shows_the_banner(
    tmp_path: Path, emulator: EmulatorServer, emulator_service: Any
) -> None:
    app, keys = build(tmp_path, emulator, emulator_service)
    emulator.stop()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        banner = app.query_one("#banner")
        assert banner.display
        assert app.is_running
        assert len(app.query_one(JobTable).row_keys_in_order()) == len(keys)


def app_job_state(emulator: EmulatorServer, key: JobKey) -> str:
    job = next(j for j in emulator.state.jobs(key.organization_id) if j.job_id == key.job_id)
    return str(job.state)
