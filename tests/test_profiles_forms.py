"""Profiles side by side (issue 15, part 1) in the start (`n`) and export (`E`) forms: an AWS
profile picker, preselected with the organization's known profile, acting for the form's own
reads, the doctor, the start(s), and kept with the started jobs in the watch list.

Two emulators on 127.0.0.1 stand for two accounts (tests/profiles_fixtures.py): nothing works
with the default chain, so each call that reaches an emulator went there as a profile.
"""

from __future__ import annotations

import threading
from typing import Any

from test_export_org_background import until, when_set
from test_ui_emulator import settle
from test_ui_operations_emulator import fill_destination
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from tests.profiles_fixtures import REGION, TwoAccounts, two_accounts
from wmtui.core.export import ExportSpec, export_state_path
from wmtui.core.models import JobKey
from wmtui.core.settings import load_settings
from wmtui.emulator.demo import DEMO_BUCKET, DEMO_KMS_KEY_ARN, DEMO_ROLE_ARN
from wmtui.factory import Backend, build_app, open_backend
from wmtui.ui.app import WmtuiApp
from wmtui.ui.org_export_runs import ExportRun
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.doctor import DoctorScreen
from wmtui.ui.screens.export_org import ExportFormScreen, ExportProgressScreen
from wmtui.ui.screens.start import StartExportScreen

__all__ = ["two_accounts"]  # a fixture, used by name


SIZE = (140, 50)
START = "StartMailboxExportJob"


def app_watching_a(accounts: TwoAccounts) -> tuple[Backend, WmtuiApp]:
    """An app watching account A's jobs (client-a); account B's organization is not watched."""
    backend = open_backend(load_settings({}))
    backend.watchlist.add(accounts.a.job_keys(), profile="client-a")
    app = build_app(backend)
    app.cursor_blink = False
    return backend, app


def text_of(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def start_form(app: WmtuiApp, pilot: Pilot[Any]) -> StartExportScreen:
    """The settled app, `n`: its start form, settled."""
    await settle(app, pilot)
    await pilot.press("n")
    await settle(app, pilot)
    form = app.screen
    assert isinstance(form, StartExportScreen)
    return form


async def past_the_doctor(app: WmtuiApp, pilot: Pilot[Any]) -> None:
    """The doctor's first-start check: its advice is not the point here, so start anyway."""
    await settle(app, pilot)
    if isinstance(app.screen, DoctorScreen):
        await pilot.press("s")
        await settle(app, pilot)


async def submitted_as(app: WmtuiApp, pilot: Pilot[Any], profile: str) -> None:
    """ctrl+s, past the doctor: the confirmation names the AWS profile; y."""
    await pilot.press("ctrl+s")
    await past_the_doctor(app, pilot)
    confirm = app.screen
    assert isinstance(confirm, ConfirmScreen)
    assert f"AWS profile   {profile}" in str(confirm.query_one("#confirm-question").render())
    await pilot.press("y")


async def test_n_with_profile_client_b_starts_in_account_b_and_watches_it_with_client_b(
    two_accounts: TwoAccounts,
) -> None:
    a, b = two_accounts.a, two_accounts.b
    org_b = b.organization_id
    backend, app = app_watching_a(two_accounts)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        form = await start_form(app, pilot)
        picker = form.query_one("#start-profile", Select)
        # The selected job's organization, with its profile.
        assert picker.value == "client-a"
        form.query_one("#start-organization", Input).value = org_b
        await settle(app, pilot)
        # B's organization is not known: the pick stays, and client-a cannot list it.
        assert picker.value == "client-a"
        assert "Could not list the mailboxes" in text_of(form, "#start-list-status")
        picker.value = "client-b"
        await settle(app, pilot)
        assert f"5 mailboxes in {org_b}" in text_of(form, "#start-list-status")
        form.query_one("#start-mailbox", Input).focus()
        await pilot.press(*"dave", "enter")
        await fill_destination(pilot, "start", "client-b-tests")
        await submitted_as(app, pilot, "client-b")
        await settle(app, pilot)
        dave = next(m for m in b.server.state.mailboxes(org_b) if m.name == "dave")
        started = b.server.state.exports_started(org_b)
        assert list(started) == [dave.entity_id]
        assert a.server.state.counters_snapshot()[START] == 0
        new = JobKey(REGION, org_b, started[dave.entity_id][0])
        assert new in backend.watchlist.load()
        assert backend.watchlist.owners()[(REGION, org_b)] == "client-b"
        assert backend.watchlist.owners()[(REGION, a.organization_id)] == "client-a"


async def test_n_refuses_another_profile_than_the_watched_organizations(
    two_accounts: TwoAccounts,
) -> None:
    a = two_accounts.a
    backend, app = app_watching_a(two_accounts)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        form = await start_form(app, pilot)
        assert form.query_one("#start-organization", Input).value == a.organization_id
        picker = form.query_one("#start-profile", Select)
        picker.value = "client-b"
        await settle(app, pilot)
        form.query_one("#start-mailbox", Input).value = "dave"
        await fill_destination(pilot, "start", "wrong-account")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form  # refused, in the form
        said = text_of(form, "#start-profile-error")
        assert "watched with profile client-a" in said
        # Changing the organization and back preselects its known profile again.
        organization = form.query_one("#start-organization", Input)
        organization.value = two_accounts.b.organization_id
        await settle(app, pilot)
        organization.value = a.organization_id
        await settle(app, pilot)
        assert picker.value == "client-a"
        assert not form.query_one("#start-profile-error", Static).display
    assert a.server.state.counters_snapshot()[START] == 0
    assert two_accounts.b.server.state.counters_snapshot()[START] == 0
    assert backend.watchlist.owners() == {(REGION, a.organization_id): "client-a"}


async def test_E_with_profile_client_b_exports_account_bs_organization_and_watches_it_with_client_b(
    two_accounts: TwoAccounts,
) -> None:
    a, b = two_accounts.a, two_accounts.b
    org_b = b.organization_id
    backend, app = app_watching_a(two_accounts)

    def wait(seconds: float, stop: threading.Event) -> None:
        b.server.state.clock.advance(max(seconds, 600))  # the running jobs end meanwhile

    app.export_wait = wait
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("E")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ExportFormScreen)
        picker = form.query_one("#export-profile", Select)
        assert picker.value == "client-a"
        form.query_one("#export-organization", Input).value = org_b
        await pilot.pause()
        picker.value = "client-b"
        await fill_destination(pilot, "export", "org-b")
        await submitted_as(app, pilot, "client-b")
        await pilot.pause()
        view = app.screen
        assert isinstance(view, ExportProgressScreen)
        spec = ExportSpec(REGION, org_b, DEMO_BUCKET, "org-b", DEMO_ROLE_ARN, DEMO_KMS_KEY_ARN)
        run = app.export_runs.runs[export_state_path(backend.settings.data_dir, spec)]
        assert isinstance(run, ExportRun)
        await when_set(run.done, "the export's end")
        await until(pilot, lambda: run.halted is not None, "the end handled")
        await settle(app, pilot)
        started = b.server.state.exports_started(org_b)
        assert started  # every enabled mailbox not exported in the last 24 hours
        assert a.server.state.counters_snapshot()[START] == 0
        keys = {JobKey(REGION, org_b, ids[0]) for ids in started.values()}
        assert keys <= set(backend.watchlist.load())
        assert backend.watchlist.owners()[(REGION, org_b)] == "client-b"
