"""The organization export's engine: one `tick` reads the organization's jobs, brings every
mailbox up to date and starts as many as there are free slots; `run` ticks until done."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

from wmtui.core.export.pacing import Pacing, RetryPolicy
from wmtui.core.export.planning import (
    copy_job_fields,
    due_to_start,
    follow_elsewhere,
    job_for,
    jobs_by_name,
    mark_started,
    queue_mailboxes,
    skip_if_exported_recently,
    skipped_for_elsewhere,
    unmatched_selectors,
    waiting_to_start,
)
from wmtui.core.export.progress import ExportProgress, ProgressMeter, next_event_in
from wmtui.core.export.spec import ExportSpec, client_token
from wmtui.core.export.state import (
    ExportLock,
    ExportSnapshot,
    ExportStateError,
    MailboxRecord,
    MailboxStatus,
    StateWriter,
    read_export_state,
)
from wmtui.core.models import ExportJob, JobKey, JobState, StartRequest, now_utc
from wmtui.core.service import ExportService, ServiceError


class OrgExport:
    """The organization-wide export, one `tick` at a time. Not thread-safe: drive it from one
    thread (the CLI's loop or one TUI worker)."""

    def __init__(
        self,
        spec: ExportSpec,
        service: ExportService,
        state_path: Path,
        *,
        clock: Callable[[], datetime] = now_utc,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 2,
        retry_backoff: timedelta = timedelta(minutes=1),
        limit_wait: timedelta = timedelta(seconds=30),
        transient_backoff: timedelta = timedelta(seconds=5),
        max_backoff: timedelta = timedelta(minutes=15),
        endpoint_url: str | None = None,
    ) -> None:
        self.spec = spec.validate(endpoint_url=endpoint_url)
        self.service = service
        self.state_path = state_path
        self.policy = RetryPolicy(
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            limit_wait=limit_wait,
            transient_backoff=transient_backoff,
            max_backoff=max_backoff,
        )
        self._clock = clock
        self._sleep = sleep
        self._records: dict[str, MailboxRecord] = {}
        self._writer = StateWriter(state_path)
        self._lock = ExportLock(state_path)
        self._created: datetime | None = None
        self._opened = False
        self._mailboxes_listed = False
        self._unmatched: tuple[str, ...] = ()
        self._any_start_succeeded = False
        # The jobs the tick running now has read, by key (see ExportProgress.jobs).
        self._read: dict[JobKey, ExportJob] = {}
        self._pacing = Pacing(self.policy)
        self._organization_running = 0
        self._meter = ProgressMeter()

    @property
    def export_id(self) -> str:
        return self.spec.export_id

    # -- lifetime ----------------------------------------------------------------------------

    def __enter__(self) -> OrgExport:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Take the export's lock and read its state (tick does this by itself)."""
        if self._opened:
            return
        self._lock.take()
        try:
            snapshot = read_export_state(self.state_path)
        except BaseException:
            self.close()
            raise
        if snapshot is not None:
            stored = snapshot.spec
            if stored.export_id != self.spec.export_id or (
                stored.region,
                stored.organization_id,
                stored.bucket,
                stored.prefix,
            ) != (self.spec.region, self.spec.organization_id, self.spec.bucket, self.spec.prefix):
                self.close()
                raise ExportStateError(
                    self.state_path,
                    "belongs to another export (organization, bucket or prefix differ)",
                    "give this export its own state file",
                )
            self._records = {r.entity_id: r for r in snapshot.records}
            self._created = snapshot.created
            self._any_start_succeeded = any(r.job_ids for r in snapshot.records)
        self._opened = True

    def close(self) -> None:
        """Let go of the lock. The state on disk is always current; nothing else to do."""
        self._lock.release()
        self._opened = False

    # -- reading -----------------------------------------------------------------------------

    def records(self) -> list[MailboxRecord]:
        """Every mailbox of the export (copies), in the order they are queued."""
        return [record.copy() for record in self._records.values()]

    def job_keys(self) -> list[JobKey]:
        """Every job this export started (for the watch list and the report)."""
        return [
            JobKey(self.spec.region, self.spec.organization_id, job_id)
            for record in self._records.values()
            for job_id in record.job_ids
        ]

    def snapshot(self) -> ExportSnapshot:
        """The export as it stands (for `build_report`), without reading the file again."""
        return ExportSnapshot(
            path=self.state_path,
            export_id=self.export_id,
            spec=self.spec,
            created=self._created,
            updated=self._clock(),
            records=tuple(self.records()),
        )

    # -- acting ------------------------------------------------------------------------------

    def retry_failed(self) -> int:
        """Queue every FAILED mailbox again, with a fresh attempt; returns how many."""
        self.open()
        count = 0
        for record in self._records.values():
            if record.status is MailboxStatus.FAILED:
                record.status = MailboxStatus.QUEUED
                if record.job_id in record.job_ids and record.job_state in ("FAILED", "CANCELLED"):
                    # A job ended badly: a new attempt, a new token. A refused start keeps
                    # its token: sending it again cannot make a second job.
                    record.attempt += 1
                record.not_before = None
                record.start_errors = 0
                record.limit_waits = 0
                count += 1
        if count:
            self._save()
        return count

    def tick(self) -> ExportProgress:
        """One round: read the organization's jobs, bring every mailbox up to date, start as
        many as there are free slots. Never sleeps."""
        self.open()
        now = self._clock()
        started: list[JobKey] = []
        self._read = {}
        if self._pacing.calls_paused(now):
            return self._progress(now, started)
        try:
            if not self._mailboxes_listed:
                self._list_mailboxes(now)
            jobs = self.service.list_jobs(self.spec.region, self.spec.organization_id)
        except ServiceError as exc:
            self._pacing.transient_or_raise(exc, now)
            return self._progress(now, started)
        self._read = {job.key: job for job in jobs}
        self._pacing.swept()
        changed = self._reconcile(jobs, now)
        if changed:
            self._save()
        try:
            self._start_some(now, started)
        except ServiceError as exc:
            self._pacing.transient_or_raise(exc, now)
        return self._progress(now, started)

    def run(
        self,
        *,
        until_done: bool = True,
        poll_interval: float = 15.0,
        min_poll_interval: float = 2.0,
        on_progress: Callable[[ExportProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> ExportProgress:
        """Tick until every mailbox is finished (or, with `until_done=False`, until every
        mailbox has been started), or `should_stop()`. Returns the last progress; raises what
        `tick` raises. Ticks come every `poll_interval` seconds, sooner (down to
        `min_poll_interval`) when a running job is about to end, so its slot is refilled
        without waiting out a whole interval."""
        stop = should_stop or (lambda: False)
        while True:
            progress = self.tick()
            if on_progress is not None:
                on_progress(progress)
            if progress.finished or (not until_done and progress.all_started) or stop():
                return progress
            delay = progress.suggested_delay(poll_interval, min_poll_interval)
            paused_until = self._pacing.calls_paused_until
            if paused_until is not None:
                pause = (paused_until - self._clock()).total_seconds()
                delay = max(delay, pause)
            self._pause(delay, stop)

    def _pause(self, seconds: float, stop: Callable[[], bool]) -> None:
        # In slices, so a stop request is seen within a second.
        remaining = seconds
        while remaining > 0 and not stop():
            step = min(1.0, remaining)
            self._sleep(step)
            remaining -= step

    # -- the round ---------------------------------------------------------------------------

    def _list_mailboxes(self, now: datetime) -> None:
        mailboxes = self.service.list_mailboxes(self.spec.region, self.spec.organization_id)
        if self.spec.only is not None:
            self._unmatched = unmatched_selectors(self.spec, mailboxes)
        queue_mailboxes(self.spec, self._records, mailboxes)
        if self._created is None:
            self._created = now
        self._mailboxes_listed = True
        self._save()

    def _reconcile(self, jobs: Sequence[ExportJob], now: datetime) -> bool:
        """Bring every record up to date with the sweep. Returns whether anything that must be
        saved changed."""
        by_id = {job.job_id: job for job in jobs}
        by_name = jobs_by_name(jobs)
        self._organization_running = sum(1 for job in jobs if job.state is JobState.RUNNING)
        changed = False
        for record in self._records.values():
            before = record.copy()
            if record.status is MailboxStatus.RUNNING and record.job_id:
                seen = by_id.get(record.job_id)
                if seen is None:
                    # Not in the list (just started, or older than its seven days): ask for it.
                    seen = self._describe(record.job_id)
                    if seen is not None and seen.state is JobState.RUNNING:
                        self._organization_running += 1
                if seen is not None:
                    self._apply_job(record, seen, now)
            elif record.status is MailboxStatus.STARTING:
                # The answer to a start we sent may have been lost: the list shows its job.
                match = job_for(record, by_name, since=record.starting_at, exclude=record.job_ids)
                if match is not None:
                    self._adopt(record, match, now)
            elif record.status is MailboxStatus.QUEUED:
                skip_if_exported_recently(record, by_name, now)
            elif skipped_for_elsewhere(record):
                follow_elsewhere(record, by_id)
            # A job's EstimatedProgress moving is not worth a write (resuming does not need
            # it): only what a restart would act on is saved at once.
            if record != before and replace(record, progress=before.progress) != before:
                changed = True
        return changed

    def _adopt(self, record: MailboxRecord, job: ExportJob, now: datetime) -> None:
        record.job_id = job.job_id
        if job.job_id not in record.job_ids:
            record.job_ids.append(job.job_id)
        record.status = MailboxStatus.RUNNING
        self._any_start_succeeded = True
        self._apply_job(record, job, now)

    def _describe(self, job_id: str) -> ExportJob | None:
        key = JobKey(self.spec.region, self.spec.organization_id, job_id)
        try:
            job = self.service.describe_job(key)
        except ServiceError as exc:
            if exc.kind.affects_all:
                raise
            return None
        listed = self._read.get(key)
        self._read[key] = listed.merged_with(job) if listed is not None else job
        return job

    def _apply_job(self, record: MailboxRecord, job: ExportJob, now: datetime) -> None:
        copy_job_fields(record, job)
        if job.state is JobState.COMPLETED:
            record.status = MailboxStatus.COMPLETED
            record.progress = 100
            record.error = None
        elif job.state is JobState.FAILED:
            info = job.error_info
            if info is None:
                described = self._describe(job.job_id)
                info = described.error_info if described is not None else None
            record.error_info = info
            problem = info or "the job failed and the service gave no reason"
            record.error = f"attempt {record.attempt} failed: {problem}"
            if record.attempt <= self.policy.max_retries:
                record.status = MailboxStatus.QUEUED
                record.not_before = now + self.policy.retry_delay(record.attempt)
                record.attempt += 1
                record.limit_waits = 0
                record.start_errors = 0
            else:
                record.status = MailboxStatus.FAILED
        elif job.state is JobState.CANCELLED:
            # Somebody cancelled it on purpose: not retried behind their back.
            record.status = MailboxStatus.FAILED
            record.error = f"job {job.job_id} was cancelled"
        else:
            record.status = MailboxStatus.RUNNING

    def _start_some(self, now: datetime, started: list[JobKey]) -> None:
        if self._pacing.starts_paused(now):
            return
        running = self._organization_running
        free = self.spec.running_limit - running
        if free <= 0:
            if waiting_to_start(self._records.values()):
                self._pacing.full_reason = (
                    f"{running} exports running in the organization (limit "
                    f"{self.spec.running_limit}): the next starts when one ends"
                )
            return
        batch = due_to_start(self._records.values(), now, free)
        if not batch:
            return
        self._pacing.new_round()
        for record in batch:
            if record.status is MailboxStatus.QUEUED:
                record.status = MailboxStatus.STARTING
                record.starting_at = now
        # Written before any request goes out: a crash from here on leaves "starting".
        self._save()
        try:
            self._send_starts(batch, now, started, running)
        finally:
            self._organization_running = max(self._organization_running, running + len(started))

    def _send_starts(
        self, batch: list[MailboxRecord], now: datetime, started: list[JobKey], running: int
    ) -> None:
        for record in batch:
            request = StartRequest(
                entity_id=record.entity_id,
                s3_bucket_name=self.spec.bucket,
                s3_prefix=self.spec.prefix,
                role_arn=self.spec.role_arn,
                kms_key_arn=self.spec.kms_key_arn,
                description=self.spec.job_description,
                client_token=client_token(self.export_id, record.entity_id, record.attempt),
            )
            try:
                key = self.service.start_job(self.spec.region, self.spec.organization_id, request)
            except ServiceError as exc:
                stop = self._pacing.refused(
                    record, exc, now, running, any_start_succeeded=self._any_start_succeeded
                )
                self._save()
                if stop:
                    return
                continue
            mark_started(record, key)
            self._any_start_succeeded = True
            self._save()
            started.append(key)
            running += 1

    # -- saving and telling ------------------------------------------------------------------

    def _save(self) -> None:
        created = self._created or self._clock()
        self._writer.save(self.spec, created, self._clock(), self._records.values())

    def _progress(self, now: datetime, started: list[JobKey]) -> ExportProgress:
        return self._meter.measure(
            self.export_id,
            self._records.values(),
            now,
            organization_running=self._organization_running,
            started=started,
            waiting=self._pacing.waiting(now),
            unmatched=self._unmatched,
            next_event_in=next_event_in(self._records.values(), now, self._pacing.pauses()),
            jobs=self._read.values(),
        )
