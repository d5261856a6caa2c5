"""m: the mailboxes screen, and starting many exports from it within WorkMail's limits.

A start goes the jobs screen's way: one confirmation, StartMailboxExportJob with a fresh client
token, the new job joins the watch list. What cannot start now waits here in a queue: for one
of the organization's 10 slots to free, or for the 24 hours since the mailbox's last export to
pass ("eligible in 3h 10m"). The queue is drained every 30 seconds while the app runs, whatever
screen is shown.
"""

from __future__ import annotations

import contextlib
import uuid
import weakref
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.timer import Timer

from wmtui.core.coverage import (
    MAX_RUNNING,
    CoverageRow,
    cutoff_instant,
    eligible_words,
    plan_starts,
)
from wmtui.core.coverage_read import (
    CoverageData,
    known_organizations,
    read_coverage,
    remember_cutoff,
    remembered_cutoff,
)
from wmtui.core.deadline import Deadline, days_only, deadline_risk_event
from wmtui.core.destinations import Destination, latest_destination, remembered_destination
from wmtui.core.export import find_exports
from wmtui.core.export_list import ExportSummary, export_summaries
from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox, StartRequest
from wmtui.core.notify import Notifier, notify_state_path, problems
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.ui.flows.calls import call_service
from wmtui.ui.flows.start import LIMITS_NOTE, NOTIFY_TIMEOUT, start_refusal, where_to_start
from wmtui.ui.notifications import profile_of
from wmtui.ui.safe_text import safe_text, sanitize
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.coverage_dialogs import OrganizationPicker
from wmtui.ui.screens.mailboxes import MailboxesScreen, MailboxesSource

if TYPE_CHECKING:
    from wmtui.ui.screens.jobs import JobsScreen

# How often the queue is looked at; a refused start (the slots were full after all) waits this.
DRAIN_EVERY = 30.0
RETRY_AFTER = timedelta(minutes=2)
# Seconds between two reads of the saved organization exports for the status line.
EXPORTS_EVERY = 15.0
QueueKey = tuple[str, str, str]


@dataclass
class QueuedStart:
    region: str
    organization_id: str
    mailbox: Mailbox
    destination: Destination
    not_before: datetime | None = None  # None: as soon as a slot is free


