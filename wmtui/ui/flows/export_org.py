"""E: export every mailbox of an organization — the form, a confirmation, the progress view.

The export itself runs in the progress screen's worker (resumable from its state file); the
jobs it starts join the watch list, and their endings are told as one summary per refresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.text import Text

from wmtui.core.destinations import Destination, remember_destination
from wmtui.core.export import ExportSpec, ExportStateError, export_state_path, read_export_state
from wmtui.core.models import JobKey
from wmtui.core.preflight import PreflightTarget
from wmtui.ui.flows.preflight import PreflightFlow
from wmtui.ui.flows.start import destination_for, mailbox_count, where_to_start
from wmtui.ui.messages import ExportJobsStarted
from wmtui.ui.notifications import export_finished_notifier
from wmtui.ui.safe_text import safe_text
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.export_org import ExportFormScreen, ExportProgressScreen

if TYPE_CHECKING:
    from wmtui.ui.app import WmtuiApp
    from wmtui.ui.screens.jobs import JobsScreen


class ExportOrgFlow:
    def __init__(self, screen: JobsScreen) -> None:
        self.screen = screen
        self._stops: set[threading.Event] = set()
        # Each state file's last run's "let go" event: a new run waits for the old to end.
        self._runs: dict[Path, threading.Event] = {}
        # Jobs an organization export started this session: their endings are summarised.
        self.started_keys: set[JobKey] = set()

    def open(self, initial: ExportSpec | None = None) -> None:
        screen = self.screen
        if screen.settings.read_only:
            screen.refuse_read_only("export_org")
            return
        region, organization_id = where_to_start(screen)
        screen.app.push_screen(
            ExportFormScreen(
                region=region,
                organization_id=organization_id,
                destination_for=partial(destination_for, screen),
                endpoint_url=screen.settings.endpoint_url,
                mailbox_count=partial(mailbox_count, screen),
                initial=initial,
                cursor_blink=screen.context.cursor_blink,
            ),
            self._planned,
        )

    def state_path(self, spec: ExportSpec) -> Path:
        return export_state_path(self.screen.settings.data_dir, spec)

    def _planned(self, spec: ExportSpec | None) -> None:
        if spec is None:
            return
        target = PreflightTarget(
            spec.region,
            spec.organization_id,
            spec.bucket,
            spec.prefix,
            spec.role_arn,
            spec.kms_key_arn,
        )
        # The first start to a destination: the doctor first, back to the form on its advice.
        PreflightFlow.of(self.screen).before_start(
            target, partial(self._confirm, spec), partial(self.open, spec)
        )

    def _confirm(self, spec: ExportSpec) -> None:
        self.screen.app.push_screen(
            ConfirmScreen(
                "Export the organization?", self._summary(spec), yes_label="Start", wide=True
            ),
            partial(self._confirmed, spec),
        )

    def _summary(self, spec: ExportSpec) -> Text:
        path = self.state_path(spec)
        summary = Text()

        def line(label: str, value: str) -> None:
            summary.append(f"{label:<14}", style="dim")
            summary.append(safe_text(value))
            summary.append("\n")

        line("Organization", f"{spec.organization_id} ({spec.region})")
        count = mailbox_count(self.screen, spec.region, spec.organization_id)
        line("Mailboxes", f"every enabled one ({count} known)" if count else "every enabled one")
        line("Goes to", f"s3://{spec.bucket}/{spec.prefix}")
        line("Role ARN", spec.role_arn)
        line("KMS key ARN", spec.kms_key_arn)
        line("At once", f"up to {spec.running_limit}")
        line("Description", spec.job_description)
        line("State file", str(path))
        try:
            saved = read_export_state(path)
        except ExportStateError as exc:
            saved = None
            summary.append("\n")
            summary.append(safe_text(f"The state file cannot be read: {exc}", single_line=False))
        if saved is not None:
            done = sum(1 for r in saved.records if r.status.value == "completed")
            summary.append(
                f"\nResumes the export saved there: {done} of {len(saved.records)} mailboxes"
                " done so far.",
                style="bold",
            )
        summary.append(
            "\nMailboxes exported in the last 24 hours are skipped; a failed one is retried."
            " Every job started joins the watch list.",
            style="dim",
        )
        return summary

    def _confirmed(self, spec: ExportSpec, yes: bool | None) -> None:
        if not yes:
            self.open(initial=spec)
            return
        screen = self.screen
        destination = Destination(spec.bucket, spec.prefix, spec.role_arn, spec.kms_key_arn)
        if not remember_destination(
            screen.settings.config_dir, spec.region, spec.organization_id, destination
        ):
            screen.notify("Could not save the destination for next time.", markup=False)
        self.run(spec)

    def run(self, spec: ExportSpec) -> ExportProgressScreen:
        """Show the export's progress view and run it (resuming from its state file)."""
        screen = self.screen
        app = cast("WmtuiApp", screen.app)
        path = self.state_path(spec)
        stop = threading.Event()
        self._stops.add(stop)
        progress = ExportProgressScreen(
            spec,
            screen.service,
            path,
            clock=screen.clock,
            endpoint_url=screen.settings.endpoint_url,
            poll_interval=app.export_poll_interval,
            min_interval=app.export_min_interval,
            wait=app.export_wait,
            stop=stop,
            previous_run=self._runs.get(path),
            palette=screen.palette,
            on_finished=export_finished_notifier(app, screen.service, screen.settings),
        )
        self._runs[path] = progress.done
        app.push_screen(progress, lambda _: self._stops.discard(stop))
        return progress

    def jobs_started(self, message: ExportJobsStarted) -> None:
        """The export started jobs: watch them (quietly; the export's view tells of them)."""
        screen = self.screen
        # Their endings are told as one summary per refresh, not one notice (and bell) each.
        self.started_keys.update(message.keys)
        fresh = [key for key in message.keys if not screen.board.is_watched(key)]
        if fresh:
            wanted: Collection[JobKey] = set(fresh)
            records = [record for record in message.records if record.key in wanted]
            screen.watch_jobs(fresh, records=records, announce=False)

    def stop_all(self, wait: float = 0.0) -> None:
        """Tell every export to stop; with `wait`, give their workers that many seconds to
        let go of their locks (callable from any thread: the app's exit after a hang-up)."""
        for stop in list(self._stops):
            stop.set()
        if wait > 0:
            deadline = time.monotonic() + wait
            for done in list(self._runs.values()):
                done.wait(max(0.0, deadline - time.monotonic()))
