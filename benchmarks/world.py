"""The emulated WorkMail the benchmarks run against: N watched jobs over some organizations.

Each organization has 10 running jobs (fewer if it has fewer jobs); the rest are final, most
started in the last seven days (so ListMailboxExportJobs shows them) and 5% earlier. `known` is
what the app has learnt after earlier refreshes, exactly as the emulator would describe each job.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.core.refresh import LIST_PAGE_SIZE, LIST_WINDOW
from wmtui.emulator.state import EmulatedJob, EmulatorClock, EmulatorState

REGION = "us-east-1"
RUNNING_PER_ORGANIZATION = 10
# Running jobs last long enough that nothing finishes while a case is measured.
RUNNING_DURATION = timedelta(hours=10)
# At most this many mailboxes per organization; jobs share them round-robin.
MAILBOXES_PER_ORGANIZATION = 200


@dataclass
class World:
    """An emulator state, the watched keys and what the app already knows about them."""

    state: EmulatorState
    organizations: list[str]
    watched: list[JobKey]
    known: dict[JobKey, ExportJob] = field(default_factory=dict)

    @property
    def clock(self) -> EmulatorClock:
        return self.state.clock

    def recent_jobs(self) -> Counter[str]:
        """Jobs per organization that List returns (started in the last seven days)."""
        now = self.clock.now()
        counts: Counter[str] = Counter()
        for org in self.organizations:
            counts[org] = sum(
                1 for job in self.state.jobs(org) if now - job.start_time < LIST_WINDOW
            )
        return counts

    def running_organizations(self) -> list[str]:
        return [
            org
            for org in self.organizations
            if any(
                job.state is JobState.RUNNING
                for key, job in self.known.items()
                if key.organization_id == org
            )
        ]

    def pages_needed(self) -> dict[str, int]:
        """List pages per organization with running jobs: one per 100 recent jobs, at least 1."""
        recent = self.recent_jobs()
        return {
            org: max(1, math.ceil(recent[org] / LIST_PAGE_SIZE))
            for org in self.running_organizations()
        }

    def read_known(self) -> None:
        """`known` becomes every watched job as a Describe answers it now."""
        now = self.clock.now()
        self.known = {}
        for org in self.organizations:
            for job in self.state.jobs(org):
                key = JobKey(REGION, org, job.job_id)
                self.known[key] = export_job(key, job, now)


def export_job(key: JobKey, job: EmulatedJob, seen: datetime) -> ExportJob:
    """What DescribeMailboxExportJob gives for `job`, as wmtui records it."""
    return ExportJob(
        key=key,
        state=JobState.parse(job.state),
        raw_state=job.state,
        entity_id=job.entity_id,
        description=job.description or None,
        role_arn=job.role_arn,
        kms_key_arn=job.kms_key_arn,
        s3_bucket_name=job.s3_bucket_name,
        s3_prefix=job.s3_prefix,
        s3_path=job.s3_path,
        estimated_progress=job.progress,
        error_info=job.error_info if job.state == "FAILED" else None,
        start_time=job.start_time,
        end_time=job.end_time,
        last_seen=seen,
        described=True,
    )


def split(total: int, parts: int) -> list[int]:
    """`total` jobs over `parts` organizations, as evenly as possible."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def build_world(
    jobs: int,
    organizations: int,
    *,
    running_per_organization: int = RUNNING_PER_ORGANIZATION,
    seed: int = 11,
    start: datetime | None = None,
) -> World:
    """`jobs` watched jobs over `organizations`; the emulator's clock moves only when told.

    The same arguments (`start` included: the clock's now, default the real one) build the same
    world, IDs and times alike, in any process.
    """
    state = EmulatorState(
        clock=EmulatorClock(manual=True, start=start), seed=seed, failure_rate=0.0
    )
    orgs: list[str] = []
    watched: list[JobKey] = []
    for index, count in enumerate(split(jobs, organizations)):
        org = state.add_organization(f"bench{index}", region=REGION)
        orgs.append(org)
        boxes = [
            state.add_mailbox(org, f"user{m}.bench", display_name=f"User {m} Bench")
            for m in range(max(1, min(count, MAILBOXES_PER_ORGANIZATION)))
        ]
        for n in range(count):
            watched.append(
                JobKey(
                    REGION,
                    org,
                    _add_job(state, org, boxes[n % len(boxes)], n, running_per_organization),
                )
            )
    world = World(state, orgs, watched)
    world.read_known()
    return world


def _add_job(state: EmulatorState, org: str, box: str, n: int, running: int) -> str:
    description = f"Mailbox export {n} (benchmark)"
    if n < running:
        return state.add_job(
            org,
            box,
            state="RUNNING",
            started_ago=timedelta(minutes=1 + n * 3),
            duration=RUNNING_DURATION,
            description=description,
        )
    if n % 20 == 0:
        # 5% started more than seven days ago: only Describe can read them.
        return state.add_job(
            org,
            box,
            state="COMPLETED",
            started_ago=timedelta(days=8 + n % 50),
            description=description,
        )
    started = timedelta(minutes=60 + (n * 37) % (6 * 24 * 60))
    if n % 33 == 1:
        return state.add_job(
            org, box, state="FAILED", progress=40, started_ago=started, description=description
        )
    if n % 50 == 2:
        return state.add_job(
            org, box, state="CANCELLED", progress=20, started_ago=started, description=description
        )
    return state.add_job(org, box, state="COMPLETED", started_ago=started, description=description)
