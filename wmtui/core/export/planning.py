"""Which mailboxes an organization export starts, and what the organization's jobs say of them.

Never two jobs for one mailbox by accident: a mailbox with a RUNNING or COMPLETED export in the
last 24 hours (any export, seen in ListMailboxExportJobs) is skipped, and a "starting" mailbox
found on resume is matched to the job the list shows for it before anything is sent again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from wmtui.core.export.pacing import DISABLED_PREFIX
from wmtui.core.export.spec import ExportSpec, mailbox_names
from wmtui.core.export.state import MailboxRecord, MailboxStatus
from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox

# One export per mailbox per 24 hours.
RECENT_EXPORT_WINDOW = timedelta(hours=24)
# A job whose StartTime is this much before our "starting" mark may still be ours (clock skew).
START_MATCH_SKEW = timedelta(minutes=10)
# Reasons a mailbox is skipped that a later run may lift (a wider selection, a re-enabled user).
NOT_SELECTED = "not selected (--only/--exclude)"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

JobsByName = dict[str, list[ExportJob]]


def unmatched_selectors(spec: ExportSpec, mailboxes: Iterable[Mailbox]) -> tuple[str, ...]:
    """The `only` entries that name no mailbox of the organization."""
    if spec.only is None:
        return ()
    named: set[str] = set()
    for mailbox in mailboxes:
        named |= mailbox_names(mailbox)
    return tuple(sorted(s for s in spec.only if s.casefold() not in named))


def queue_mailboxes(
    spec: ExportSpec, records: dict[str, MailboxRecord], mailboxes: Sequence[Mailbox]
) -> None:
    """Bring the records up to date with the organization's mailboxes: new ones queued, disabled
    or unselected ones skipped (until a later run lifts it)."""
    selected = [m for m in mailboxes if spec.selects(m)]
    selected_ids = {m.entity_id for m in selected}
    for mailbox in selected:
        record = records.get(mailbox.entity_id)
        if record is None:
            record = MailboxRecord(entity_id=mailbox.entity_id)
            records[mailbox.entity_id] = record
        record.name = mailbox.name
        record.email = mailbox.email
        record.display_name = mailbox.display_name
        record.kind = mailbox.kind
        state = (mailbox.state or "ENABLED").upper()
        liftable = record.status is MailboxStatus.SKIPPED and (
            record.reason == NOT_SELECTED or (record.reason or "").startswith(DISABLED_PREFIX)
        )
        if state != "ENABLED":
            if record.status is MailboxStatus.QUEUED or liftable:
                record.status = MailboxStatus.SKIPPED
                record.reason = DISABLED_PREFIX + state.lower()
        elif liftable:
            record.status = MailboxStatus.QUEUED
            record.reason = None
    for record in records.values():
        # A selection narrowed since the last run: what has not started stays unstarted.
        if record.entity_id not in selected_ids and record.status is MailboxStatus.QUEUED:
            record.status = MailboxStatus.SKIPPED
            record.reason = NOT_SELECTED


def jobs_by_name(jobs: Iterable[ExportJob]) -> JobsByName:
    """The sweep's jobs by the mailbox they export (case-folded)."""
    by_name: JobsByName = {}
    for job in jobs:
        if job.entity_id:
            by_name.setdefault(job.entity_id.casefold(), []).append(job)
    return by_name


def job_for(
    record: MailboxRecord,
    by_name: JobsByName,
    *,
    since: datetime | None,
    states: tuple[JobState, ...] | None = None,
    exclude: Collection[str] = (),
) -> ExportJob | None:
    """The newest job in the sweep for this mailbox started after `since` (less the skew
    between our clock and the service's)."""
    names = {record.entity_id.casefold()}
    for alias in (record.email, record.name):
        if alias:
            names.add(alias.casefold())
    earliest = since - START_MATCH_SKEW if since is not None else None
    best: ExportJob | None = None
    for name in names:
        for job in by_name.get(name, ()):
            if job.job_id in exclude or (states is not None and job.state not in states):
                continue
            if earliest is not None and (job.start_time is None or job.start_time < earliest):
                continue
            if best is None or (job.start_time or _EPOCH) > (best.start_time or _EPOCH):
                best = job
    return best


def copy_job_fields(record: MailboxRecord, job: ExportJob) -> None:
    record.job_id = job.job_id
    record.job_state = job.raw_state or job.state.value
    record.progress = job.progress
    record.start_time = job.start_time or record.start_time
    record.end_time = job.end_time
    record.s3_bucket_name = job.s3_bucket_name or record.s3_bucket_name
    record.s3_path = job.s3_path or record.s3_path


def skip_if_exported_recently(record: MailboxRecord, by_name: JobsByName, now: datetime) -> None:
    """A queued mailbox with a RUNNING or COMPLETED export in the last 24 hours is skipped."""
    recent = job_for(
        record,
        by_name,
        since=now - RECENT_EXPORT_WINDOW,
        states=(JobState.RUNNING, JobState.COMPLETED),
    )
    if recent is not None:
        record.status = MailboxStatus.SKIPPED
        record.reason = (
            f"exported in the last 24 hours by job {recent.job_id} ({recent.state.value})"
        )
        copy_job_fields(record, recent)


def skipped_for_elsewhere(record: MailboxRecord) -> bool:
    """Skipped for an export somebody else is running (followed until it ends)."""
    return (
        record.status is MailboxStatus.SKIPPED
        and record.job_id is not None
        and record.job_state == JobState.RUNNING.value
        and record.job_id not in record.job_ids
    )


def follow_elsewhere(record: MailboxRecord, by_id: dict[str, ExportJob]) -> None:
    """The mailbox is queued again if the export running elsewhere does not complete."""
    other = by_id.get(record.job_id) if record.job_id is not None else None
    if other is None:
        return
    copy_job_fields(record, other)
    if other.state in (JobState.FAILED, JobState.CANCELLED):
        record.status = MailboxStatus.QUEUED
        record.reason = None
        record.error = (
            f"the export running elsewhere (job {other.job_id}) ended {other.state.value}"
        )
    elif other.state is JobState.COMPLETED:
        record.reason = f"exported in the last 24 hours by job {other.job_id} (COMPLETED)"


def waiting_to_start(records: Iterable[MailboxRecord]) -> bool:
    return any(not r.status.is_final and r.status is not MailboxStatus.RUNNING for r in records)


def due_to_start(records: Iterable[MailboxRecord], now: datetime, free: int) -> list[MailboxRecord]:
    """Up to `free` mailboxes to start now, a start that may already have been sent first (it
    holds a slot already)."""
    due = [
        r
        for r in records
        if r.status in (MailboxStatus.STARTING, MailboxStatus.QUEUED)
        and (r.not_before is None or r.not_before <= now)
    ]
    due.sort(key=lambda r: r.status is not MailboxStatus.STARTING)
    return due[:free]


def mark_started(record: MailboxRecord, key: JobKey) -> None:
    """The service answered a start with its job."""
    record.status = MailboxStatus.RUNNING
    record.job_id = key.job_id
    if key.job_id not in record.job_ids:
        record.job_ids.append(key.job_id)
    record.job_state = JobState.RUNNING.value
    record.progress = 0
    record.error_info = None
    record.limit_waits = 0
    record.start_errors = 0
    record.not_before = None
    record.end_time = None
