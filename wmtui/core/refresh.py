"""The refresh plan: which WorkMail calls one tick needs, run in parallel, merged into results.

The rules (issue 2 section 4, issue 5 item 1):

* Final states (COMPLETED, FAILED, CANCELLED) never change, so a job known to be final is not
  polled again. Two exceptions: a key in `force` (the user asked for that job now), and a FAILED
  job whose ErrorInfo was never read, which is described once (only Describe gives ErrorInfo).
* Candidates are the watched keys never seen, RUNNING or UNKNOWN, or forced, grouped by
  (region, organization). A group gets one ListMailboxExportJobs sweep when its pages are fewer
  than its candidates, else a Describe per candidate (a tie goes to Describe, which also returns
  what List leaves out). A sweep's pages are estimated from that organization's last sweep, else
  from the known jobs it started in the last seven days (100 a page), and are at least one.
* List covers only the last seven days: a candidate known to have started earlier goes straight
  to Describe, and after a sweep every candidate it did not return is described. A candidate the
  sweep returns as newly FAILED gets its one Describe for ErrorInfo.
* Sweeps and describes run on one bounded thread pool, and nothing waits inside the pool (so it
  cannot deadlock). `is_cancelled()` is checked before every call; a cancelled run returns what
  it has.
* Errors never escape. A job's own error (not found, invalid) goes to `job_errors` and the job is
  kept; an organization's (not found, bad state, access denied) to `org_errors`, and that
  organization's other calls are skipped as they would fail the same way; any other sweep error
  is recorded there too, but its candidates fall back to Describe. A connection-wide error
  (credentials, unreachable, timeout, throttled) becomes `global_error` and no new call starts.
  Any exception that is not a ServiceError becomes ServiceError(OTHER).
* `RefreshResult.jobs` holds only the watched keys polled in this tick, each merged over its
  known record (final jobs a sweep happens to return are left out); `applied_to(known)` gives
  the whole picture. `calls` counts requests by operation, a List page each.
"""

from __future__ import annotations

import math
import queue
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from wmtui.core.models import ExportJob, JobKey, JobState, now_utc
from wmtui.core.service import ErrorKind, ExportService, ServiceError

# As many calls at once as the AWS layer keeps connections for (Boto3ExportService: 16), so
# ten organizations are swept in one round of latency.
DEFAULT_WORKERS = 16

LIST_OPERATION = "ListMailboxExportJobs"
DESCRIBE_OPERATION = "DescribeMailboxExportJob"
# ListMailboxExportJobs returns only jobs started in the last seven days.
LIST_WINDOW = timedelta(days=7)
# MaxResults the AWS layer asks for on each List page.
LIST_PAGE_SIZE = 100
# A job this close to leaving the List window may have left it by the time the sweep runs.
WINDOW_MARGIN = timedelta(minutes=10)
# How often the run loop looks at is_cancelled() while calls are in flight.
_CANCEL_POLL_SECONDS = 0.05

OrgKey = tuple[str, str]

# Errors about one organization: every call for it would fail the same way.
_ORGANIZATION_KINDS = frozenset(
    {ErrorKind.ORGANIZATION_NOT_FOUND, ErrorKind.ORGANIZATION_STATE, ErrorKind.ACCESS_DENIED}
)


def _is_global(error: ServiceError) -> bool:
    """Credentials, region, network, throttling: every other call would fail too.

    Access denied is left to the organization: IAM can deny per organization ARN.
    """
    return error.kind.affects_all and error.kind not in _ORGANIZATION_KINDS


def needs_error_info(job: ExportJob | None) -> bool:
    """A FAILED job whose ErrorInfo was never read: it is described once."""
    return (
        job is not None
        and job.state is JobState.FAILED
        and job.error_info is None
        and not job.described
    )


def _org_of(key: JobKey) -> OrgKey:
    return (key.region, key.organization_id)


def _pages_for(job_count: int) -> int:
    """List pages needed for this many jobs: an empty answer is still one page."""
    return max(1, math.ceil(job_count / LIST_PAGE_SIZE))


