"""Where an organization export stands: counts, the share done, an ETA, when to look again,
and what changed in a round, told in a line a mailbox."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from wmtui.core.export.state import MailboxRecord, MailboxStatus
from wmtui.core.models import ExportJob, JobKey


@dataclass(frozen=True)
class ExportProgress:
    """Where the export stands after a tick."""

    export_id: str
    at: datetime
    total: int
    done: int  # COMPLETED
    running: int  # this export's jobs RUNNING
    queued: int  # not started yet (waiting for a slot, a backoff, or a retry)
    failed: int
    skipped: int
    retrying: int  # of `queued`: mailboxes whose earlier attempt FAILED
    organization_running: int  # RUNNING in the organization, anyone's: the sweep + our starts
    fraction: float  # 0-1; a running job counts by its EstimatedProgress
    eta: timedelta | None  # from the rate observed since this process began; None if unknown
    started: tuple[JobKey, ...] = ()  # jobs started by this tick: add them to the watch list
    waiting: str | None = None  # why nothing starts right now (LimitExceeded, throttling ...)
    unmatched: tuple[str, ...] = ()  # `only` entries that named no mailbox
    # Seconds until something may change: the earliest a running job can end (from its
    # EstimatedProgress), a backoff or a wait runs out. None: nothing to expect.
    next_event_in: float | None = None
    # The organization's jobs as this tick read them (its list, and any Describe over it):
    # for the job cache. Empty when the tick made no call.
    jobs: tuple[ExportJob, ...] = ()

    @property
    def finished(self) -> bool:
        """Every mailbox is completed, failed or skipped."""
        return self.queued == 0 and self.running == 0

    @property
    def all_started(self) -> bool:
        return self.queued == 0

    def suggested_delay(self, poll_interval: float, min_interval: float = 2.0) -> float:
        """How long to wait before the next tick: `poll_interval`, or less when a slot may free
        sooner (a freed slot is only seen by a tick), never under `min_interval`."""
        if self.next_event_in is None:
            return poll_interval
        return max(min_interval, min(poll_interval, self.next_event_in))


# ---- the scheduler -------------------------------------------------------------------------


class ProgressMeter:
    """Turns the records into an `ExportProgress`; the ETA runs from its first reading."""

    def __init__(self) -> None:
        self._first_seen: tuple[datetime, float] | None = None

    def measure(
        self,
        export_id: str,
        records: Collection[MailboxRecord],
        now: datetime,
        *,
        organization_running: int,
        started: Iterable[JobKey],
        waiting: str | None,
        unmatched: tuple[str, ...],
        next_event_in: float | None,
        jobs: Iterable[ExportJob],
    ) -> ExportProgress:
        counts = dict.fromkeys(MailboxStatus, 0)
        retrying = 0
        work = 0.0
        for record in records:
            counts[record.status] += 1
            if record.status.is_final:
                work += 1.0
            elif record.status is MailboxStatus.RUNNING:
                work += min(99, max(0, record.progress or 0)) / 100.0
            elif record.attempt > 1:
                retrying += 1
        total = len(records)
        fraction = work / total if total else 1.0
        return ExportProgress(
            export_id=export_id,
            at=now,
            total=total,
            done=counts[MailboxStatus.COMPLETED],
            running=counts[MailboxStatus.RUNNING],
            queued=counts[MailboxStatus.QUEUED] + counts[MailboxStatus.STARTING],
            failed=counts[MailboxStatus.FAILED],
            skipped=counts[MailboxStatus.SKIPPED],
            retrying=retrying,
            organization_running=organization_running,
            fraction=fraction,
            eta=self._eta(now, fraction),
            started=tuple(started),
            waiting=waiting,
            unmatched=unmatched,
            next_event_in=next_event_in,
            jobs=tuple(jobs),
        )

    def _eta(self, now: datetime, fraction: float) -> timedelta | None:
        if self._first_seen is None:
            self._first_seen = (now, fraction)
        first_at, first_fraction = self._first_seen
        if fraction >= 1.0:
            return timedelta(0)
        if fraction > first_fraction and now > first_at:
            rate = (fraction - first_fraction) / (now - first_at).total_seconds()
            return timedelta(seconds=(1.0 - fraction) / rate)
        return None


def next_event_in(
    records: Iterable[MailboxRecord], now: datetime, pauses: Iterable[datetime | None]
) -> float | None:
    """Seconds until something may change: a running job may end, a backoff or a pause ends."""
    soonest: float | None = None

    def consider(seconds: float) -> None:
        nonlocal soonest
        soonest = seconds if soonest is None else min(soonest, seconds)

    for record in records:
        if record.status is MailboxStatus.RUNNING:
            done = record.progress or 0
            if done <= 0 or record.start_time is None:
                continue
            elapsed = max(0.0, (now - record.start_time).total_seconds())
            # EstimatedProgress is whole percent: at most (p+1)% done, so the job cannot
            # end sooner than this (at its pace so far).
            share = min(100, done + 1)
            consider(elapsed * (100 - share) / share)
        elif record.status is MailboxStatus.QUEUED and record.not_before is not None:
            consider(max(0.0, (record.not_before - now).total_seconds()))
    for until in pauses:
        if until is not None and until > now:
            consider((until - now).total_seconds())
    return soonest


def round_events(
    known: dict[str, tuple[MailboxStatus, str | None, str | None]],
    records: Sequence[MailboxRecord],
    progress: ExportProgress,
    *,
    first: bool,
    head: str | None = None,
) -> list[str]:
    """What happened in a round, for people: each mailbox's change since the last round.

    `known` holds what the last round saw (updated here). The first round only summarises,
    under `head` ("Listed" or "Resumed" when not given).
    """
    events: list[str] = []
    started = {key.job_id for key in progress.started}
    for record in records:
        now = (record.status, record.job_id, record.error)
        before = known.get(record.entity_id)
        known[record.entity_id] = now
        if before == now:
            continue
        label = record.label
        status = record.status
        if status is MailboxStatus.RUNNING and record.job_id in started:
            retry = f", attempt {record.attempt}" if record.attempt > 1 else ""
            events.append(f"started {label} (job {record.job_id}{retry})")
        elif first:
            continue
        elif status is MailboxStatus.COMPLETED:
            events.append(f"{label} completed")
        elif status is MailboxStatus.FAILED:
            events.append(f"{label} FAILED: {record.error or record.error_info or 'no reason'}")
        elif status is MailboxStatus.SKIPPED:
            events.append(f"{label} skipped: {record.reason or '?'}")
        elif (
            status is MailboxStatus.QUEUED
            and record.error
            and before is not None
            and before[2] != record.error
        ):
            events.append(f"{label}: {record.error}")
    if first:
        resumed = progress.done + progress.failed + progress.running
        if head is None:
            head = "Resumed" if resumed > len(started) else "Listed"
        events.insert(
            0,
            f"{head}: {progress.total} mailboxes, {progress.done} done, {progress.running}"
            f" running, {progress.queued} queued, {progress.failed} failed,"
            f" {progress.skipped} skipped",
        )
        if progress.unmatched:
            events.insert(1, "not found: " + ", ".join(progress.unmatched[:10]))
    return events
