"""The doctor in the app: once per destination before its first start (`n`, `E`), and `D`.

The checks are read-only calls that take a few seconds, made in a thread worker; their answer
comes back on the UI thread. A destination checked once this session is not checked again
before a start (`D` always checks afresh). When the checks cannot run at all (no credentials,
no network) the start goes on with a warning: the doctor never stands between a person and a
start the service itself would take.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from wmtui.core.destinations import remembered_destination
from wmtui.core.preflight import DoctorReport, Preflight, PreflightTarget
from wmtui.core.service import ServiceError
from wmtui.ui.safe_text import sanitize
from wmtui.ui.screens.doctor import DoctorScreen

if TYPE_CHECKING:
    from wmtui.ui.screens.jobs import JobsScreen

Done = Callable[[DoctorReport | None, str | None], None]


class PreflightFlow:
    # One per jobs screen, made when first asked for (the screen is at its size budget).
    _flows: ClassVar[weakref.WeakKeyDictionary[JobsScreen, PreflightFlow]] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    def of(cls, screen: JobsScreen) -> PreflightFlow:
        flow = cls._flows.get(screen)
        if flow is None:
            flow = cls._flows[screen] = cls(screen)
        return flow

    def __init__(self, screen: JobsScreen) -> None:
        self.screen = screen
        self.reports: dict[PreflightTarget, DoctorReport] = {}

    @property
    def preflight(self) -> Preflight | None:
        return self.screen.context.preflight

    def _run(self, target: PreflightTarget, done: Done) -> None:
        """Run the checks in a thread; `done(report, error)` on the UI thread."""
        preflight = self.preflight
        assert preflight is not None
        app = self.screen.app

        def work() -> None:
            report: DoctorReport | None = None
            error: str | None = None
            try:
                report = preflight.run(target)
            except ServiceError as exc:
                error = f"{exc.message} ({exc.fix})" if exc.fix else exc.message
            except Exception as exc:  # a bug or an odd answer must not end the app
                error = f"{type(exc).__name__}: {exc}"
            app.call_from_thread(done, report, error)

        self.screen.run_worker(
            work, thread=True, group="preflight", exit_on_error=False, description="doctor"
        )

    def before_start(
        self, target: PreflightTarget, start: Callable[[], None], back: Callable[[], None]
    ) -> None:
        """Check a destination the first time it is used: `start()` when it passes (or the
        person starts anyway, or it cannot be checked), `back()` to return to the form."""
        if self.preflight is None or target in self.reports:
            start()
            return
        self.screen.notify("Checking the set-up first (read-only)…", markup=False, timeout=8)

        def done(report: DoctorReport | None, error: str | None) -> None:
            if report is None:
                self.screen.notify(
                    f"The set-up could not be checked: {sanitize(error, limit=300)}",
                    severity="warning",
                    markup=False,
                    timeout=10,
                )
                start()
                return
            self.reports[target] = report
            if report.ok:
                start()
                return
            self.screen.app.push_screen(
                DoctorScreen(target, report, gate=True),
                lambda anyway: start() if anyway else back(),
            )

        self._run(target, done)

    def target_for_selected(self) -> PreflightTarget | None:
        """The selected job's organization and destination: the job's own when Describe has
        given all four, else the one remembered for its organization (never a mix)."""
        screen = self.screen
        key = screen.selected_key()
        if key is None:
            return None
        job = screen.board.jobs.get(key)
        described = job is not None and all(
            (job.s3_bucket_name, job.s3_prefix, job.role_arn, job.kms_key_arn)
        )
        if job is not None and described:
            return PreflightTarget(
                key.region,
                key.organization_id,
                job.s3_bucket_name or "",
                job.s3_prefix or "",
                job.role_arn or "",
                job.kms_key_arn or "",
            )
        remembered = remembered_destination(screen.settings.config_dir, key.organization_id)
        if remembered is None or not all(
            (remembered.bucket, remembered.prefix, remembered.role_arn, remembered.kms_key_arn)
        ):
            return None
        return PreflightTarget(
            key.region,
            key.organization_id,
            remembered.bucket,
            remembered.prefix,
            remembered.role_arn,
            remembered.kms_key_arn,
        )

    def open(self) -> None:
        """`D`: the full report for the selected job's organization and destination."""
        screen = self.screen
        if self.preflight is None:
            screen.notify(
                "The doctor checks a real AWS set-up: not in the demo or against an emulator "
                "(run `wmtui doctor` with AWS_ENDPOINT_URL_<SERVICE> set).",
                markup=False,
                timeout=8,
            )
            return
        target = self.target_for_selected()
        if target is None:
            screen.notify(
                "Select a job whose bucket, prefix, role and key are known (press Enter on it "
                "to read them), or start one export with n first.",
                markup=False,
                timeout=8,
            )
            return
        report_screen = DoctorScreen(target)
        screen.app.push_screen(report_screen)

        def done(report: DoctorReport | None, error: str | None) -> None:
            if report is not None:
                self.reports[target] = report
            report_screen.show(report, error)

        self._run(target, done)


def open_doctor(screen: JobsScreen) -> None:
    """The jobs screen's `D`."""
    PreflightFlow.of(screen).open()