def _unique(keys: Iterable[JobKey]) -> list[JobKey]:
    return list(dict.fromkeys(keys))


@dataclass(frozen=True)
class RefreshPlan:
    """The calls a tick starts with; describes for what a sweep misses are added as it runs."""

    # (region, organization_id): one ListMailboxExportJobs sweep each.
    sweeps: tuple[OrgKey, ...] = ()
    # DescribeMailboxExportJob each, known to be needed before any sweep answers.
    describes: tuple[JobKey, ...] = ()
    # The candidates each sweep should return; those it does not are described after it.
    sweep_candidates: Mapping[OrgKey, tuple[JobKey, ...]] = field(default_factory=dict)
    # The List pages each sweep is expected to take.
    estimated_pages: Mapping[OrgKey, int] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.sweeps and not self.describes

    @property
    def estimated_calls(self) -> int:
        """Requests the plan expects if every sweep returns all its candidates."""
        pages = sum(self.estimated_pages.get(org, 1) for org in self.sweeps)
        return pages + len(self.describes)


@dataclass
class RefreshResult:
    """What one tick learned. `jobs` holds only records read in this tick."""

    # Updated records for watched keys, each merged over its `known` record.
    jobs: dict[JobKey, ExportJob] = field(default_factory=dict)
    # e.g. JOB_NOT_FOUND for one job: marks that job only, which is kept.
    job_errors: dict[JobKey, ServiceError] = field(default_factory=dict)
    # An organization/region that could not be read.
    org_errors: dict[OrgKey, ServiceError] = field(default_factory=dict)
    # A problem for every job (credentials, unreachable ...).
    global_error: ServiceError | None = None
    # Operation name -> requests made (each List page counts).
    calls: Counter[str] = field(default_factory=Counter)
    finished_at: datetime = field(default_factory=now_utc)
    # True when is_cancelled() stopped the run early: the result is partial.
    cancelled: bool = False
    # With several profiles: a connection-wide error of one profile (by its label). Its
    # organizations have it in `org_errors` too; the other profiles were read as usual.
    profile_errors: dict[str, ServiceError] = field(default_factory=dict)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def applied_to(self, known: Mapping[JobKey, ExportJob]) -> dict[JobKey, ExportJob]:
        """`known` with this tick's records over it; nothing known is ever dropped."""
        merged = dict(known)
        merged.update(self.jobs)
        return merged


