"""The organization-wide export (`E`): a form, then a progress view driven by a thread worker.

The worker ticks `wmtui.core.export.OrgExport` (one round: a list sweep and a start per free
slot), posts what changed, and waits `progress.suggested_delay(...)` before the next round; a
stop request (leaving the screen, quitting) ends the wait at once. The engine saves its state
after every step, so leaving and coming back with the same destination resumes the export, and
so does the CLI's `wmtui export-org` with the same arguments. Every job it starts is posted to
the app, which adds it to the watch list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Log, ProgressBar, Static
from textual.worker import get_current_worker

from wmtui.core.destinations import (
    Destination,
    description_problem,
    organization_problem,
    region_problem,
)
from wmtui.core.export import (
    SERVICE_MAX_RUNNING,
    ExportProgress,
    ExportSpec,
    ExportStateError,
    MailboxRecord,
    MailboxStatus,
    OrgExport,
    round_events,
)
from wmtui.core.models import ExportJob, JobKey, JobState, ValidationError
from wmtui.core.service import ExportService, ServiceError
from wmtui.ui.messages import ExportHalted, ExportJobsStarted, ExportTicked
from wmtui.ui.safe_text import safe_text, sanitize
from wmtui.ui.screens.form import (
    DESTINATION_CHECKS,
    DESTINATION_FIELDS,
    DestinationFormScreen,
    destination_rows,
    field_errors,
    field_row,
    organization_of,
    organization_rows,
    review_buttons,
    show_errors,
)
from wmtui.ui.widgets.cells import Palette, short_span

PREFIX = "export"
FIELDS: tuple[str, ...] = (
    "region",
    "organization",
    "bucket",
    "prefix",
    "role_arn",
    "kms_key_arn",
    "max_running",
    "description",
)
# Seconds between rounds when nothing is expected sooner (the engine's CLI default).
POLL_INTERVAL = 15.0
# Never sooner than this, even when a job looks about to end.
MIN_INTERVAL = 2.0
# The log keeps this many lines; the state file keeps everything.
LOG_LINES = 500
# How long a new run waits for the one left a moment ago to let go of the export's lock.
LOCK_HANDOVER_SECONDS = 30.0

# Waits `seconds` or until the event is set (tests pass one that moves an emulator's clock).
ExportWait = Callable[[float, threading.Event], None]


def wait_or_stop(seconds: float, stop: threading.Event) -> None:
    stop.wait(seconds)


# ---- the form ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportCheck:
    errors: dict[str, str]
    spec: ExportSpec | None = None

    @property
    def ok(self) -> bool:
        return self.spec is not None and not self.errors

    @property
    def result(self) -> ExportSpec | None:
        return self.spec if self.ok else None


def max_running_problem(value: str) -> str | None:
    try:
        number = int(value)
    except ValueError:
        return f"at most how many exports run at once: a number from 1 to {SERVICE_MAX_RUNNING}"
    if not 1 <= number <= SERVICE_MAX_RUNNING:
        return (
            f"at most {SERVICE_MAX_RUNNING} exports run at once in an organization"
            f" (WorkMail's limit); got {number}"
        )
    return None


def check_export_form(
    values: Mapping[str, str], *, endpoint_url: str | None = None, require_all: bool = False
) -> ExportCheck:
    """Check every field as the engine will (ExportSpec.validate), each error by its field."""
    checks: dict[str, Callable[[str], str | None]] = {
        "region": lambda value: region_problem(value, endpoint_url=endpoint_url),
        "organization": organization_problem,
        **DESTINATION_CHECKS,
        "max_running": max_running_problem,
    }
    errors = field_errors(values, checks, require_all=require_all)
    found = description_problem(values.get("description", ""))
    if found is not None:
        errors["description"] = found
    if errors or not all(values.get(name) for name in checks):
        return ExportCheck(errors)
    spec = ExportSpec(
        region=values["region"],
        organization_id=values["organization"],
        bucket=values["bucket"],
        prefix=values["prefix"],
        role_arn=values["role_arn"],
        kms_key_arn=values["kms_key_arn"],
        max_running=int(values["max_running"]),
        description=values.get("description", ""),
    )
    try:
        spec.validate(endpoint_url=endpoint_url)
    except ValidationError as exc:
        # The engine's rule for the whole (e.g. the generated description) has the last word.
        return ExportCheck({"description": str(exc)})
    return ExportCheck(errors, spec)


class ExportFormScreen(DestinationFormScreen[ExportCheck, ExportSpec]):
    """Dismisses with the export to run, or None when cancelled."""

    PREFIX = PREFIX
    FIELDS = FIELDS

    def __init__(
        self,
        *,
        region: str,
        organization_id: str,
        destination_for: Callable[[str], Destination | None],
        endpoint_url: str | None = None,
        mailbox_count: Callable[[str, str], int | None] | None = None,
        initial: ExportSpec | None = None,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__(
            region, organization_id, initial, destination_for, endpoint_url, cursor_blink
        )
        self._mailbox_count = mailbox_count
        self._initial = initial

    def compose(self) -> ComposeResult:
        spec = self._initial
        with Vertical(id="export-form-dialog", classes="dialog"):
            yield Static(Text("Export every mailbox of an organization"), classes="dialog-title")
            yield Static(
                Text(
                    "Queues every enabled user and resource, keeps up to the chosen number"
                    " running (WorkMail allows 10 per organization), skips a mailbox exported"
                    " in the last 24 hours, retries a failed one. Its state is saved as it goes:"
                    " leave and come back (or run `wmtui export-org`) and it resumes.",
                    style="dim",
                )
            )
            yield from organization_rows(PREFIX, self._region, self._organization_id)
            yield Static(id="export-org-note")
            yield from destination_rows(PREFIX, spec)
            yield from field_row(
                PREFIX,
                "max_running",
                "Max running",
                str(spec.max_running if spec else SERVICE_MAX_RUNNING),
                placeholder=f"1 to {SERVICE_MAX_RUNNING}",
                input_type="integer",
            )
            yield from field_row(
                PREFIX,
                "description",
                "Description",
                spec.description if spec else "",
                placeholder="optional; each job's Description (default: wmtui export-org <id>)",
            )
            yield from review_buttons(PREFIX)

    def on_mount(self) -> None:
        self._apply_cursor_blink()
        self._organization_changed()
        if not self._organization_id:
            self.query_one("#export-organization", Input).focus()
        else:
            first_empty = next(
                (
                    name
                    for name in DESTINATION_FIELDS
                    if not self.query_one(f"#export-{name}", Input).value
                ),
                None,
            )
            target = f"#export-{first_empty}" if first_empty else "#export-submit"
            self.query_one(target).focus()
        self._show(self._check())

    def _organization_changed(self) -> None:
        where = organization_of(self._values(), self._endpoint_url)
        note = self.query_one("#export-org-note", Static)
        if where is None:
            note.update(Text(""))
            return
        region, organization = where
        self._fill_remembered(organization)
        count = self._mailbox_count(region, organization) if self._mailbox_count else None
        if count:
            note.update(Text(f"{count} enabled mailboxes known in this organization.", style="dim"))
        else:
            note.update(Text("Its mailboxes are listed when the export starts.", style="dim"))

    def _check(self) -> ExportCheck:
        return check_export_form(
            self._values(), endpoint_url=self._endpoint_url, require_all=self._tried_submit
        )

    def _show(self, check: ExportCheck) -> None:
        show_errors(self, PREFIX, FIELDS, check.errors)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.input.id in ("export-region", "export-organization"):
            self._organization_changed()
        self._show(self._check())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()


# ---- the progress view -------------------------------------------------------------------------


def started_records(
    spec: ExportSpec, records: Sequence[MailboxRecord], keys: Sequence[JobKey]
) -> list[ExportJob]:
    """Just enough of each started job for the table to name its mailbox before a refresh."""
    by_job = {record.job_id: record for record in records if record.job_id}
    out: list[ExportJob] = []
    for key in keys:
        record = by_job.get(key.job_id)
        if record is None:
            continue
        out.append(
            ExportJob(
                key=key,
                state=JobState.UNKNOWN,
                entity_id=record.entity_id,
                description=spec.job_description,
                role_arn=spec.role_arn,
                kms_key_arn=spec.kms_key_arn,
                s3_bucket_name=spec.bucket,
                s3_prefix=spec.prefix,
            )
        )
    return out


def render_counts(progress: ExportProgress, palette: Palette) -> Text:
    text = Text()
    parts = (
        ("done", progress.done, palette.success),
        ("running", progress.running, palette.accent),
        ("queued", progress.queued, palette.muted),
        ("failed", progress.failed, palette.error if progress.failed else palette.muted),
        ("skipped", progress.skipped, palette.warning if progress.skipped else palette.muted),
    )
    for index, (word, count, style) in enumerate(parts):
        if index:
            text.append("  ·  ", style=palette.muted)
        text.append(f"{count}", style=style + palette.bold)
        text.append(f" {word}")
    text.append(f"   of {progress.total} mailboxes", style=palette.muted)
    if progress.retrying:
        text.append(f"  ({progress.retrying} to retry)", style=palette.warning)
    return text


def render_timing(progress: ExportProgress, palette: Palette) -> Text:
    text = Text()
    if progress.finished:
        text.append("Finished.", style=palette.success + palette.bold)
    elif progress.eta is not None:
        text.append(f"ETA {short_span(progress.eta.total_seconds())}", style=palette.bold)
        text.append(" (at the rate so far)", style=palette.muted)
    else:
        text.append("ETA —", style=palette.bold)
        text.append(" (known once exports finish)", style=palette.muted)
    text.append(
        f"   ·   {progress.organization_running} running in the organization", style=palette.muted
    )
    if progress.waiting and not progress.finished:
        text.append("\nWaiting: ", style=palette.warning + palette.bold)
        text.append(safe_text(progress.waiting, style=palette.warning, limit=200))
    return text


class ExportProgressScreen(ModalScreen[None]):
    """Where the organization-wide export stands, live. Esc or q leaves (the export pauses)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "leave", "Back to jobs"),
    ]

    def __init__(
        self,
        spec: ExportSpec,
        service: ExportService,
        state_path: Path,
        *,
        clock: Callable[[], datetime],
        endpoint_url: str | None = None,
        poll_interval: float = POLL_INTERVAL,
        min_interval: float = MIN_INTERVAL,
        wait: ExportWait = wait_or_stop,
        stop: threading.Event | None = None,
        previous_run: threading.Event | None = None,
        palette: Palette | None = None,
        on_finished: Callable[[OrgExport, ExportProgress], None] | None = None,
    ) -> None:
        super().__init__()
        self.spec = spec
        # Called in the worker's thread once every mailbox is finished (notifications).
        self._on_finished = on_finished
        self._service = service
        self.state_path = state_path
        self._clock = clock
        self._endpoint_url = endpoint_url
        self._poll_interval = poll_interval
        self._min_interval = min_interval
        self._wait = wait
        self.stop = stop or threading.Event()
        # Set when this run's worker has let go of the export (its lock).
        self.done = threading.Event()
        self._previous_run = previous_run
        self._palette = palette or Palette()
        self.last_progress: ExportProgress | None = None
        self.halted: ExportHalted | None = None

    def compose(self) -> ComposeResult:
        spec = self.spec
        # Not a `.dialog`: the whole screen, and its labels sit on their lines.
        with Vertical(id="export-dialog"):
            title = Text("Exporting every mailbox of ")
            title.append(safe_text(spec.organization_id))
            title.append(f" ({sanitize(spec.region)})")
            yield Static(title, classes="dialog-title")
            where = Text("To ", style="dim")
            where.append(safe_text(f"s3://{spec.bucket}/{spec.prefix}", limit=80))
            where.append(f"  ·  up to {spec.running_limit} at once", style="dim")
            # The file's name only: the folder is the data dir, as the confirmation said.
            where.append("  ·  state exports/", style="dim")
            where.append(safe_text(self.state_path.name, style="dim", limit=60))
            yield Static(where, id="export-where")
            yield Static(Text("Starting…", style="dim"), id="export-counts")
            yield ProgressBar(total=1000, show_eta=False, id="export-bar")
            yield Static(id="export-timing")
            yield Static(id="export-problem")
            yield Log(max_lines=LOG_LINES, id="export-log", auto_scroll=True)
            yield Static(
                Text(
                    "Leaving pauses the export; E with the same destination resumes it."
                    " Every job it starts joins the watch list.",
                    style="dim",
                ),
                id="export-hint",
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#export-problem", Static).display = False
        self._log(f"export {self.spec.export_id}")
        self._drive(self.app)

    def on_unmount(self) -> None:
        self.stop.set()

    # ---- the worker --------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="org-export", exit_on_error=False)
    def _drive(self, app: App[object]) -> None:
        worker = get_current_worker()

        def stopped() -> bool:
            return worker.is_cancelled or self.stop.is_set()

        try:
            if self._previous_run is not None:
                self._previous_run.wait(LOCK_HANDOVER_SECONDS)
            self._run(app, stopped)
        except ServiceError as exc:
            self.post_message(ExportHalted(exc.message, exc.fix or None))
        except ExportStateError as exc:
            self.post_message(ExportHalted(exc.problem, exc.fix or None))
        except ValidationError as exc:
            self.post_message(ExportHalted(str(exc)))
        except Exception as exc:  # the export stops; the app and its state file live on
            self.post_message(ExportHalted(f"{type(exc).__name__}: {exc}"))
        finally:
            self.done.set()

    def _run(self, app: App[object], stopped: Callable[[], bool]) -> None:
        export = OrgExport(
            self.spec,
            self._service,
            self.state_path,
            clock=self._clock,
            endpoint_url=self._endpoint_url,
        )
        known: dict[str, tuple[MailboxStatus, str | None, str | None]] = {}
        with export:
            first = True
            while not stopped():
                progress = export.tick()
                records = export.records()
                events = round_events(known, records, progress, first=first)
                # The first round brings every job an earlier run started, too.
                keys = export.job_keys() if first else list(progress.started)
                first = False
                if keys:
                    app.post_message(
                        ExportJobsStarted(keys, started_records(self.spec, records, keys))
                    )
                self.post_message(ExportTicked(progress, events))
                if progress.finished:
                    if self._on_finished is not None:
                        self._on_finished(export, progress)
                    self.post_message(ExportHalted(finished=True))
                    return
                delay = progress.suggested_delay(self._poll_interval, self._min_interval)
                self._wait(delay, self.stop)
        self.post_message(ExportHalted())

    # ---- showing it --------------------------------------------------------------------------

    def _log(self, line: str, at: datetime | None = None) -> None:
        when = (at or self._clock()).strftime("%H:%M:%S")
        self.query_one("#export-log", Log).write_line(f"{when}  {sanitize(line, limit=400)}")

    def on_export_ticked(self, message: ExportTicked) -> None:
        message.stop()
        progress = message.progress
        self.last_progress = progress
        palette = self._palette
        self.query_one("#export-counts", Static).update(render_counts(progress, palette))
        self.query_one("#export-bar", ProgressBar).update(progress=round(progress.fraction * 1000))
        self.query_one("#export-timing", Static).update(render_timing(progress, palette))
        log = self.query_one("#export-log", Log)
        # Follow the newest lines unless the user scrolled up to read (Log alone loses the end
        # when many lines come before a layout).
        following = log.scroll_y >= log.max_scroll_y - 1
        for line in message.events:
            self._log(line, progress.at)
        if following and message.events:
            log.call_after_refresh(log.scroll_end, animate=False)

    def on_export_halted(self, message: ExportHalted) -> None:
        message.stop()
        self.halted = message
        problem = self.query_one("#export-problem", Static)
        if message.finished:
            progress = self.last_progress
            summary = "Export finished"
            if progress is not None:
                summary += (
                    f": {progress.done} done, {progress.failed} failed,"
                    f" {progress.skipped} skipped of {progress.total}"
                )
            self._log(summary)
            return
        if message.problem is None:
            return
        text = Text("✖ The export stopped: ", style=self._palette.error + self._palette.bold)
        text.append(safe_text(message.problem, single_line=False, limit=600))
        if message.fix:
            text.append("\nFix: ", style=self._palette.bold)
            text.append(safe_text(message.fix, single_line=False, limit=400))
        text.append("\nIts state is saved: fix this, then E with the same destination resumes.")
        problem.update(text)
        problem.display = True
        self._log(f"stopped: {message.problem}")

    def action_leave(self) -> None:
        self.stop.set()
        self.dismiss(None)
