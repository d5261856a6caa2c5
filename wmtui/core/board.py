"""The watched jobs as one model: what is known of each, what kept it from being read.

No Textual and no boto3: the app and `wmtui status` both fold a refresh into a `JobBoard`, so the
rules (a watched job is never dropped, which error a job shows, when the refresh backs off) are
written once. `apply` says what changed, so a view redraws only that.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.core.refresh import RefreshResult
from wmtui.core.service import ServiceError

OrgKey = tuple[str, str]

# Back-off ceiling (seconds) for throttling and network trouble.
MAX_BACKOFF_SECONDS = 300.0


@dataclass
class BoardChange:
    """What one refresh changed on the board."""

    # Jobs whose row may read differently now.
    changed: set[JobKey] = field(default_factory=set)
    # Of those, the ones whose place in the order cannot have changed (see `JobBoard.apply`).
    settled: set[JobKey] = field(default_factory=set)
    # Jobs seen RUNNING in this session that have now COMPLETED or FAILED.
    finished: list[ExportJob] = field(default_factory=list)
    # Jobs known not final (this session or the cache's) that are final now: notifications.
    ended: list[ExportJob] = field(default_factory=list)


class JobBoard:
    """The watched jobs, their last-known records and errors, and the refresh's back-off."""

    def __init__(self, *, interval: float = 30.0) -> None:
        self.interval = interval
        self._watched: list[JobKey] = []
        self._watched_set: set[JobKey] = set()
        # Each watched key's own object: a result's equal key is swapped for it, so the
        # look-ups that follow match by identity instead of comparing.
        self._own: dict[JobKey, JobKey] = {}
        self.jobs: dict[JobKey, ExportJob] = {}
        self.job_errors: dict[JobKey, ServiceError] = {}
        self.org_errors: dict[OrgKey, ServiceError] = {}
        # Jobs an organization's error kept from being read in the last refresh: a job the
        # Describe fallback did read is not among them.
        self.org_blocked: set[JobKey] = set()
        self.global_error: ServiceError | None = None
        # With several profiles: the profiles a connection-wide error stopped (by label).
        self.profile_errors: dict[str, ServiceError] = {}
        # Keys read from the service in this session (not only from the cache).
        self.fresh: set[JobKey] = set()
        self.running: set[JobKey] = set()
        self.regions: list[str] = []
        self.last_refresh: datetime | None = None
        # The last refresh that was not stopped by a problem affecting every job.
        self.last_good_refresh: datetime | None = None
        self.backoff: float | None = None
        self.backoff_reason = ""

    # ---- the watch list ----------------------------------------------------------------------

    @property
    def watched(self) -> list[JobKey]:
        """The watched keys in the watch list's order (the board's own list: do not change it)."""
        return self._watched

    def is_watched(self, key: JobKey) -> bool:
        return key in self._watched_set

    def set_watched(self, keys: Iterable[JobKey]) -> set[JobKey]:
        """Watch exactly `keys`; returns the keys no longer watched (their state is forgotten)."""
        self._watched = list(dict.fromkeys(keys))
        watched = self._watched_set = set(self._watched)
        self._own = {key: key for key in self._watched}
        gone = {key for key in self.jobs if key not in watched}
        gone.update(key for key in self.job_errors if key not in watched)
        for key in gone:
            self.jobs.pop(key, None)
            self.job_errors.pop(key, None)
        self.fresh &= watched
        self.org_blocked &= watched
        self.running &= watched
        self.regions = sorted({key.region for key in self._watched})
        return gone

    def add_records(self, records: Iterable[ExportJob], keys: Collection[JobKey]) -> None:
        """Records this session made or read elsewhere (a start, an import) for `keys`."""
        for record in records:
            if record.key in keys:
                self.jobs[record.key] = record
                self.fresh.add(record.key)

    # ---- what a job shows ----------------------------------------------------------------------

    def error_for(self, key: JobKey, job: ExportJob | None = None) -> ServiceError | None:
        """Its own error, else its organization's when that kept it from being read."""
        if self.job_errors:
            error = self.job_errors.get(key)
            if error is not None:
                return error
        if not self.org_blocked or key not in self.org_blocked:
            return None
        return self.org_errors.get((key.region, key.organization_id))

    def org_error_for(self, key: JobKey) -> ServiceError | None:
        """The organization's error, when it kept this job from being read."""
        if key not in self.org_blocked:
            return None
        return self.org_errors.get((key.region, key.organization_id))

    @property
    def unreadable(self) -> int:
        """How many watched jobs the last refresh could not read."""
        return len(self.job_errors) + len(self.org_blocked - set(self.job_errors))

    def entity_ids(self, jobs: dict[JobKey, ExportJob] | None = None) -> dict[OrgKey, set[str]]:
        """The watched jobs' mailboxes, by organization (what names are wanted for)."""
        return wanted_names(self._watched, self.jobs if jobs is None else jobs)

    def unfinished(self) -> set[JobKey]:
        """Watched jobs not known to be final: what `r` reads again."""
        return {
            key
            for key in self._watched
            if (job := self.jobs.get(key)) is None or not job.state.is_final
        }

    def count(self, dirty: Collection[JobKey] | None) -> None:
        """Keep `running` up to date for the jobs in `dirty` (None: all)."""
        jobs = self.jobs
        if dirty is None:
            dirty = jobs.keys()
            self.running.clear()
        running = self.running
        for key in dirty:
            job = jobs.get(key)
            if job is not None and job.state is JobState.RUNNING:
                running.add(key)
            else:
                running.discard(key)

    # ---- folding in what the service said --------------------------------------------------

    def apply(self, result: RefreshResult, *, by_progress: bool = False) -> BoardChange:
        """Fold a refresh result in. A watched job is never dropped.

        `by_progress`: the view orders by progress, so a changed progress may move a row.
        """
        change = self._apply_jobs(result, by_progress)
        for key, error in result.job_errors.items():
            if key in self._watched_set:
                self.job_errors[key] = error
                change.changed.add(key)
                change.settled.discard(key)
        self._apply_org_errors(result, change)
        self.global_error = result.global_error
        self.profile_errors = dict(result.profile_errors)
        if not result.cancelled:
            self.last_refresh = result.finished_at
            if result.global_error is None:
                self.last_good_refresh = result.finished_at
        self._set_backoff(result)
        self.count(change.changed)
        return change

    def _apply_jobs(self, result: RefreshResult, by_progress: bool) -> BoardChange:
        change = BoardChange()
        own = self._own
        for read_key, job in result.jobs.items():
            key = own.get(read_key)
            if key is None:
                continue  # removed while the refresh ran
            old = self.jobs.get(key)
            if old != job:
                change.changed.add(key)
                # Most refreshes only move running jobs' progress on: their rows keep
                # their place, and re-sorting 10,000 rows is not free.
                if (
                    old is not None
                    and old.state is job.state
                    and old.start_time == job.start_time
                    and (old.last_seen is None) == (job.last_seen is None)
                    and (not by_progress or old.progress == job.progress)
                    and key not in self.job_errors
                ):
                    change.settled.add(key)
                if old is not None and key in self.fresh and _just_finished(old, job):
                    change.finished.append(job)
                if old is not None and not old.state.is_final and job.state.is_final:
                    change.ended.append(job)
                self.jobs[key] = job
            self.fresh.add(key)
            if self.job_errors.pop(key, None) is not None:
                change.changed.add(key)
        return change

    def _apply_org_errors(self, result: RefreshResult, change: BoardChange) -> None:
        touched = set(self.org_errors) | set(result.org_errors)
        self.org_errors = dict(result.org_errors)
        blocked: set[JobKey] = set()
        if touched:
            for key in self._watched:
                org = (key.region, key.organization_id)
                if org not in touched:
                    continue
                change.changed.add(key)
                change.settled.discard(key)
                if org in self.org_errors and key not in result.jobs and not self._is_final(key):
                    blocked.add(key)
        self.org_blocked = blocked

    def _is_final(self, key: JobKey) -> bool:
        known = self.jobs.get(key)
        return known is not None and known.state.is_final

    def apply_described(self, job: ExportJob) -> tuple[bool, ExportJob | None]:
        """Fold one Describe in: (whether the record changed, the job if it just finished)."""
        key = job.key
        if key not in self._watched_set:
            return False, None
        old = self.jobs.get(key)
        merged = old.merged_with(job) if old is not None else job
        if merged == old:
            return False, None
        self.jobs[key] = merged
        self.fresh.add(key)
        self.count([key])
        finished = old is not None and _just_finished(old, merged)
        return True, merged if finished else None

    def _set_backoff(self, result: RefreshResult) -> None:
        transient = [
            error
            for error in (result.global_error, *result.org_errors.values())
            if error is not None and error.kind.is_transient
        ]
        if not transient:
            self.backoff = None
            self.backoff_reason = ""
            return
        base = self.backoff if self.backoff is not None else self.interval
        self.backoff = min(base * 2, MAX_BACKOFF_SECONDS)
        self.backoff_reason = transient[0].kind.value.replace("-", " ")

    @property
    def next_delay(self) -> float:
        """Seconds until the next refresh: the interval, or the back-off after trouble."""
        return self.backoff if self.backoff is not None else self.interval

    def unread_errors(self, read: Collection[JobKey]) -> dict[JobKey, ServiceError]:
        """Each watched job's error after a refresh that read `read`, for a one-shot report.

        A job whose final state is known is not hurt by an error that stopped the reading; a
        global error counts against every other job, as the app's banner says of them all.
        """
        errors: dict[JobKey, ServiceError] = {}
        for key in self._watched:
            if key not in read and not self._is_final(key):
                error = self.global_error or self.org_errors.get((key.region, key.organization_id))
                if error is not None:
                    errors[key] = error
        errors.update((k, e) for k, e in self.job_errors.items() if k in self._watched_set)
        return errors


def _just_finished(old: ExportJob, new: ExportJob) -> bool:
    return not old.state.is_final and new.state in (JobState.COMPLETED, JobState.FAILED)


def wanted_names(
    keys: Sequence[JobKey] | Iterable[JobKey], jobs: dict[JobKey, ExportJob]
) -> dict[OrgKey, set[str]]:
    """The mailboxes of `keys`' jobs, by organization (what names are wanted for)."""
    wanted: dict[OrgKey, set[str]] = {}
    for key in keys:
        job = jobs.get(key)
        if job is not None and job.entity_id:
            wanted.setdefault((key.region, key.organization_id), set()).add(job.entity_id)
    return wanted