class RefreshPlanner:
    """Decides which calls a tick needs. Remembers pages per organization between ticks.

    One planner serves one refresh at a time (the UI's poll worker is exclusive).
    """

    def __init__(self, *, clock: Callable[[], datetime] = now_utc) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._pages: dict[OrgKey, int] = {}

    def remembered_pages(self, region: str, organization_id: str) -> int | None:
        """Pages the organization's last sweep took, if one was made."""
        with self._lock:
            return self._pages.get((region, organization_id))

    def remember_pages(self, region: str, organization_id: str, pages: int) -> None:
        with self._lock:
            self._pages[(region, organization_id)] = max(1, pages)

    def plan(
        self,
        watched: Sequence[JobKey],
        known: Mapping[JobKey, ExportJob],
        force: Collection[JobKey] = (),
    ) -> RefreshPlan:
        now = self._clock()
        # Started before this, List will not (reliably) return it.
        listed_after = now - LIST_WINDOW + WINDOW_MARGIN
        forced = set(force)
        describes: list[JobKey] = []
        groups: dict[OrgKey, list[JobKey]] = {}
        for key in _unique(watched):
            record = known.get(key)
            if needs_error_info(record):
                describes.append(key)
                continue
            if record is not None and record.state.is_final and key not in forced:
                continue
            start = record.start_time if record is not None else None
            if start is not None and start < listed_after:
                describes.append(key)
                continue
            groups.setdefault(_org_of(key), []).append(key)

        estimates = self._estimate_pages(groups.keys(), known, now - LIST_WINDOW)
        sweeps: list[OrgKey] = []
        sweep_candidates: dict[OrgKey, tuple[JobKey, ...]] = {}
        for org, candidates in groups.items():
            if estimates[org] < len(candidates):
                sweeps.append(org)
                sweep_candidates[org] = tuple(candidates)
            else:
                describes.extend(candidates)
        return RefreshPlan(
            sweeps=tuple(sweeps),
            describes=tuple(describes),
            sweep_candidates=sweep_candidates,
            estimated_pages={org: estimates[org] for org in sweeps},
        )

    def _estimate_pages(
        self, orgs: Iterable[OrgKey], known: Mapping[JobKey, ExportJob], recent_after: datetime
    ) -> dict[OrgKey, int]:
        with self._lock:
            estimates = {org: self._pages.get(org, 0) for org in orgs}
        unremembered = {org for org, pages in estimates.items() if pages == 0}
        if unremembered:
            # One pass over what is known, only for organizations never swept by this planner.
            recent: Counter[OrgKey] = Counter()
            for key, job in known.items():
                org = _org_of(key)
                if org in unremembered and job.start_time and job.start_time >= recent_after:
                    recent[org] += 1
            for org in unremembered:
                estimates[org] = _pages_for(recent[org])
        return estimates

    def run(
        self,
        plan: RefreshPlan,
        service: ExportService,
        watched: Sequence[JobKey],
        known: Mapping[JobKey, ExportJob],
        *,
        max_workers: int = DEFAULT_WORKERS,
        is_cancelled: Callable[[], bool] = lambda: False,
    ) -> RefreshResult:
        """Make the plan's calls. Never raises; `is_cancelled` is called from worker threads."""
        run = _RefreshRun(self, plan, service, watched, known, is_cancelled)
        return run.execute(max_workers)

    def refresh(
        self,
        service: ExportService,
        watched: Sequence[JobKey],
        known: Mapping[JobKey, ExportJob],
        force: Collection[JobKey] = (),
        *,
        max_workers: int = DEFAULT_WORKERS,
        is_cancelled: Callable[[], bool] = lambda: False,
    ) -> RefreshResult:
        """Plan and run one tick; each profile's jobs apart, in parallel, when they differ."""
        split = getattr(service, "split_by_profile", None)
        groups = split(watched) if callable(split) else ()
        if isinstance(groups, list) and len(groups) > 1:
            from wmtui.core.profile_refresh import refresh_by_profile

            return refresh_by_profile(
                self, groups, known, force, max_workers=max_workers, is_cancelled=is_cancelled
            )
        try:
            plan = self.plan(watched, known, force)
        except Exception as exc:  # the UI worker must never die
            return RefreshResult(
                global_error=_unexpected(exc, None), finished_at=self._clock(), cancelled=False
            )
        return self.run(
            plan, service, watched, known, max_workers=max_workers, is_cancelled=is_cancelled
        )

    def now(self) -> datetime:
        return self._clock()


