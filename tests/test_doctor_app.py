"""The doctor in the app: `n` and `E` check a destination once before its first start, show
what failed with a key to start anyway; `D` shows the selected job's full report; a FAILED job
whose ErrorInfo points at the set-up names the likely cause and the doctor command."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from test_ui_app import SIZE, detail, notices, settle, static_text, table
from test_ui_fakes import ORG, REGION, FakeService, fixed_clock, key, people, standard_jobs
from textual.pilot import Pilot
from textual.widgets import Input

from wmtui.core.cache import JobCache
from wmtui.core.destinations import Destination, remember_destination
from wmtui.core.models import ExportJob, JobState
from wmtui.core.preflight import Check, DoctorReport, PreflightTarget, Status
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.core.settings import Settings
from wmtui.core.watchlist import WatchList
from wmtui.ui.app import WmtuiApp
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.doctor import DoctorScreen
from wmtui.ui.screens.export_org import ExportFormScreen, ExportProgressScreen
from wmtui.ui.screens.start import StartExportScreen

ROLE = "arn:aws:iam::111122223333:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:111122223333:key/abcd-1234"


class FakePreflight:
    """Answers with checks given per role ARN; counts its runs."""

    def __init__(self, failing: bool = True, error: ServiceError | None = None) -> None:
        self.failing = failing
        self.error = error
        self.runs: list[PreflightTarget] = []
        self.lock = threading.Lock()

    def run(self, target: PreflightTarget) -> DoctorReport:
        with self.lock:
            self.runs.append(target)
        if self.error is not None:
            raise self.error
        checks = [Check("caller-identity", Status.OK, "arn:aws:iam::111122223333:user/admin")]
        if self.failing:
            checks.append(
                Check(
                    "role-trust",
                    Status.FAIL,
                    "the trust policy does not name export.workmail.amazonaws.com",
                    "aws iam update-assume-role-policy --role-name WorkMailExport ...",
                )
            )
        return DoctorReport(target, tuple(checks))


def app_with(tmp_path: Path, preflight: FakePreflight, jobs: list[ExportJob]) -> WmtuiApp:
    settings = Settings(
        config_dir=tmp_path / "config",
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        region=REGION,
        interval=30.0,
        clipboard="osc52",
    )
    watchlist = WatchList(tmp_path / "config" / "watchlist.json")
    watchlist.add([job.key for job in jobs])
    service = FakeService(jobs, mailboxes=people(4))
    app = WmtuiApp(
        service,
        watchlist,
        JobCache(tmp_path / "cache" / "jobs.json"),
        settings,
        clock=fixed_clock,
        preflight=preflight,
    )
    app.cursor_blink = False
    return app


async def fill_start_form(app: WmtuiApp, pilot: Pilot[Any]) -> None:
    await pilot.press("n")
    await settle(app, pilot)
    assert isinstance(app.screen, StartExportScreen)
    await pilot.press(*"ann", "enter")
    for selector, value in (
        ("#start-bucket", "wm-export"),
        ("#start-prefix", "pre-shutdown/"),
        ("#start-role_arn", ROLE),
        ("#start-kms_key_arn", KMS),
    ):
        app.screen.query_one(selector, Input).value = value
        await pilot.pause()
    await pilot.press("ctrl+s")
    await settle(app, pilot)


async def test_a_first_start_shows_the_failures_and_starts_anyway_on_s(tmp_path: Path) -> None:
    preflight = FakePreflight()
    app = app_with(tmp_path, preflight, standard_jobs())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await fill_start_form(app, pilot)
        gate = app.screen
        assert isinstance(gate, DoctorScreen)
        shown = static_text(gate, "#doctor-report")
        assert "FAIL" in shown and "does not name export.workmail.amazonaws.com" in shown
        assert "update-assume-role-policy" in shown
        assert "caller-identity" not in shown, "only what is wrong"
        await pilot.press("s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")  # No: back to the form
        await settle(app, pilot)
        # The same destination again: no second check, straight to the confirmation.
        assert isinstance(app.screen, StartExportScreen)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
    assert [t.prefix for t in preflight.runs] == ["pre-shutdown/"]
    assert preflight.runs[0] == PreflightTarget(
        REGION, ORG, "wm-export", "pre-shutdown/", ROLE, KMS
    )


async def test_escape_on_the_failures_goes_back_to_the_form_as_it_was(tmp_path: Path) -> None:
    app = app_with(tmp_path, FakePreflight(), standard_jobs())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await fill_start_form(app, pilot)
        assert isinstance(app.screen, DoctorScreen)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, StartExportScreen)
        assert app.screen.query_one("#start-role_arn", Input).value == ROLE


async def test_a_passing_setup_goes_straight_to_the_confirmation(tmp_path: Path) -> None:
    preflight = FakePreflight(failing=False)
    app = app_with(tmp_path, preflight, standard_jobs())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await fill_start_form(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
    assert len(preflight.runs) == 1


async def test_checks_that_cannot_run_warn_and_let_the_start_go_on(tmp_path: Path) -> None:
    error = ServiceError(ErrorKind.NO_CREDENTIALS, "no AWS credentials found", "aws configure")
    app = app_with(tmp_path, FakePreflight(error=error), standard_jobs())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await fill_start_form(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert any("could not be checked: no AWS credentials found" in n for n in notices(app))


async def test_the_organization_export_is_checked_before_it_starts(tmp_path: Path) -> None:
    preflight = FakePreflight()
    app = app_with(tmp_path, preflight, standard_jobs())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("E")
        await settle(app, pilot)
        assert isinstance(app.screen, ExportFormScreen)
        for name, value in (
            ("bucket", "wm-export"),
            ("prefix", "org/"),
            ("role_arn", ROLE),
            ("kms_key_arn", KMS),
        ):
            app.screen.query_one(f"#export-{name}", Input).value = value
            await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, DoctorScreen)
        await pilot.press("s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert not isinstance(app.screen, ExportProgressScreen)
    assert [t.prefix for t in preflight.runs] == ["org/"]


async def test_d_shows_the_full_report_for_the_selected_jobs_destination(
    tmp_path: Path,
) -> None:
    jobs = standard_jobs()
    preflight = FakePreflight()
    app = app_with(tmp_path, preflight, jobs)
    # What the job's list record lacks comes from the destination remembered for its org.
    remember_destination(
        tmp_path / "config", REGION, ORG, Destination("wm-export", "org/", ROLE, KMS)
    )
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        selected = jobs[0]
        table(app).select_key(str(selected.key))
        await pilot.pause()
        await pilot.press("D")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, DoctorScreen), notices(app)
        shown = static_text(screen, "#doctor-report")
        assert "caller-identity" in shown and "role-trust" in shown, "every check"
        assert "wmtui doctor" in static_text(screen, "#doctor-target")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DoctorScreen)
    assert preflight.runs[0].organization_id == selected.key.organization_id
    assert preflight.runs[0].role_arn in (selected.role_arn, ROLE)


async def test_a_failed_job_names_the_likely_cause_and_the_doctor_command(
    tmp_path: Path,
) -> None:
    jobs = standard_jobs()
    failed = next(j for j in jobs if j.state is JobState.FAILED)
    jobs = [
        replace(failed, error_info="The role could not be assumed by the export service")
        if j is failed
        else j
        for j in jobs
    ]
    app = app_with(tmp_path, FakePreflight(), jobs)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(failed.key))
        await pilot.pause()
        shown = " ".join(detail(app).split())
        assert "Likely cause: WorkMail could not assume the role" in shown
        assert f"wmtui doctor {failed.key.organization_id}" in shown
    assert key(1) != failed.key


async def test_d_checks_a_described_jobs_own_destination(tmp_path: Path) -> None:
    jobs = standard_jobs()
    preflight = FakePreflight(failing=False)
    app = app_with(tmp_path, preflight, jobs)
    app.describe_delay = 0
    # Remembered for the organization, but the job's own destination wins once it is read.
    remember_destination(
        tmp_path / "config", REGION, ORG, Destination("other-bucket", "org/", ROLE, KMS)
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(jobs[1].key))
        await settle(app, pilot)
        await pilot.press("D")
        await settle(app, pilot)
        assert isinstance(app.screen, DoctorScreen)
    assert preflight.runs == [
        PreflightTarget(
            REGION, ORG, "wm-export", "exports", jobs[1].role_arn or "", jobs[1].kms_key_arn or ""
        )
    ]


def test_the_failures_before_a_first_start_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    """What a person sees when the doctor finds the set-up broken: only what failed, each
    with its fix, and the two ways on."""
    from test_snapshots import until_still

    app = app_with(tmp_path, FakePreflight(), standard_jobs())
    app.describe_delay = 0

    async def run_before(pilot: Pilot[Any]) -> None:
        await until_still(app, pilot)
        await fill_start_form(app, pilot)
        await until_still(app, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
