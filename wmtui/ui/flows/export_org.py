"""E: export every mailbox of an organization — the form, a confirmation, the progress view;
O: the organization exports, each opening its view.

The export runs in the app's background (`wmtui.ui.org_export_runs`, resumable from its state
file) until it ends or is stopped on purpose; its view only shows it. An export of the same
destination that another process runs (`wmtui export-org`) is shown read-only instead of being
refused. The jobs either starts join the watch list; their endings are told as one summary per
refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.text import Text

from wmtui.core.destinations import Destination, remember_destination
from wmtui.core.export import (
    ExportSpec,
    ExportStateError,
    export_state_path,
    lock_holder,
    read_export_state,
)
from wmtui.core.export_list import ExportSummary, export_summaries
from wmtui.core.models import JobKey
from wmtui.core.preflight import PreflightTarget
from wmtui.ui.flows.mailboxes import MailboxesFlow
from wmtui.ui.flows.preflight import PreflightFlow
from wmtui.ui.flows.start import (
    destination_for,
    mailbox_count,
    profile_choice,
    profile_line,
    use_picked_profile,
    where_to_start,
)
from wmtui.ui.messages import ExportJobsStarted
from wmtui.ui.notifications import export_finished_notifier
from wmtui.ui.org_export_runs import QUIT_WAIT, ExportRun, ExportSource, OrgExportRuns
from wmtui.ui.safe_text import safe_text, sanitize
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.export_org import ExportFormScreen
from wmtui.ui.screens.export_progress import ExportProgressScreen, ask_to_stop
from wmtui.ui.screens.org_exports import OrgExportsScreen

if TYPE_CHECKING:
    from wmtui.ui.app import WmtuiApp
    from wmtui.ui.screens.jobs import JobsScreen


class ExportOrgFlow:
    def __init__(self, screen: JobsScreen) -> None:
        self.screen = screen
        # The app's exports, once asked for on the UI thread (stop_all may come from another).
        self._runs: OrgExportRuns | None = None
        # Jobs an organization export started this session: their endings are summarised.
        self.started_keys: set[JobKey] = set()

    @property
    def runs(self) -> OrgExportRuns:
        if self._runs is None:
            self._runs = cast("WmtuiApp", self.screen.app).export_runs
            self._runs.on_counts_changed = self._counts_changed
        return self._runs

    def _counts_changed(self) -> None:
        """An export's done/total moved, or it started or ended: the status line reads the
        saved exports again now rather than at its next look."""
        if self.screen.widgets_alive():
            MailboxesFlow.of(self.screen).read_exports()

    def open(self, initial: ExportSpec | None = None) -> None:
        screen = self.screen
        if screen.settings.read_only:
            screen.refuse_read_only("export_org")
            return
        region, organization_id = where_to_start(screen)
        form = ExportFormScreen(
            region=region,
            organization_id=organization_id,
            destination_for=partial(destination_for, screen),
            endpoint_url=screen.settings.endpoint_url,
            mailbox_count=partial(mailbox_count, screen),
            initial=initial,
            cursor_blink=screen.context.cursor_blink,
            profiles=profile_choice(screen),
        )
        screen.app.push_screen(form, partial(self._form_done, form))

    def _form_done(self, form: ExportFormScreen, spec: ExportSpec | None) -> None:
        if spec is not None:
            # The doctor, the export's rounds and its jobs' watch-list entries use the pick.
            use_picked_profile(self.screen, form, spec.region, spec.organization_id)
        self._planned(spec)

    def state_path(self, spec: ExportSpec) -> Path:
        return export_state_path(self.screen.settings.data_dir, spec)

    def _planned(self, spec: ExportSpec | None) -> None:
        if spec is None:
            return
        path = self.state_path(spec)
        if self.runs.live_run(path) is not None or self._run_elsewhere(path):
            # Running already, here or in another process: nothing to start, its view shows it.
            self.run(spec)
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
        profile = profile_line(self.screen, spec.region, spec.organization_id)
        if profile is not None:
            line("AWS profile", profile)
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
        """Show the export's view: the run going on here, the one another process runs
        (read-only), or a new run in the app's background (resuming from its state file)."""
        source = self._source_for(spec, self.state_path(spec))
        return self.show(source)

    def show(self, source: ExportSource) -> ExportProgressScreen:
        # Read-only: nothing to resume, so E is not offered.
        resume = None if self.screen.settings.read_only else self.resume
        view = ExportProgressScreen(source, palette=self.screen.palette, resume=resume)
        self.screen.app.push_screen(view)
        return view

    def _run_elsewhere(self, path: Path) -> bool:
        """Another process holds the export's lock (not a run of ours letting go of it)."""
        return path not in self.runs.runs and lock_holder(path).held

    def _source_for(self, spec: ExportSpec, path: Path) -> ExportSource:
        runs = self.runs
        live = runs.live_run(path)
        if live is not None:
            return live
        if self._run_elsewhere(path):
            return runs.follow(spec, path)
        screen = self.screen
        app = cast("WmtuiApp", screen.app)
        previous = runs.runs.get(path)
        run = ExportRun(
            spec,
            path,
            service=screen.service,
            clock=screen.clock,
            endpoint_url=screen.settings.endpoint_url,
            poll_interval=app.export_poll_interval,
            min_interval=app.export_min_interval,
            wait=app.export_wait,
            # A run of ours stopped a moment ago may still hold the lock: wait for it.
            previous_run=previous.done if previous is not None else None,
            on_finished=export_finished_notifier(app, screen.service, screen.settings),
        )
        return runs.start(run)

    # ---- O: the organization exports -----------------------------------------------------------

    def open_list(self) -> None:
        data_dir = self.screen.settings.data_dir
        self.screen.app.push_screen(
            OrgExportsScreen(
                lambda: export_summaries(data_dir),
                where_run=self._where_run,
                open_export=self._open_summary,
                stop_export=self._stop_summary,
                resume_export=(
                    None
                    if self.screen.settings.read_only
                    else lambda summary: self.resume(summary.snapshot.spec)
                ),
            )
        )

    def resume(self, spec: ExportSpec) -> None:
        """E on a paused export (its view or the list): the start's checks and confirmation."""
        if self.screen.settings.read_only:
            self.screen.refuse_read_only("export_org")
            return
        self._planned(spec)

    def _where_run(self, summary: ExportSummary) -> str | None:
        """Who runs it, for the list's row: "here", "pid N" (another process), or None."""
        path = summary.snapshot.path
        run = self.runs.runs.get(path)
        if run is not None and run.running:
            return "here"
        holder = lock_holder(path)
        if not holder.held:
            return None
        return f"pid {holder.pid}" if holder.pid is not None else "pid not known"

    def _open_summary(self, summary: ExportSummary) -> None:
        path = summary.snapshot.path
        run = self.runs.runs.get(path)
        if run is not None and (run.running or not lock_holder(path).held):
            self.show(run)  # ours, running or ended here: its log too
        else:
            self.show(self.runs.follow(summary.snapshot.spec, path))

    def system_commands(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        """The palette: each organization export this session knows, opening its view."""
        seen: set[Path] = set()
        for source in self.runs.sources():
            seen.add(source.state_path)
            yield (
                f"Organization export: {sanitize(source.words())} ({source.state_word()})",
                "Open its progress view",
                partial(self.show, source),
            )
        for summary in MailboxesFlow.of(self.screen).exports:
            if summary.snapshot.path in seen:
                continue
            spec = summary.snapshot.spec
            words = (
                f"{spec.organization_id} ({spec.region}) → s3://{spec.bucket}/{spec.prefix},"
                f" {summary.done}/{summary.total} done"
            )
            state = "running elsewhere" if summary.running else summary.state
            yield (
                f"Organization export: {sanitize(words)} ({state})",
                "Open its progress view (read from its state file)",
                partial(self._open_summary, summary),
            )

    def _stop_summary(self, summary: ExportSummary) -> None:
        run = self.runs.live_run(summary.snapshot.path)
        if run is not None:
            ask_to_stop(self.screen.app, run)

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

    def stop_all(self, wait: float = QUIT_WAIT) -> None:
        """Tell every export this app runs to stop; give their workers up to `wait` seconds to
        let go of their locks (callable from any thread: the app's exit after a hang-up). Each
        resumes from its state file next time."""
        if self._runs is not None:
            self._runs.stop_all(wait)


def open_org_exports(screen: JobsScreen) -> None:
    """O and the palette's "Organization exports": every saved export, running ones first."""
    screen.export_flow.open_list()
