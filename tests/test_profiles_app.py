"""Profiles side by side in the app (issue 15, part 1): one app refreshes two accounts, each
through its own profile, and one profile's expired credentials leave the other working.

Two emulators on 127.0.0.1 stand for the two accounts (tests/profiles_fixtures.py).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from test_ui_emulator import settle
from textual.pilot import Pilot
from textual.widgets import Input

from tests.profiles_fixtures import REGION, TwoAccounts, two_accounts
from tests.test_faults_support import detail_of
from wmtui.core.models import JobKey
from wmtui.core.settings import load_settings
from wmtui.emulator.server import EmulatorServer
from wmtui.factory import build_app, open_backend
from wmtui.ui.app import WmtuiApp
from wmtui.ui.widgets.job_table import JobTable

__all__ = ["two_accounts"]  # a fixture, used by name


def cell(app: WmtuiApp, key: JobKey, column: str) -> str:
    value = app.query_one(JobTable).get_cell(str(key), column)
    assert isinstance(value, Text)
    return value.plain


def running_key(server: EmulatorServer, keys: list[JobKey]) -> JobKey:
    org = keys[0].organization_id
    states = {job.job_id: str(job.state) for job in server.state.jobs(org)}
    return next(key for key in keys if states[key.job_id] == "RUNNING")


def open_app(accounts: TwoAccounts) -> WmtuiApp:
    backend = open_backend(load_settings({}))
    for account in (accounts.a, accounts.b):
        backend.watchlist.add(account.job_keys(), profile=account.profile)
    app = build_app(backend)
    app.cursor_blink = False
    return app


async def test_one_app_shows_both_accounts_with_an_account_column_and_a_profile_filter(
    two_accounts: TwoAccounts,
) -> None:
    a, b = two_accounts.a, two_accounts.b
    app = open_app(two_accounts)
    async with app.run_test(size=(140, 36)) as pilot:
        await settle(app, pilot)
        table = app.query_one(JobTable)
        assert len(table.row_keys_in_order()) == 4
        for account in (a, b):
            for key in account.job_keys():
                # The emulators do not answer STS: the profile's name stands for the account.
                assert cell(app, key, "account") == account.profile
                assert cell(app, key, "state") in ("● RUNNING", "✔ COMPLETED")
        # The detail pane names the selected job's profile.
        detail = await detail_of(app, pilot, b.job_keys()[0])
        assert "Profile      client-b" in detail
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = "profile:client-b"
        await pilot.press("enter")
        await pilot.pause()
        assert sorted(table.row_keys_in_order()) == sorted(str(k) for k in b.job_keys())


async def test_one_profiles_expired_credentials_show_on_its_rows_and_the_other_keeps_going(
    two_accounts: TwoAccounts,
) -> None:
    a, b = two_accounts.a, two_accounts.b
    running_a = running_key(a.server, a.job_keys())
    running_b = running_key(b.server, b.job_keys())
    app = open_app(two_accounts)
    async with app.run_test(size=(140, 36)) as pilot:
        await settle(app, pilot)
        assert cell(app, running_a, "state") == "● RUNNING"
        two_accounts.expire(b)
        for account in (a, b):
            account.server.state.clock.advance(11 * 60)
        await pilot.press("r")
        await settle(app, pilot)
        # a's export finished and shows it; b's could not be read and says why.
        assert cell(app, running_a, "state") == "✔ COMPLETED"
        assert cell(app, running_b, "state") != "✔ COMPLETED"
        board = app.screen.board  # type: ignore[attr-defined]
        error = board.error_for(running_b)
        assert error is not None and "expired" in error.message.lower()
        assert board.error_for(running_a) is None
        banner = app.query_one("#banner")
        assert banner.display
        shown = str(banner.render())
        assert "Profile client-b" in shown
        assert "client-a" not in shown
        # Once b's credentials work again, b's job is read too.
        b.server.clear_faults()
        await pilot.press("r")
        await settle(app, pilot)
        assert cell(app, running_b, "state") == "✔ COMPLETED"
        assert not app.query_one("#banner").display


async def test_the_add_dialog_picks_a_profile_from_the_aws_config_file(
    two_accounts: TwoAccounts,
) -> None:
    from textual.widgets import Select, TextArea
    from textual.widgets.select import InvalidSelectValueError

    b = two_accounts.b
    backend = open_backend(load_settings({}))
    app = build_app(backend)
    app.cursor_blink = False
    key = b.job_keys()[0]
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        picker = dialog.query_one("#add-profile", Select)
        with pytest.raises(InvalidSelectValueError):
            picker.value = "not-in-the-config-file"
        picker.value = "client-b"
        dialog.query_one("#add-region", Input).value = key.region
        dialog.query_one("#add-organization", Input).value = key.organization_id
        dialog.query_one("#add-ids", TextArea).text = key.job_id
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert backend.watchlist.owners() == {(key.region, key.organization_id): "client-b"}
        # Read with client-b's keys from b's account.
        assert cell(app, key, "state") in ("● RUNNING", "✔ COMPLETED")


def test_two_accounts_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    """The jobs of two profiles: the Account column first, client-a's account ID known from
    STS, client-b's name standing for its account until STS says."""
    from test_snapshots import SIZE, settled
    from test_ui_fakes import ORG, ORG2, FakeService, fixed_clock, make_job, people

    from wmtui.core.cache import JobCache
    from wmtui.core.models import JobState
    from wmtui.core.profiles import ProfileBook, ProfileRouter
    from wmtui.core.settings import Settings
    from wmtui.core.watchlist import WatchList

    async def focus_filter(app: WmtuiApp, pilot: Pilot[Any]) -> None:
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = "profile:111122223333"
        # The detail pane keeps the tallest body it has shown at this width (fewer layouts), so
        # its scrollbar's thumb depends on what was shown before; a new width starts afresh.
        await pilot.pause()
        await pilot.resize_terminal(SIZE[0] + 20, SIZE[1])
        await pilot.resize_terminal(*SIZE)

    class KnownAccount(FakeService):
        def caller_arn(self) -> str:
            return "arn:aws:iam::111122223333:user/admin"

    a_jobs = [
        make_job(1, progress=42, started_ago=timedelta(minutes=25)),
        make_job(2, state=JobState.COMPLETED, started_ago=timedelta(hours=5)),
    ]
    b_jobs = [
        make_job(3, progress=87, started_ago=timedelta(hours=2), org=ORG2),
        make_job(4, state=JobState.COMPLETED, started_ago=timedelta(days=2), org=ORG2),
    ]
    services = {
        "client-a": KnownAccount(a_jobs, mailboxes=people(2)),
        "client-b": FakeService(b_jobs),
    }
    book = ProfileBook()
    router = ProfileRouter(FakeService(), book, services.__getitem__)
    watchlist = WatchList(tmp_path / "config" / "watchlist.json", profiles=book)
    watchlist.add([job.key for job in a_jobs], profile="client-a")
    watchlist.add([job.key for job in b_jobs], profile="client-b")
    settings = Settings(
        config_dir=tmp_path / "config",
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        region=REGION,
        clipboard="osc52",
    )
    cache = JobCache(tmp_path / "cache" / "jobs.json")
    app = WmtuiApp(router, watchlist, cache, settings, clock=fixed_clock)  # type: ignore[arg-type]
    app.cursor_blink = False
    app.describe_delay = 0
    assert ORG != ORG2
    assert snap_compare(app, terminal_size=SIZE, run_before=settled(focus_filter))


async def test_the_import_dialog_lists_and_imports_with_the_picked_profile(
    two_accounts: TwoAccounts,
) -> None:
    from textual.widgets import OptionList, Select, SelectionList

    b = two_accounts.b
    backend = open_backend(load_settings({}))
    app = build_app(backend)
    app.cursor_blink = False
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("i")
        await settle(app, pilot)
        dialog = app.screen
        # The default chain has no keys here: the organizations cannot be listed with it.
        assert not dialog.query_one("#import-organizations", OptionList).display
        dialog.query_one("#import-profile", Select).value = "client-b"
        await settle(app, pilot)
        organizations = dialog.query_one("#import-organizations", OptionList)
        assert organizations.display and organizations.option_count == 1
        organization = dialog.query_one("#import-organization", Input)
        organization.value = b.organization_id
        organization.focus()
        await pilot.press("enter")
        await settle(app, pilot)
        jobs = dialog.query_one("#import-jobs", SelectionList)
        assert jobs.option_count == 2
        jobs.select_all()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert backend.watchlist.owners() == {(REGION, b.organization_id): "client-b"}
        assert set(backend.watchlist.load()) == set(b.job_keys())
