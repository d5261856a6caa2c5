"""An in-process ExportService and app builder for the UI tests and snapshots.

Deterministic (fixed clock, fixed IDs) so snapshots do not change between runs. Behaviour that
crosses the wire (signing, paging, retries) is tested against the emulator instead.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wmtui.core.cache import JobCache
from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox, Organization, StartRequest
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.core.settings import Settings
from wmtui.core.watchlist import WatchList
from wmtui.ui.app import WmtuiApp

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
REGION = "us-east-1"
ORG = "m-0123456789abcdef0123456789abcdef"
ORG2 = "m-fedcba9876543210fedcba9876543210"


def fixed_clock() -> datetime:
    return NOW


def job_id(n: int) -> str:
    return f"{n:08x}-1111-4222-8333-{n:012x}"


def key(n: int, org: str = ORG) -> JobKey:
    return JobKey(REGION, org, job_id(n))


def make_job(
    n: int,
    *,
    state: JobState = JobState.RUNNING,
    progress: int | None = 40,
    started_ago: timedelta = timedelta(hours=1),
    duration: timedelta | None = None,
    description: str | None = None,
    error_info: str | None = None,
    entity: str | None = None,
    s3_path: str | None = "__default__",
    org: str = ORG,
    seen: datetime | None = NOW,
) -> ExportJob:
    start = NOW - started_ago
    end = None
    if state.is_final:
        end = start + (duration or timedelta(minutes=12))
        if progress is not None and state is JobState.COMPLETED:
            progress = 100
    k = key(n, org)
    path = f"exports/{k.job_id}.zip" if s3_path == "__default__" else s3_path
    return ExportJob(
        key=k,
        state=state,
        raw_state=state.value,
        entity_id=entity or f"S-1-5-18-{1000 + n}",
        description=description if description is not None else f"mailbox {n} export",
        role_arn="arn:aws:iam::111122223333:role/WorkMailExport",
        kms_key_arn="arn:aws:kms:us-east-1:111122223333:key/abcd-1234",
        s3_bucket_name="wm-export",
        s3_prefix="exports",
        s3_path=path,
        estimated_progress=progress,
        error_info=error_info,
        start_time=start,
        end_time=end,
        last_seen=seen,
        described=True,
    )


class FakeService:
    """ExportService over a dict of jobs. Thread-safe; counts calls; can fail on demand."""

    target = "profile test · fake endpoint"

    def __init__(
        self,
        jobs: Iterable[ExportJob] = (),
        *,
        clock: Callable[[], datetime] = fixed_clock,
        organizations: Iterable[Organization] = (),
        mailboxes: Iterable[Mailbox] = (),
    ) -> None:
        self.jobs: dict[JobKey, ExportJob] = {job.key: job for job in jobs}
        # The directory of ORG (any other organization has none).
        self.mailboxes: list[Mailbox] = list(mailboxes)
        # Raised by start_job instead of starting (LimitExceeded ...).
        self.start_error: ServiceError | None = None
        self.started: list[tuple[str, str, StartRequest]] = []
        self._next_job = 100
        self.organizations = list(organizations) or [
            Organization(ORG, alias="example-corp", default_mail_domain="example.com")
        ]
        self.clock = clock
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        # Raise this from every call (a ServiceError or anything else).
        self.fail_with: BaseException | None = None
        # When set, calls wait for it: lets a test look at the screen before results arrive.
        self.gate: threading.Event | None = None

    def _enter(self, operation: str) -> None:
        with self.lock:
            self.calls[operation] += 1
        if self.gate is not None:
            self.gate.wait(timeout=10)
        if self.fail_with is not None:
            raise self.fail_with

    def set_job(self, job: ExportJob) -> None:
        with self.lock:
            self.jobs[job.key] = job

    def describe_job(self, key: JobKey) -> ExportJob:
        self._enter("DescribeMailboxExportJob")
        with self.lock:
            job = self.jobs.get(key)
        if job is None:
            raise ServiceError(
                ErrorKind.JOB_NOT_FOUND,
                f"The job {key.job_id} was not found in {key.organization_id}",
                "Check the job ID, or remove it with d",
                operation="DescribeMailboxExportJob",
                code="EntityNotFoundException",
            )
        return replace(job, last_seen=self.clock(), described=True)

    def list_jobs(self, region: str, organization_id: str) -> list[ExportJob]:
        self._enter("ListMailboxExportJobs")
        with self.lock:
            found = [
                replace(
                    job,
                    last_seen=self.clock(),
                    described=False,
                    role_arn=None,
                    kms_key_arn=None,
                    s3_prefix=None,
                    error_info=None,
                )
                for job in self.jobs.values()
                if job.key.region == region
                and job.key.organization_id == organization_id
                and job.start_time is not None
                and self.clock() - job.start_time < timedelta(days=7)
            ]
        return found

    def start_job(self, region: str, organization_id: str, request: StartRequest) -> JobKey:
        self._enter("StartMailboxExportJob")
        if self.start_error is not None:
            raise self.start_error
        with self.lock:
            self._next_job += 1
            new = key(self._next_job, organization_id)
            self.jobs[new] = ExportJob(
                key=new,
                state=JobState.RUNNING,
                raw_state="RUNNING",
                entity_id=request.entity_id,
                description=request.description,
                role_arn=request.role_arn,
                kms_key_arn=request.kms_key_arn,
                s3_bucket_name=request.s3_bucket_name,
                s3_prefix=request.s3_prefix,
                estimated_progress=0,
                start_time=self.clock(),
                described=True,
            )
            self.started.append((region, organization_id, request))
        return new

    def cancel_job(self, key: JobKey, client_token: str | None = None) -> None:
        self._enter("CancelMailboxExportJob")
        with self.lock:
            job = self.jobs.get(key)
            if job is None or job.state is not JobState.RUNNING:
                raise ServiceError(ErrorKind.INVALID_PARAMETER, "the job is not running")
            self.jobs[key] = replace(
                job, state=JobState.CANCELLED, raw_state="CANCELLED", end_time=self.clock()
            )

    def list_organizations(self, region: str) -> list[Organization]:
        self._enter("ListOrganizations")
        return list(self.organizations)

    def list_mailboxes(self, region: str, organization_id: str) -> list[Mailbox]:
        self._enter("ListUsers")
        return list(self.mailboxes) if organization_id == ORG else []

    def describe_mailbox(self, region: str, organization_id: str, entity_id: str) -> Mailbox:
        self._enter("DescribeUser")
        for mailbox in self.mailboxes if organization_id == ORG else []:
            if entity_id in (mailbox.entity_id, mailbox.email, mailbox.name):
                return mailbox
        raise ServiceError(ErrorKind.JOB_NOT_FOUND, "no such mailbox")

    def presign_url(self, job: ExportJob, expires_in: int) -> str:
        self._enter("presign")
        if not job.s3_path:
            raise ServiceError(ErrorKind.INVALID_PARAMETER, f"job {job.job_id} has no S3 path yet")
        return (
            f"https://{job.s3_bucket_name}.s3.{job.key.region}.amazonaws.com/{job.s3_path}"
            f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires={expires_in}"
            "&X-Amz-SignedHeaders=host&X-Amz-Signature=0123456789abcdef"
        )


def people(count: int = 3) -> list[Mailbox]:
    """Mailboxes whose EntityIds are the ones make_job gives jobs 1..count."""
    firsts = ["Ann", "Bob", "Cleo", "Dan", "Eve", "Finn", "Gia", "Hal", "Ida", "Jo"]
    return [
        Mailbox(
            entity_id=f"S-1-5-18-{1000 + n}",
            name=f"{firsts[(n - 1) % 10].lower()}{n}",
            email=f"{firsts[(n - 1) % 10].lower()}{n}@example.com",
            display_name=f"{firsts[(n - 1) % 10]} Example {n}",
            state="ENABLED",
        )
        for n in range(1, count + 1)
    ]


def standard_jobs() -> list[ExportJob]:
    """Eight jobs in every state, with distinct start times so sorting is unambiguous."""
    return [
        make_job(1, progress=42, started_ago=timedelta(minutes=25)),
        make_job(2, progress=87, started_ago=timedelta(hours=2)),
        make_job(3, state=JobState.COMPLETED, started_ago=timedelta(hours=5)),
        make_job(
            4,
            state=JobState.FAILED,
            progress=13,
            started_ago=timedelta(hours=7),
            error_info="The KMS key policy does not allow export.workmail.amazonaws.com to use it",
        ),
        make_job(5, state=JobState.CANCELLED, progress=55, started_ago=timedelta(hours=9)),
        make_job(6, progress=3, started_ago=timedelta(minutes=4), s3_path=None),
        make_job(7, state=JobState.COMPLETED, started_ago=timedelta(days=2)),
        make_job(8, state=JobState.COMPLETED, started_ago=timedelta(days=9)),
    ]


def build_app(
    tmp_path: Path,
    service: FakeService,
    keys: Iterable[JobKey],
    *,
    cached: Iterable[ExportJob] = (),
    on_exit: Callable[[], None] | None = None,
    bell: bool = True,
    interval: float = 30.0,
    blink: bool = False,
    clock: Callable[[], datetime] = fixed_clock,
    warnings: tuple[str, ...] = (),
    read_only: bool = False,
    presign_expiry: int = 3600,
    endpoint_url: str | None = None,
) -> WmtuiApp:
    """A WmtuiApp over `service`, watching `keys`, with `cached` in its cache."""
    config = tmp_path / "config"
    cache_dir = tmp_path / "cache"
    settings = Settings(
        config_dir=config,
        cache_dir=cache_dir,
        data_dir=tmp_path / "data",
        region=REGION,
        bell=bell,
        interval=interval,
        clipboard="osc52",
        warnings=warnings,
        read_only=read_only,
        presign_expiry=presign_expiry,
        endpoint_url=endpoint_url,
    )
    watchlist = WatchList(config / "watchlist.json")
    keys = list(keys)
    if keys:
        watchlist.add(keys)
    cache = JobCache(cache_dir / "jobs.json")
    cached = list(cached)
    if cached:
        cache.save({job.key: job for job in cached})
    app = WmtuiApp(service, watchlist, cache, settings, clock=clock, on_exit=on_exit)
    app.cursor_blink = blink
    return app
