"""The refresh plan's rules, against a small in-memory ExportService.

The exact request counts against the real emulator and a real boto3 client are in
test_refresh_emulator.py; these units pin each rule on its own.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from wmtui.core.models import (
    ExportJob,
    JobKey,
    JobState,
    Mailbox,
    Organization,
    StartRequest,
)
from wmtui.core.refresh import (
    DESCRIBE_OPERATION,
    LIST_OPERATION,
    RefreshPlanner,
    RefreshResult,
    run_refresh,
)
from wmtui.core.service import ErrorKind, ServiceError

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
REGION = "us-east-1"
ORG_A = "m-" + "a" * 32
ORG_B = "m-" + "b" * 32
ORG_C = "m-" + "c" * 32

ListHook = Callable[[str, str], None]
DescribeHook = Callable[[JobKey], None]


def key(org: str, n: int, region: str = REGION) -> JobKey:
    return JobKey(region, org, f"job-{n:05d}")


class FakeExportService:
    """WorkMail's export jobs in memory: List shows the last seven days, 100 a page."""

    target = "fake"

    def __init__(self) -> None:
        self.truth: dict[JobKey, ExportJob] = {}
        self.calls: Counter[str] = Counter()
        self.list_errors: dict[tuple[str, str], BaseException] = {}
        self.describe_errors: dict[JobKey, BaseException] = {}
        self.on_list: ListHook | None = None
        self.on_describe: DescribeHook | None = None
        self._lock = threading.Lock()

    def add(
        self,
        job_key: JobKey,
        state: JobState = JobState.RUNNING,
        *,
        started_ago: timedelta = timedelta(hours=1),
        error_info: str | None = None,
    ) -> ExportJob:
        job = ExportJob(
            key=job_key,
            state=state,
            raw_state=state.value,
            entity_id="user-1",
            description="export",
            role_arn="arn:aws:iam::111122223333:role/export",
            kms_key_arn="arn:aws:kms:us-east-1:111122223333:key/k",
            s3_bucket_name="bucket",
            s3_prefix="exports",
            s3_path=f"bucket/exports/{job_key.job_id}.zip",
            estimated_progress=100 if state.is_final else 40,
            error_info=error_info,
            start_time=NOW - started_ago,
            end_time=NOW if state.is_final else None,
        )
        self.truth[job_key] = job
        return job

    def set_state(self, job_key: JobKey, state: JobState, error_info: str | None = None) -> None:
        self.truth[job_key] = replace(
            self.truth[job_key], state=state, raw_state=state.value, error_info=error_info
        )

    def list_jobs(self, region: str, organization_id: str) -> list[ExportJob]:
        if self.on_list is not None:
            self.on_list(region, organization_id)
        error = self.list_errors.get((region, organization_id))
        listed = [
            replace(
                job,
                role_arn=None,
                kms_key_arn=None,
                s3_prefix=None,
                error_info=None,
                described=False,
                last_seen=NOW,
            )
            for k, job in self.truth.items()
            if (k.region, k.organization_id) == (region, organization_id)
            and job.start_time is not None
            and job.start_time >= NOW - timedelta(days=7)
        ]
        with self._lock:
            self.calls[LIST_OPERATION] += max(1, -(-len(listed) // 100))
        if error is not None:
            raise error
        return listed

    def describe_job(self, job_key: JobKey) -> ExportJob:
        with self._lock:
            self.calls[DESCRIBE_OPERATION] += 1
        if self.on_describe is not None:
            self.on_describe(job_key)
        error = self.describe_errors.get(job_key)
        if error is not None:
            raise error
        if job_key not in self.truth:
            raise ServiceError(
                ErrorKind.JOB_NOT_FOUND,
                f"job {job_key.job_id} not found",
                operation=DESCRIBE_OPERATION,
                code="EntityNotFoundException",
            )
        return replace(self.truth[job_key], described=True, last_seen=NOW)

    def start_job(self, region: str, organization_id: str, request: StartRequest) -> JobKey:
        raise NotImplementedError

    def cancel_job(self, job_key: JobKey, client_token: str | None = None) -> None:
        raise NotImplementedError

    def list_organizations(self, region: str) -> list[Organization]:
        raise NotImplementedError

    def list_mailboxes(self, region: str, organization_id: str) -> list[Mailbox]:
        raise NotImplementedError

    def describe_mailbox(self, region: str, organization_id: str, entity_id: str) -> Mailbox:
        raise NotImplementedError


def planner() -> RefreshPlanner:
    return RefreshPlanner(clock=lambda: NOW)


def seen(service: FakeExportService, keys: Iterable[JobKey]) -> dict[JobKey, ExportJob]:
    """What a previous tick knew: the full records, as if each had been described."""
    return {k: replace(service.truth[k], described=True, last_seen=NOW) for k in keys}


def error(kind: ErrorKind) -> ServiceError:
    return ServiceError(kind, f"{kind.value} happened", "do the thing")


def test_all_final_makes_no_call() -> None:
    service = FakeExportService()
    service.add(key(ORG_A, 1), JobState.COMPLETED)
    service.add(key(ORG_A, 2), JobState.CANCELLED)
    service.add(key(ORG_A, 3), JobState.FAILED, error_info="bucket is public")
    service.add(key(ORG_B, 4), JobState.FAILED)  # described, the service gave no reason
    service.add(key(ORG_B, 5), JobState.COMPLETED, started_ago=timedelta(days=30))
    watched = list(service.truth)
    known = seen(service, watched)

    refresh_planner = planner()
    plan = refresh_planner.plan(watched, known)
    result = refresh_planner.run(plan, service, watched, known)

    assert plan.is_empty
    assert plan.estimated_calls == 0
    assert result.calls == Counter()
    assert service.calls == Counter()
    assert result.jobs == {}
    assert result.global_error is None


def test_nothing_watched_makes_no_call() -> None:
    service = FakeExportService()
    result = planner().refresh(service, [], {})
    assert result.total_calls == 0
    assert service.calls == Counter()


def test_sweep_when_cheaper_than_a_describe_per_candidate() -> None:
    service = FakeExportService()
    many = [key(ORG_A, n) for n in range(5)]
    for k in many:
        service.add(k)
    lone = key(ORG_B, 1)
    service.add(lone)
    watched = [*many, lone]
    known = seen(service, watched)
    for k in many:
        service.set_state(k, JobState.COMPLETED)
    service.set_state(lone, JobState.COMPLETED)

    refresh_planner = planner()
    plan = refresh_planner.plan(watched, known)
    # Five candidates, one page: a sweep. One candidate, one page: a tie goes to Describe.
    assert plan.sweeps == ((REGION, ORG_A),)
    assert plan.describes == (lone,)
    assert plan.estimated_calls == 2

    result = refresh_planner.run(plan, service, watched, known)
    assert result.calls == Counter({LIST_OPERATION: 1, DESCRIBE_OPERATION: 1})
    assert service.calls == result.calls
    assert {k: j.state for k, j in result.jobs.items()} == dict.fromkeys(
        watched, JobState.COMPLETED
    )


def test_pages_estimated_from_recent_known_jobs_then_remembered() -> None:
    service = FakeExportService()
    recent = [key(ORG_A, n) for n in range(250)]
    for k in recent:
        service.add(k, JobState.COMPLETED)
    running = recent[:3]
    for k in running:
        service.set_state(k, JobState.RUNNING)
    known = seen(service, recent)

    refresh_planner = planner()
    # 250 recent jobs known: 3 pages, not fewer than 3 candidates, so Describe each.
    plan = refresh_planner.plan(recent, known)
    assert plan.sweeps == ()
    assert set(plan.describes) == set(running)

    for k in recent[3:4]:
        known[k] = replace(known[k], state=JobState.RUNNING)
    plan = refresh_planner.plan(recent, known)
    assert plan.sweeps == ((REGION, ORG_A),)
    assert plan.estimated_pages == {(REGION, ORG_A): 3}
    result = refresh_planner.run(plan, service, recent, known)
    assert result.calls == Counter({LIST_OPERATION: 3})

    # Back to 3 candidates and no start times to count: a new planner guesses one page and
    # sweeps, this one remembers the sweep took 3 pages and describes.
    bare = {k: replace(j, start_time=None) for k, j in known.items()}
    bare[recent[3]] = replace(bare[recent[3]], state=JobState.COMPLETED)
    assert planner().plan(recent, bare).sweeps == ((REGION, ORG_A),)
    assert refresh_planner.remembered_pages(REGION, ORG_A) == 3
    assert refresh_planner.plan(recent, bare).sweeps == ()


def test_sweep_returns_new_jobs_and_describes_those_older_than_seven_days() -> None:
    service = FakeExportService()
    fresh = [key(ORG_A, n) for n in range(3)]
    for k in fresh:
        service.add(k)
    old = key(ORG_A, 99)
    service.add(old, JobState.COMPLETED, started_ago=timedelta(days=9))
    missing = key(ORG_A, 404)  # a mistyped ID: no such job
    watched = [*fresh, old, missing]

    result = planner().refresh(service, watched, {})

    # Five never-seen keys, one page: one sweep, then a Describe for each it did not return.
    assert result.calls == Counter({LIST_OPERATION: 1, DESCRIBE_OPERATION: 2})
    assert set(result.jobs) == {*fresh, old}
    assert result.jobs[old].state is JobState.COMPLETED
    assert result.jobs[old].described
    assert result.jobs[fresh[0]].state is JobState.RUNNING
    assert result.job_errors[missing].kind is ErrorKind.JOB_NOT_FOUND


def test_a_job_known_to_be_older_than_seven_days_goes_straight_to_describe() -> None:
    service = FakeExportService()
    recent = [key(ORG_A, n) for n in range(3)]
    for k in recent:
        service.add(k)
    ancient = key(ORG_A, 50)
    service.add(ancient, started_ago=timedelta(days=8))  # still running after 8 days
    watched = [*recent, ancient]
    known = seen(service, watched)

    refresh_planner = planner()
    plan = refresh_planner.plan(watched, known)

    assert plan.sweeps == ((REGION, ORG_A),)
    assert plan.sweep_candidates[(REGION, ORG_A)] == tuple(recent)
    assert plan.describes == (ancient,)
    result = refresh_planner.run(plan, service, watched, known)
    assert result.calls == Counter({LIST_OPERATION: 1, DESCRIBE_OPERATION: 1})
    assert set(result.jobs) == set(watched)


def test_newly_failed_is_described_once_for_its_error_info_then_never_again() -> None:
    service = FakeExportService()
    jobs = [key(ORG_A, n) for n in range(4)]
    for k in jobs:
        service.add(k)
    known = seen(service, jobs)
    service.set_state(jobs[0], JobState.FAILED, error_info="KMS key disabled")
    service.set_state(jobs[1], JobState.FAILED)  # the service says nothing about why
    service.set_state(jobs[2], JobState.COMPLETED)

    refresh_planner = planner()
    result = refresh_planner.run(refresh_planner.plan(jobs, known), service, jobs, known)

    assert result.calls == Counter({LIST_OPERATION: 1, DESCRIBE_OPERATION: 2})
    assert result.jobs[jobs[0]].error_info == "KMS key disabled"
    assert result.jobs[jobs[0]].state is JobState.FAILED
    assert result.jobs[jobs[1]].described
    # Known from the first Describe, kept although List leaves it out.
    assert result.jobs[jobs[2]].role_arn == "arn:aws:iam::111122223333:role/export"

    known = result.applied_to(known)
    service.set_state(jobs[3], JobState.COMPLETED)
    again = refresh_planner.refresh(service, jobs, known)
    # Only the running job is a candidate: one Describe, the FAILED ones are left alone.
    assert again.calls == Counter({DESCRIBE_OPERATION: 1})
    assert set(again.jobs) == {jobs[3]}

    known = again.applied_to(known)
    assert refresh_planner.plan(jobs, known).is_empty


def test_known_failed_without_error_info_is_described_once() -> None:
    service = FakeExportService()
    failed = key(ORG_A, 1)
    service.add(failed, JobState.FAILED, error_info="role cannot be assumed")
    # A List answer saw it fail (an older wmtui, or the Describe after it was cut short).
    known = {failed: replace(service.truth[failed], error_info=None, described=False)}

    refresh_planner = planner()
    plan = refresh_planner.plan([failed], known)
    assert plan.describes == (failed,)
    result = refresh_planner.run(plan, service, [failed], known)
    assert result.calls == Counter({DESCRIBE_OPERATION: 1})
    assert result.jobs[failed].error_info == "role cannot be assumed"
    assert refresh_planner.plan([failed], result.applied_to(known)).is_empty


def test_a_failed_describe_for_error_info_is_tried_again_next_tick() -> None:
    service = FakeExportService()
    jobs = [key(ORG_A, n) for n in range(3)]
    for k in jobs:
        service.add(k)
    known = seen(service, jobs)
    service.set_state(jobs[0], JobState.FAILED, error_info="S3 access denied")
    service.describe_errors[jobs[0]] = error(ErrorKind.OTHER)

    refresh_planner = planner()
    result = refresh_planner.refresh(service, jobs, known)
    assert result.jobs[jobs[0]].state is JobState.FAILED
    assert jobs[0] in result.job_errors

    del service.describe_errors[jobs[0]]
    known = result.applied_to(known)
    retry = refresh_planner.refresh(service, jobs, known)
    assert retry.jobs[jobs[0]].error_info == "S3 access denied"


def test_force_polls_a_final_job_and_rides_a_sweep_when_there_is_one() -> None:
    service = FakeExportService()
    done = key(ORG_A, 1)
    service.add(done, JobState.COMPLETED)
    busy_org = [key(ORG_B, n) for n in range(3)]
    for k in busy_org:
        service.add(k)
    done_b = key(ORG_B, 9)
    service.add(done_b, JobState.COMPLETED)
    watched = [done, *busy_org, done_b]
    known = seen(service, watched)

    refresh_planner = planner()
    assert refresh_planner.plan(watched, known).describes == ()
    plan = refresh_planner.plan(watched, known, force=[done, done_b])
    assert plan.describes == (done,)
    assert plan.sweeps == ((REGION, ORG_B),)
    assert done_b in plan.sweep_candidates[(REGION, ORG_B)]

    result = refresh_planner.run(plan, service, watched, known)
    assert result.calls == Counter({LIST_OPERATION: 1, DESCRIBE_OPERATION: 1})
    assert {done, done_b} <= set(result.jobs)


def test_force_ignores_keys_not_watched() -> None:
    service = FakeExportService()
    stray = key(ORG_A, 7)
    service.add(stray)
    result = planner().refresh(service, [], {}, force=[stray])
    assert result.total_calls == 0
    assert result.jobs == {}


def test_one_jobs_error_marks_that_job_and_keeps_it() -> None:
    service = FakeExportService()
    jobs = [key(ORG_A, n) for n in range(2)]
    for k in jobs:
        service.add(k, started_ago=timedelta(days=10))
    known = seen(service, jobs)
    del service.truth[jobs[0]]  # deleted on the service's side
    service.set_state(jobs[1], JobState.COMPLETED)

    result = planner().refresh(service, jobs, known)

    assert result.job_errors[jobs[0]].kind is ErrorKind.JOB_NOT_FOUND
    assert result.global_error is None
    assert result.org_errors == {}
    assert result.jobs[jobs[1]].state is JobState.COMPLETED
    view = result.applied_to(known)
    assert view[jobs[0]] == known[jobs[0]]
    assert set(view) == set(jobs)


@pytest.mark.parametrize(
    "kind",
    [ErrorKind.ORGANIZATION_NOT_FOUND, ErrorKind.ORGANIZATION_STATE, ErrorKind.ACCESS_DENIED],
)
def test_an_organizations_error_skips_its_describes_and_spares_the_others(
    kind: ErrorKind,
) -> None:
    service = FakeExportService()
    broken = [key(ORG_A, n) for n in range(3)]
    for k in broken:
        service.add(k)
    never_seen_old = key(ORG_A, 77)
    service.add(never_seen_old, started_ago=timedelta(days=20))
    healthy = [key(ORG_B, n) for n in range(3)]
    for k in healthy:
        service.add(k)
    service.list_errors[(REGION, ORG_A)] = error(kind)
    watched = [*broken, never_seen_old, *healthy]

    result = planner().refresh(service, watched, {}, max_workers=1)

    assert result.org_errors[(REGION, ORG_A)].kind is kind
    assert result.global_error is None
    assert result.job_errors == {}
    assert set(result.jobs) == set(healthy)
    # Two sweeps; no Describe for the organization that could not be read.
    assert result.calls == Counter({LIST_OPERATION: 2})


def test_an_organization_error_from_a_describe_stops_that_organizations_describes() -> None:
    service = FakeExportService()
    old = [key(ORG_A, n) for n in range(4)]
    for k in old:
        service.add(k, started_ago=timedelta(days=9))
    known = seen(service, old)
    for k in old:
        service.describe_errors[k] = error(ErrorKind.ORGANIZATION_STATE)

    result = planner().refresh(service, old, known, max_workers=1)

    assert result.calls == Counter({DESCRIBE_OPERATION: 1})
    assert result.org_errors[(REGION, ORG_A)].kind is ErrorKind.ORGANIZATION_STATE
    assert result.job_errors == {}


def test_another_sweep_error_falls_back_to_describe() -> None:
    service = FakeExportService()
    jobs = [key(ORG_A, n) for n in range(3)]
    for k in jobs:
        service.add(k)
    service.list_errors[(REGION, ORG_A)] = error(ErrorKind.OTHER)

    result = planner().refresh(service, jobs, {})

    assert result.org_errors[(REGION, ORG_A)].kind is ErrorKind.OTHER
    assert set(result.jobs) == set(jobs)
    assert result.calls == Counter({LIST_OPERATION: 1, DESCRIBE_OPERATION: 3})


@pytest.mark.parametrize(
    "kind",
    [ErrorKind.EXPIRED_TOKEN, ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT, ErrorKind.THROTTLED],
)
def test_a_global_error_stops_new_calls(kind: ErrorKind) -> None:
    service = FakeExportService()
    # Ten organizations with one running job each: ten describes, one at a time.
    jobs = [key("m-" + f"{n:032x}", n) for n in range(10)]
    for k in jobs:
        service.add(k)
    known = seen(service, jobs)
    service.describe_errors[jobs[0]] = error(kind)

    result = planner().refresh(service, jobs, known, max_workers=1)

    assert result.global_error is not None
    assert result.global_error.kind is kind
    assert result.calls == Counter({DESCRIBE_OPERATION: 1})
    assert service.calls == result.calls
    assert result.jobs == {}
    assert result.job_errors == {}


def test_a_global_error_in_a_sweep_stops_the_describes_after_it() -> None:
    service = FakeExportService()
    jobs = [key(ORG_A, n) for n in range(5)]
    for k in jobs:
        service.add(k)
    old = [key(ORG_B, n) for n in range(3)]
    for k in old:
        service.add(k, started_ago=timedelta(days=10))
    known = seen(service, [*jobs, *old])
    service.list_errors[(REGION, ORG_A)] = error(ErrorKind.NO_CREDENTIALS)

    result = planner().refresh(service, [*jobs, *old], known, max_workers=1)

    # The sweep is submitted first; with one worker nothing runs after it fails.
    assert result.calls == Counter({LIST_OPERATION: 1})
    assert result.global_error is not None
    assert result.global_error.kind is ErrorKind.NO_CREDENTIALS


def test_cancelled_between_calls_returns_a_partial_result() -> None:
    service = FakeExportService()
    jobs = [key(ORG_A, n) for n in range(6)]
    for k in jobs:
        service.add(k, started_ago=timedelta(days=8))
    known = seen(service, jobs)
    stop = threading.Event()
    service.on_describe = lambda _key: stop.set()

    result = planner().refresh(service, jobs, known, max_workers=1, is_cancelled=stop.is_set)

    assert result.cancelled
    assert result.calls == Counter({DESCRIBE_OPERATION: 1})
    assert service.calls == result.calls
    # The one answer is kept if it was in before the run noticed the cancel.
    assert set(result.jobs) <= {jobs[0]}


def test_cancelled_before_the_first_call_makes_none() -> None:
    service = FakeExportService()
    jobs = [key(ORG_A, n) for n in range(3)]
    for k in jobs:
        service.add(k)
    result = planner().refresh(service, jobs, {}, is_cancelled=lambda: True)
    assert result.cancelled
    assert service.calls == Counter()
    assert result.total_calls == 0


def test_cancel_while_a_call_hangs_returns_without_waiting_for_it() -> None:
    service = FakeExportService()
    jobs = [key(ORG_A, n) for n in range(3)]
    for k in jobs:
        service.add(k)
    entered = threading.Event()
    release = threading.Event()

    def hang(region: str, organization_id: str) -> None:
        entered.set()
        release.wait(timeout=10)

    service.on_list = hang
    try:
        result = planner().refresh(service, jobs, {}, is_cancelled=entered.is_set)
    finally:
        release.set()
    assert result.cancelled
    assert result.jobs == {}
    assert result.calls == Counter({LIST_OPERATION: 1})


@pytest.mark.parametrize("exception", [RuntimeError("boom"), KeyError("State"), ValueError()])
def test_a_service_raising_anything_else_never_escapes(exception: Exception) -> None:
    service = FakeExportService()
    swept = [key(ORG_A, n) for n in range(3)]
    for k in swept:
        service.add(k)
    described = key(ORG_B, 1)
    service.add(described)
    watched = [*swept, described]
    known = seen(service, watched)
    service.list_errors[(REGION, ORG_A)] = exception
    service.describe_errors[described] = exception
    service.describe_errors[swept[0]] = exception

    result = planner().refresh(service, watched, known)

    assert result.global_error is None
    assert result.org_errors[(REGION, ORG_A)].kind is ErrorKind.OTHER
    assert result.job_errors[described].kind is ErrorKind.OTHER
    assert type(exception).__name__ in result.job_errors[described].message
    # The sweep's candidates fell back to Describe: the two that answered are updated.
    assert set(result.jobs) == set(swept[1:])


def test_organizations_are_swept_in_parallel() -> None:
    service = FakeExportService()
    watched: list[JobKey] = []
    for org in (ORG_A, ORG_B, ORG_C):
        for n in range(3):
            service.add(key(org, n))
            watched.append(key(org, n))
    # Each sweep waits until all three are in flight at once: it would time out if run in turn.
    together = threading.Barrier(3, timeout=10)

    def meet(region: str, organization_id: str) -> None:
        together.wait()

    service.on_list = meet

    result = planner().refresh(service, watched, {}, max_workers=3)

    assert result.calls == Counter({LIST_OPERATION: 3})
    assert result.org_errors == {}
    assert set(result.jobs) == set(watched)


def test_result_holds_watched_keys_only_merged_over_what_was_known() -> None:
    service = FakeExportService()
    mine = [key(ORG_A, n) for n in range(2)]
    for k in mine:
        service.add(k)
    for n in range(10, 15):
        service.add(key(ORG_A, n))  # someone else's exports in the same organization
    known = seen(service, mine)
    known = {k: replace(j, last_seen=NOW - timedelta(minutes=5)) for k, j in known.items()}

    result = planner().refresh(service, mine, known)

    assert set(result.jobs) == set(mine)
    for k in mine:
        assert result.jobs[k].last_seen == NOW
        assert result.jobs[k].kms_key_arn == known[k].kms_key_arn
        assert result.jobs[k].described


def test_run_refresh_is_one_tick_with_a_fresh_planner() -> None:
    service = FakeExportService()
    k = key(ORG_A, 1)
    service.add(k)
    result = run_refresh(service, [k], {})
    assert isinstance(result, RefreshResult)
    assert result.calls == Counter({DESCRIBE_OPERATION: 1})
    assert result.finished_at.tzinfo is not None