def run_refresh(
    service: ExportService,
    watched: Sequence[JobKey],
    known: Mapping[JobKey, ExportJob],
    force: Collection[JobKey] = (),
    *,
    planner: RefreshPlanner | None = None,
    max_workers: int = DEFAULT_WORKERS,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> RefreshResult:
    """One tick with `planner` (a fresh one if None: for a one-off like `wmtui status`)."""
    planner = planner if planner is not None else RefreshPlanner()
    return planner.refresh(
        service, watched, known, force, max_workers=max_workers, is_cancelled=is_cancelled
    )


def _unexpected(exc: BaseException, operation: str | None) -> ServiceError:
    where = f" in {operation}" if operation else ""
    return ServiceError(
        ErrorKind.OTHER,
        f"unexpected error{where}: {type(exc).__name__}: {exc}",
        "this is a bug in wmtui or the service: please report it",
        operation=operation,
    )


@dataclass(frozen=True)
class _Outcome:
    """What one call in the pool came back with; `skipped` when it was never made."""

    operation: str
    org: OrgKey
    key: JobKey | None = None
    listed: list[ExportJob] | None = None
    described: ExportJob | None = None
    error: ServiceError | None = None
    skipped: bool = False


_T = TypeVar("_T")


class _DaemonPool:
    """A small thread pool whose threads never hold up the interpreter's exit.

    ThreadPoolExecutor joins its threads when Python exits, so one call hung on a dead network
    would keep a quitting app alive until its read timeout. Answers of abandoned calls are dropped.
    """

    def __init__(self, max_workers: int, name: str) -> None:
        self._max_workers = max_workers
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []

    def submit(self, fn: Callable[..., _T], *args: Any) -> Future[_T]:
        future: Future[_T] = Future()
        self._queue.put((future, lambda: fn(*args)))
        if len(self._threads) < self._max_workers:
            thread = threading.Thread(
                target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, call = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as exc:
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Cancel what has not started; threads busy with a call end when it returns."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in self._threads:
            self._queue.put(None)


class _RefreshRun:
    """One run of a plan: the pool, the shared stop flags and the result being built."""

    def __init__(
        self,
        planner: RefreshPlanner,
        plan: RefreshPlan,
        service: ExportService,
        watched: Sequence[JobKey],
        known: Mapping[JobKey, ExportJob],
        is_cancelled: Callable[[], bool],
    ) -> None:
        self.planner = planner
        self.plan = plan
        self.service = service
        self.watched = frozenset(watched)
        # Only these are merged from a sweep: final jobs it also returns were not asked about.
        self.polled = frozenset(plan.describes).union(*plan.sweep_candidates.values())
        self.known = known
        self.is_cancelled = is_cancelled
        self.result = RefreshResult()
        # Shared with the pool's threads.
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.stop = threading.Event()
        self.stopped_orgs: set[OrgKey] = set()
        self.cancelled = False
        # Touched by the run loop's thread only.
        self.scheduled: set[JobKey] = set()
        self.pending: set[Future[_Outcome]] = set()
        self.pool: _DaemonPool | None = None

    def execute(self, max_workers: int) -> RefreshResult:
        if not self.plan.is_empty and not self._check_cancelled():
            self.pool = _DaemonPool(max(1, max_workers), "wmtui-refresh")
            try:
                self._loop()
            except Exception as exc:  # a bug here must not kill the UI's worker
                self._set_global(_unexpected(exc, None))
            finally:
                # Queued calls are dropped; calls in flight are not waited for once cancelled.
                self.pool.shutdown()
        with self.lock:
            self.result.calls = Counter(self.calls)
        self.result.cancelled = self.cancelled
        self.result.finished_at = self.planner.now()
        return self.result

    def _loop(self) -> None:
        for org in self.plan.sweeps:
            self._submit_sweep(org)
        for key in self.plan.describes:
            self._submit_describe(key)
        while self.pending:
            if self._check_cancelled():
                # Keep the answers already in; the calls still in flight are not waited for.
                for future in [f for f in self.pending if f.done() and not f.cancelled()]:
                    self._handle(future.result())
                return
            done, not_done = wait(
                self.pending, timeout=_CANCEL_POLL_SECONDS, return_when=FIRST_COMPLETED
            )
            self.pending = set(not_done)
            for future in done:
                self._handle(future.result())

    # --- in the pool's threads -------------------------------------------------------------

    def _check_cancelled(self) -> bool:
        if self.cancelled:
            return True
        try:
            cancelled = bool(self.is_cancelled())
        except Exception:
            cancelled = False
        if cancelled:
            self.cancelled = True
            self.stop.set()
        return cancelled

    def _may_call(self, org: OrgKey) -> bool:
        if self.stop.is_set() or self._check_cancelled():
            return False
        with self.lock:
            return org not in self.stopped_orgs

    def _count(self, operation: str, requests: int) -> None:
        with self.lock:
            self.calls[operation] += requests

    def _sweep(self, org: OrgKey) -> _Outcome:
        if not self._may_call(org):
            return _Outcome(LIST_OPERATION, org, skipped=True)
        self._count(LIST_OPERATION, 1)
        try:
            jobs = list(self.service.list_jobs(*org))
        except Exception as exc:
            return _Outcome(LIST_OPERATION, org, error=self._stop_for(org, exc, LIST_OPERATION))
        # The first page was counted before the call.
        self._count(LIST_OPERATION, _pages_for(len(jobs)) - 1)
        return _Outcome(LIST_OPERATION, org, listed=jobs)

    def _describe(self, key: JobKey) -> _Outcome:
        org = _org_of(key)
        if not self._may_call(org):
            return _Outcome(DESCRIBE_OPERATION, org, key=key, skipped=True)
        self._count(DESCRIBE_OPERATION, 1)
        try:
            job = self.service.describe_job(key)
        except Exception as exc:
            error = self._stop_for(org, exc, DESCRIBE_OPERATION)
            return _Outcome(DESCRIBE_OPERATION, org, key=key, error=error)
        return _Outcome(DESCRIBE_OPERATION, org, key=key, described=job)

    def _stop_for(self, org: OrgKey, exc: Exception, operation: str) -> ServiceError:
        """The error as a ServiceError; stops further calls at once, before the loop sees it."""
        error = exc if isinstance(exc, ServiceError) else _unexpected(exc, operation)
        if _is_global(error):
            self.stop.set()
        elif error.kind in _ORGANIZATION_KINDS:
            with self.lock:
                self.stopped_orgs.add(org)
        return error

    # --- on the run loop's thread ----------------------------------------------------------

    def _submit_sweep(self, org: OrgKey) -> None:
        assert self.pool is not None
        self.pending.add(self.pool.submit(self._sweep, org))

    def _submit_describe(self, key: JobKey) -> None:
        assert self.pool is not None
        if key in self.scheduled or self.stop.is_set():
            return
        with self.lock:
            if _org_of(key) in self.stopped_orgs:
                return
        self.scheduled.add(key)
        self.pending.add(self.pool.submit(self._describe, key))

    def _current(self, key: JobKey) -> ExportJob | None:
        return self.result.jobs.get(key) or self.known.get(key)

    def _set_global(self, error: ServiceError) -> None:
        if self.result.global_error is None:
            self.result.global_error = error
        self.stop.set()

    def _stop_org(self, org: OrgKey, error: ServiceError) -> None:
        self.result.org_errors.setdefault(org, error)
        with self.lock:
            self.stopped_orgs.add(org)

    def _handle(self, outcome: _Outcome) -> None:
        if outcome.skipped:
            return
        if outcome.error is not None:
            self._handle_error(outcome, outcome.error)
        elif outcome.listed is not None:
            self._handle_sweep(outcome.org, outcome.listed)
        elif outcome.described is not None and outcome.key is not None:
            self._handle_describe(outcome.key, outcome.described)

    def _handle_error(self, outcome: _Outcome, error: ServiceError) -> None:
        if _is_global(error):
            self._set_global(error)
        elif error.kind in _ORGANIZATION_KINDS:
            self._stop_org(outcome.org, error)
        elif outcome.key is not None:
            self.result.job_errors[outcome.key] = error
        else:
            # The List call itself failed (a bad answer, an odd error): Describe still may work.
            self.result.org_errors.setdefault(outcome.org, error)
            for key in self.plan.sweep_candidates.get(outcome.org, ()):
                self._submit_describe(key)

    def _handle_describe(self, key: JobKey, job: ExportJob) -> None:
        if job.key != key:
            job = replace(job, key=key)
        base = self._current(key)
        self.result.jobs[key] = base.merged_with(job) if base is not None else job

    def _handle_sweep(self, org: OrgKey, listed: list[ExportJob]) -> None:
        self.planner.remember_pages(org[0], org[1], _pages_for(len(listed)))
        returned: set[JobKey] = set()
        for job in listed:
            key = job.key
            if key not in self.polled or key not in self.watched:
                continue
            returned.add(key)
            base = self._current(key)
            merged = base.merged_with(job) if base is not None else job
            if merged.state is JobState.FAILED and merged.error_info is None:
                newly_failed = base is None or base.state is not JobState.FAILED
                if newly_failed:
                    # A Describe made while it ran said nothing about why it failed.
                    merged = replace(merged, described=False)
            self.result.jobs[key] = merged
            if needs_error_info(merged):
                self._submit_describe(key)
        for key in self.plan.sweep_candidates.get(org, ()):
            if key not in returned:
                self._submit_describe(key)