class MailboxesFlow:
    # One per jobs screen, made when first asked for (the screen is at its size budget).
    _flows: ClassVar[weakref.WeakKeyDictionary[JobsScreen, MailboxesFlow]] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    def of(cls, screen: JobsScreen) -> MailboxesFlow:
        flow = cls._flows.get(screen)
        if flow is None:
            flow = cls._flows[screen] = cls(screen)
            # Organization exports run by anyone show in the status line, whatever the screen.
            screen.set_interval(EXPORTS_EVERY, flow.read_exports)
            flow.read_exports()
        return flow

    def __init__(self, screen: JobsScreen) -> None:
        self.screen = screen
        self.queue: dict[QueueKey, QueuedStart] = {}
        self.in_flight: set[QueueKey] = set()
        self.deadline: Deadline | None = None
        self.deadline_org: tuple[str, str] | None = None
        # deadline_risk events handed to the notifier in this run (it keeps them for good).
        self.risks_told: set[str] = set()
        self._timer: Timer | None = None
        self._open: MailboxesScreen | None = None
        self.exports: list[ExportSummary] = []

    # ---- the screen ----------------------------------------------------------------------------

    def open(self, chosen: tuple[str, str] | None = None) -> None:
        """The mailboxes of `chosen`, else of the selected job's organization (or the last one
        used); with none of them, the organizations wmtui knows to pick from."""
        screen = self.screen
        region, organization_id = chosen or where_to_start(screen)
        if not organization_id:
            self.pick()
            return
        settings = screen.settings
        names = screen.context.names
        first_read = self._read_early(region, organization_id)
        source = MailboxesSource(
            region=region,
            organization_id=organization_id,
            clock=screen.clock,
            end_of_support=settings.end_of_support,
            cached_mailboxes=lambda: list(names.mailboxes(region, organization_id).values()),
            known_jobs=lambda: list(screen.board.jobs.values()),
            read=partial(self._read, region, organization_id),
            queued=partial(self.queued, region, organization_id),
            start=partial(self.start, region, organization_id),
            read_only=settings.read_only,
            cutoff=cutoff_instant(remembered_cutoff(settings.config_dir, region, organization_id)),
            first_read=first_read,
            pick_organization=self.pick,
            jobs_version=lambda: (screen.board.last_refresh, len(screen.board.jobs)),
            remember_cutoff=partial(self._remember_cutoff, region, organization_id),
        )
        self.deadline_org = (region, organization_id)
        self._open = MailboxesScreen(source, on_deadline=self._deadline_seen)
        screen.app.push_screen(self._open, self._closed)

    def _closed(self, _: None) -> None:
        self._open = None

    def _remember_cutoff(self, region: str, organization_id: str, cutoff: datetime | None) -> None:
        config_dir = self.screen.settings.config_dir
        day = cutoff.date() if cutoff is not None else None
        if not remember_cutoff(config_dir, region, organization_id, day):
            self.screen.notify(
                f"The cut-off applies now but was not saved for next time ({config_dir}).",
                severity="warning",
                markup=False,
            )

    def pick(self) -> None:
        """Ask which organization: those wmtui knows, or one typed."""
        screen = self.screen
        settings = screen.settings
        known = known_organizations(
            watched=screen.board.watched,
            names=screen.context.names,
            config_dir=settings.config_dir,
            exports=[summary.snapshot for summary in self.exports],
        )
        region = where_to_start(screen)[0]
        screen.app.push_screen(OrganizationPicker(known, region), self._picked)

    def _picked(self, chosen: tuple[str, str] | None) -> None:
        if chosen is None:
            return
        if self._open is not None:
            # One mailboxes screen at a time: the new organization's replaces the open one.
            self._open.dismiss(None)
        self.open(chosen)

    def _read_early(self, region: str, organization_id: str) -> Future[CoverageData]:
        """Start the screen's first read now: its List pages wait on the network while the
        screen is built and painted from the names cache (the screen takes the answer)."""
        answer: Future[CoverageData] = Future()
        known = list(self.screen.board.jobs.values())

        def read() -> None:
            try:
                answer.set_result(self._read(region, organization_id, known))
            except BaseException as exc:  # the screen's worker raises it again
                answer.set_exception(exc)

        self.screen.run_worker(read, thread=True, group="coverage-first", exit_on_error=False)
        return answer

    def _read(self, region: str, organization_id: str, known: Sequence[ExportJob]) -> CoverageData:
        """From a worker: the organization's mailboxes and jobs, and the saved exports'."""
        screen = self.screen
        snapshots = find_exports(
            screen.settings.data_dir, region=region, organization_id=organization_id
        )
        return read_coverage(
            screen.service,
            screen.context.names,
            region,
            organization_id,
            known=known,
            snapshots=snapshots,
        )

    def _deadline_seen(self, deadline: Deadline, complete: bool) -> None:
        self.deadline = deadline
        if self.screen.widgets_alive():
            self.screen.update_status()
        if complete and self.deadline_org is not None:
            self._tell_deadline_risk(deadline, *self.deadline_org)

    def _tell_deadline_risk(self, deadline: Deadline, region: str, organization_id: str) -> None:
        """deadline_risk to the notify_command, once (the notifier remembers it across
        restarts and processes); judged only on a complete read, never the cached first paint."""
        screen = self.screen
        settings = screen.settings
        if not settings.notify_command:
            return
        event = deadline_risk_event(
            deadline,
            region=region,
            organization_id=organization_id,
            now=screen.clock(),
            profile=profile_of(screen.service, settings, region, organization_id),
        )
        if event is None or event.id in self.risks_told:
            return
        self.risks_told.add(event.id)
        notifier = Notifier(settings.notify_command, notify_state_path(settings.data_dir))
        app = screen.app

        def deliver() -> None:
            for problem in problems(notifier.send([event])):
                with contextlib.suppress(RuntimeError):  # the app ended meanwhile
                    app.call_from_thread(
                        app.notify, sanitize(problem, limit=300), severity="warning", markup=False
                    )

        screen.run_worker(deliver, thread=True, group="notify", exit_on_error=False)

    def status_text(self) -> tuple[str, bool] | None:
        """The status line's running organization exports and short deadline form (the days
        left alone until an organization is read), and whether the deadline warns."""
        parts = [summary.short() for summary in self.exports if summary.running]
        if self.deadline is not None:
            parts.append(self.deadline.short())
            warning = self.deadline.warning
        else:
            # No organization read yet (m reads one): the days left need no call.
            end_of_support = self.screen.settings.end_of_support
            days, warning = days_only(end_of_support, self.screen.clock())
            parts.append(days)
        return " · ".join(parts), warning

    # ---- organization exports ------------------------------------------------------------------

    def read_exports(self) -> None:
        screen = self.screen
        data_dir = screen.settings.data_dir

        def read() -> None:
            # One reference swapped: the status line, redrawn every second, picks it up.
            self.exports = export_summaries(data_dir)

        screen.run_worker(
            read, thread=True, group="org-exports", exclusive=True, exit_on_error=False
        )

    def queued(self, region: str, organization_id: str) -> dict[str, datetime | None]:
        return {
            entity: item.not_before
            for (r, o, entity), item in self.queue.items()
            if (r, o) == (region, organization_id)
        }

    # ---- starting ------------------------------------------------------------------------------

    def start(
        self, region: str, organization_id: str, rows: Sequence[CoverageRow], running: int
    ) -> None:
        screen = self.screen
        destination = remembered_destination(screen.settings.config_dir, organization_id)
        borrowed = None
        if destination is None:
            # None remembered: where the organization's latest watched export went (shown).
            borrowed = latest_destination(screen.board.jobs.values(), region, organization_id)
            destination = borrowed[1] if borrowed is not None else None
        if destination is None:
            screen.notify(
                "No destination is remembered for this organization: start one export with n"
                " on the jobs screen (or E) to say where exports go, then mark and start here.",
                severity="warning",
                markup=False,
                timeout=12,
            )
            return
        busy = sum(1 for r, o, _ in self.in_flight if (r, o) == (region, organization_id))
        plan = plan_starts(rows, running=running + busy, now=screen.clock())
        summary = self._summary(organization_id, destination, plan.now, plan.queued, plan.refused)
        if borrowed is not None:
            summary.append(
                f"\n\nThe destination, role and KMS key of job {sanitize(borrowed[0])}, the"
                " organization's latest export (none is remembered for it).",
                style="dim",
            )
        if not plan.now and not plan.queued:
            screen.notify(summary.plain.strip(), severity="warning", markup=False, timeout=12)
            return
        title = f"Start {len(plan.now) + len(plan.queued)} export(s)?"
        waiting = [(row, when) for row, when in plan.queued]

        def confirmed(yes: bool | None) -> None:
            if not yes:
                return
            for row in plan.now:
                self._send(QueuedStart(region, organization_id, row.mailbox, destination))
            for row, when in waiting:
                key = (region, organization_id, row.entity_id)
                self.queue[key] = QueuedStart(
                    region, organization_id, row.mailbox, destination, when
                )
            if waiting:
                self._ensure_timer()
            if self._open is not None:  # done with: started or queued, no longer marked
                handled = [row.entity_id for row in plan.now] + [r.entity_id for r, _ in waiting]
                self._open.marked.difference_update(handled)
            self._redraw()

        screen.app.push_screen(
            ConfirmScreen(title, summary, yes_label="Start", wide=True), confirmed
        )

    def _summary(
        self,
        organization_id: str,
        destination: Destination,
        now_rows: Sequence[CoverageRow],
        queued: Sequence[tuple[CoverageRow, datetime | None]],
        refused: Sequence[tuple[CoverageRow, str]],
    ) -> Text:
        clock_now = self.screen.clock()
        text = Text()
        text.append(f"{'Organization':<14}", style="dim")
        text.append(safe_text(organization_id))
        text.append(f"\n{'Goes to':<14}", style="dim")
        text.append(safe_text(f"s3://{destination.bucket}/{destination.prefix}"))
        text.append(f"\n{'Starts now':<14}", style="dim")
        text.append(_names(now_rows) or "—")
        if queued:
            text.append(f"\n{'Queued':<14}", style="dim")
            words = [
                f"{sanitize(row.mailbox.label, limit=30)} ("
                + (eligible_words(when, clock_now) if when else "waiting for a slot")
                + ")"
                for row, when in queued[:8]
            ]
            more = f" and {len(queued) - 8} more" if len(queued) > 8 else ""
            text.append(", ".join(words) + more)
        for _, why in refused[:5]:
            text.append(f"\n{'Not started':<14}", style="dim")
            text.append(safe_text(why, limit=200))
        text.append(
            "\n\n" + LIMITS_NOTE + ". Queued mailboxes start by themselves while wmtui runs;"
            " every new job joins the watch list.",
            style="dim",
        )
        return text

    def _send(self, item: QueuedStart) -> None:
        key = (item.region, item.organization_id, item.mailbox.entity_id)
        self.in_flight.add(key)
        destination = item.destination
        request = StartRequest(
            entity_id=item.mailbox.entity_id,
            s3_bucket_name=destination.bucket,
            s3_prefix=destination.prefix,
            role_arn=destination.role_arn,
            kms_key_arn=destination.kms_key_arn,
            description="wmtui mailboxes",
            client_token=str(uuid.uuid4()),
        )
        service = self.screen.service
        app = self.screen.app

        def answer(job_key: JobKey | None, error: ServiceError | None) -> None:
            app.call_from_thread(self._answered, item, request, job_key, error)

        call_service(
            self.screen,
            lambda: service.start_job(item.region, item.organization_id, request),
            answer,
            group="start",
            description="start an export",
        )

    def _answered(
        self,
        item: QueuedStart,
        request: StartRequest,
        job_key: JobKey | None,
        error: ServiceError | None,
    ) -> None:
        screen = self.screen
        key = (item.region, item.organization_id, item.mailbox.entity_id)
        self.in_flight.discard(key)
        label = sanitize(item.mailbox.label, limit=60)
        if job_key is not None:
            record = ExportJob(
                key=job_key,
                state=JobState.RUNNING,
                raw_state=JobState.RUNNING.value,
                entity_id=request.entity_id,
                description=request.description,
                role_arn=request.role_arn,
                kms_key_arn=request.kms_key_arn,
                s3_bucket_name=request.s3_bucket_name,
                s3_prefix=request.s3_prefix,
                estimated_progress=0,
                start_time=screen.clock(),
            )
            if screen.widgets_alive():
                screen.watch_jobs([job_key], records=[record], announce=False)
            screen.notify(
                f"Started the export of {label}: job {sanitize(job_key.job_id)}.",
                markup=False,
                timeout=NOTIFY_TIMEOUT,
            )
        elif error is not None and error.kind is ErrorKind.LIMIT_EXCEEDED:
            # The slots filled up meanwhile, or the 24 hours are not over: try again later.
            item.not_before = screen.clock() + RETRY_AFTER
            self.queue[key] = item
            self._ensure_timer()
        else:
            screen.notify(start_refusal(label, error), severity="error", markup=False, timeout=15)
        self._redraw()

    # ---- the queue -----------------------------------------------------------------------------

    def _ensure_timer(self) -> None:
        if self._timer is None:
            self._timer = self.screen.set_interval(DRAIN_EVERY, self.drain)

    def running_in(self, region: str, organization_id: str) -> int:
        jobs = self.screen.board.jobs.values()
        running = sum(
            1
            for job in jobs
            if job.state is JobState.RUNNING
            and (job.key.region, job.key.organization_id) == (region, organization_id)
        )
        busy = sum(1 for r, o, _ in self.in_flight if (r, o) == (region, organization_id))
        return running + busy

    def drain(self) -> None:
        """Start what is due, as far as the slots allow (the service says no if they are not)."""
        now = self.screen.clock()
        free: dict[tuple[str, str], int] = {}
        for key, item in sorted(self.queue.items(), key=lambda kv: kv[1].not_before or now):
            if item.not_before is not None and item.not_before > now:
                continue
            org = (item.region, item.organization_id)
            if org not in free:
                free[org] = MAX_RUNNING - self.running_in(*org)
            if free[org] <= 0:
                continue
            free[org] -= 1
            del self.queue[key]
            self._send(item)
        if not self.queue and self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _redraw(self) -> None:
        if self._open is not None:
            self._open.refresh_rows()


def open_mailboxes(screen: JobsScreen) -> None:
    """The jobs screen's `m`: the mailboxes of the selected job's organization."""
    MailboxesFlow.of(screen).open()


def _names(rows: Sequence[CoverageRow]) -> str:
    shown = ", ".join(sanitize(row.mailbox.label, limit=30) for row in rows[:8])
    return shown + (f" and {len(rows) - 8} more" if len(rows) > 8 else "")
