"""Exact request counts of the refresh plan, read from the emulator's own counters.

A real boto3 client (wmtui's Boto3ExportService) talks to the emulator on 127.0.0.1, and every
assertion compares what the emulator counted with what the plan says. A change that makes the
plan chattier fails here (issue 5, "In the tests").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.core.refresh import DESCRIBE_OPERATION, LIST_OPERATION, RefreshPlanner
from wmtui.core.service import ErrorKind

if TYPE_CHECKING:
    from wmtui.aws.service import Boto3ExportService
    from wmtui.emulator.server import EmulatorServer
    from wmtui.emulator.state import EmulatorState

REGION = "us-east-1"

pytestmark = pytest.mark.usefixtures("aws_credentials")


@dataclass
class World:
    state: EmulatorState
    organizations: list[str]
    watched: list[JobKey]


def build_world(
    *,
    organizations: int,
    jobs_per_org: int,
    running: int,
    running_to_fail: int = 0,
    failed: int = 0,
    cancelled: int = 0,
    older_than_a_week: int = 0,
    long_running: int = 0,
) -> World:
    """Every organization alike; every job in it watched. The clock moves only when told."""
    from wmtui.emulator.state import EmulatorClock, EmulatorState

    state = EmulatorState(clock=EmulatorClock(manual=True), seed=5, failure_rate=0.0)
    orgs: list[str] = []
    watched: list[JobKey] = []
    for o in range(organizations):
        org = state.add_organization(f"org{o}", region=REGION)
        orgs.append(org)
        boxes = [state.add_mailbox(org, f"user{m}") for m in range(10)]
        for n in range(jobs_per_org):
            box = boxes[n % len(boxes)]
            if n < running:
                # Ten minutes long, one minute in; the last `long_running` take five hours.
                job_id = state.add_job(
                    org,
                    box,
                    state="RUNNING",
                    started_ago=timedelta(minutes=1),
                    duration=timedelta(hours=5 if n >= running - long_running else 0, minutes=10),
                    outcome="FAILED" if n < running_to_fail else "COMPLETED",
                )
            elif n < running + failed:
                job_id = state.add_job(org, box, state="FAILED", started_ago=timedelta(days=2))
            elif n < running + failed + cancelled:
                job_id = state.add_job(org, box, state="CANCELLED", started_ago=timedelta(days=3))
            elif n < running + failed + cancelled + older_than_a_week:
                job_id = state.add_job(
                    org, box, state="COMPLETED", started_ago=timedelta(days=15, hours=n)
                )
            else:
                # Spread over the last six days: well inside List's seven.
                job_id = state.add_job(
                    org, box, state="COMPLETED", started_ago=timedelta(hours=2 + n % 140)
                )
            watched.append(JobKey(REGION, org, job_id))
    return World(state, orgs, watched)


@contextmanager
def serving(world: World) -> Iterator[tuple[EmulatorServer, Boto3ExportService]]:
    emulator_server = pytest.importorskip("wmtui.emulator.server")
    aws_service = pytest.importorskip("wmtui.aws.service")
    with emulator_server.EmulatorServer(world.state) as server:
        service = aws_service.Boto3ExportService(
            endpoint_url=server.endpoint_url,
            region=REGION,
            connect_timeout=2.0,
            read_timeout=5.0,
        )
        yield server, service
        assert server.internal_errors == []


def counted(world: World) -> Counter[str]:
    """What the emulator counted since the last call, then start counting afresh."""
    counts = world.state.counters_snapshot()
    world.state.reset_counters()
    return +counts


def test_a_thousand_watched_jobs_in_ten_organizations() -> None:
    # 100 watched jobs in each of 10 organizations: 10 running (one of them about to fail),
    # 2 FAILED, 3 CANCELLED, 5 started more than a week ago, 80 COMPLETED this week.
    world = build_world(
        organizations=10,
        jobs_per_org=100,
        running=10,
        running_to_fail=1,
        failed=2,
        cancelled=3,
        older_than_a_week=5,
    )
    planner = RefreshPlanner(clock=world.state.clock.now)
    with serving(world) as (_server, service):
        # First start, nothing known: a sweep per organization (95 recent jobs, one page), then
        # a Describe for each job List cannot show (older than a week) or that FAILED (ErrorInfo).
        plan = planner.plan(world.watched, {})
        assert sorted(plan.sweeps) == sorted((REGION, org) for org in world.organizations)
        assert plan.describes == ()
        result = planner.run(plan, service, world.watched, {})
        assert (
            counted(world)
            == result.calls
            == Counter({LIST_OPERATION: 10, DESCRIBE_OPERATION: 10 * (5 + 2)})
        )
        assert (result.job_errors, result.org_errors, result.global_error) == ({}, {}, None)
        assert set(result.jobs) == set(world.watched)
        known = result.applied_to({})
        assert all(job.error_info for job in known.values() if job.state is JobState.FAILED), (
            "every FAILED job carries its ErrorInfo"
        )

        # The steady state: 10 running per organization, 1 page each. 10 calls, not 1,000.
        plan = planner.plan(world.watched, known)
        assert plan.estimated_calls == 10
        result = planner.run(plan, service, world.watched, known)
        assert counted(world) == result.calls == Counter({LIST_OPERATION: 10})
        assert sum(j.state is JobState.RUNNING for j in result.jobs.values()) == 100
        known = result.applied_to(known)

        # For comparison, a Describe per watched job of one organization: 100 calls where the
        # plan made 1 (so 1,000 for all ten where the plan made 10).
        first_org = [k for k in world.watched if k.organization_id == world.organizations[0]]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(service.describe_job, first_org))
        assert (
            counted(world)
            == Counter({DESCRIBE_OPERATION: len(first_org)})
            == Counter({DESCRIBE_OPERATION: 100})
        )

        # Every running job ends, one per organization FAILED: the sweeps, and one Describe
        # per newly FAILED job for its ErrorInfo.
        world.state.clock.advance(timedelta(hours=1))
        result = planner.refresh(service, world.watched, known)
        assert (
            counted(world) == result.calls == Counter({LIST_OPERATION: 10, DESCRIBE_OPERATION: 10})
        )
        # Only the jobs that were running come back: final ones were not asked about.
        assert set(result.jobs) == {k for k, j in known.items() if j.state is JobState.RUNNING}
        newly_failed = [j for j in result.jobs.values() if j.state is JobState.FAILED]
        assert len(newly_failed) == 10
        assert all(j.error_info and j.described for j in newly_failed)
        known = result.applied_to(known)
        assert all(job.state.is_final for job in known.values())

        # Everything known final: not one call.
        plan = planner.plan(world.watched, known)
        assert plan.is_empty
        result = planner.run(plan, service, world.watched, known)
        assert counted(world) == result.calls == Counter()


def test_an_organization_needing_three_pages() -> None:
    # 250 jobs this week, 10 running: 7 end within the hour, 3 take five hours.
    world = build_world(organizations=1, jobs_per_org=250, running=10, long_running=3)
    planner = RefreshPlanner(clock=world.state.clock.now)
    org = (REGION, world.organizations[0])
    with serving(world) as (_server, service):
        # Nothing known: the guess is one page, the sweep takes three (and is remembered).
        result = planner.refresh(service, world.watched, {})
        assert counted(world) == result.calls == Counter({LIST_OPERATION: 3})
        assert planner.remembered_pages(*org) == 3
        known = result.applied_to({})

        # 10 running, 3 pages: sweep.
        plan = planner.plan(world.watched, known)
        assert (plan.sweeps, plan.estimated_pages) == ((org,), {org: 3})
        result = planner.run(plan, service, world.watched, known)
        assert counted(world) == result.calls == Counter({LIST_OPERATION: 3})
        known = result.applied_to(known)

        world.state.clock.advance(timedelta(hours=1))
        result = planner.refresh(service, world.watched, known)
        assert counted(world) == result.calls == Counter({LIST_OPERATION: 3})
        known = result.applied_to(known)
        still_running = [k for k, j in known.items() if j.state is JobState.RUNNING]
        assert len(still_running) == 3

        # 3 running, 3 pages: a Describe each is no dearer and says more.
        plan = planner.plan(world.watched, known)
        assert plan.sweeps == ()
        assert sorted(plan.describes) == sorted(still_running)
        result = planner.run(plan, service, world.watched, known)
        assert counted(world) == result.calls == Counter({DESCRIBE_OPERATION: 3})


def test_a_missing_job_and_a_missing_organization() -> None:
    world = build_world(organizations=1, jobs_per_org=3, running=3)
    mistyped = JobKey(REGION, world.organizations[0], "no-such-job")
    elsewhere = "m-" + "0" * 32  # an organization this endpoint does not hold
    lost = [JobKey(REGION, elsewhere, f"job-{n}") for n in range(3)]
    watched = [*world.watched, mistyped, *lost]
    with serving(world) as (_server, service):
        result = RefreshPlanner(clock=world.state.clock.now).refresh(service, watched, {})

        # A sweep each; one Describe for the job the sweep did not return; none for the
        # organization that does not exist.
        assert counted(world) == result.calls == Counter({LIST_OPERATION: 2, DESCRIBE_OPERATION: 1})
        assert set(result.jobs) == set(world.watched)
        assert set(result.job_errors) == {mistyped}
        assert result.job_errors[mistyped].kind is ErrorKind.JOB_NOT_FOUND
        assert result.org_errors[(REGION, elsewhere)].kind is ErrorKind.ORGANIZATION_NOT_FOUND
        assert result.global_error is None


def test_expired_credentials_stop_the_refresh_after_one_call() -> None:
    world = build_world(organizations=10, jobs_per_org=5, running=2)
    planner = RefreshPlanner(clock=world.state.clock.now)
    with serving(world) as (server, service):
        known: dict[JobKey, ExportJob] = planner.refresh(service, world.watched, {}).jobs
        counted(world)
        server.inject(None, "expired-token")

        result = planner.refresh(service, world.watched, known, max_workers=1)

        assert result.global_error is not None
        assert result.global_error.kind is ErrorKind.EXPIRED_TOKEN
        assert counted(world) == result.calls == Counter({LIST_OPERATION: 1})
        assert result.jobs == {}
