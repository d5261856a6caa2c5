"""What the emulated WorkMail holds: organizations, mailboxes, export jobs, a clock, the limits.

Everything here is guarded by one lock, so the HTTP server's threads, a test and a benchmark can
read and change it at once. Jobs are settled lazily: a RUNNING job's progress and end are worked
out from the clock whenever it is looked at, so nothing needs a background thread.

The directory (organizations, users, resources) is in `directory.py`, one job's progress model in
`jobs.py`, the clock in `clock.py` and the wire conventions in `wire.py`; their names are
re-exported here, the one place tests, benchmarks and the CLI import the emulator's state from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from wmtui.emulator.clock import EmulatorClock
from wmtui.emulator.directory import (
    ENTITY_STATES,
    EmulatedDirectory,
    EmulatedMailbox,
    EmulatedOrganization,
)
from wmtui.emulator.jobs import FAILURE_REASONS, JOB_STATES, EmulatedJob, StartRecord, s3_path
from wmtui.emulator.s3 import get_mailbox_details
from wmtui.emulator.wire import (
    ACCOUNT_ID,
    DEFAULT_PAGE_SIZE,
    ApiError,
    decode_token,
    encode_token,
    to_wire,
    without_none,
)

__all__ = [
    "ACCOUNT_ID",
    "DEFAULT_MAX_RUNNING",
    "DEFAULT_PAGE_SIZE",
    "ENTITY_STATES",
    "FAILURE_REASONS",
    "IMPLEMENTED_OPERATIONS",
    "JOB_STATES",
    "LIST_WINDOW",
    "MAILBOX_EXPORT_WINDOW",
    "ApiError",
    "EmulatedJob",
    "EmulatedMailbox",
    "EmulatedOrganization",
    "EmulatorClock",
    "EmulatorState",
    "StartRecord",
    "to_wire",
]

# The service's limits (AWS admin guide): 10 running exports per organization, and a mailbox may be
# exported once per 24 hours; ListMailboxExportJobs covers jobs started in the last 7 days.
DEFAULT_MAX_RUNNING = 10
MAILBOX_EXPORT_WINDOW = timedelta(hours=24)
LIST_WINDOW = timedelta(days=7)
# A replayed ClientToken must come with these same parameters.
_START_FINGERPRINT = ("EntityId", "Description", "RoleArn", "KmsKeyArn", "S3BucketName", "S3Prefix")


class EmulatorState(EmulatedDirectory):
    """Organizations, mailboxes and export jobs of an emulated WorkMail, with its limits."""

    def __init__(
        self,
        *,
        clock: EmulatorClock | None = None,
        seed: int = 0,
        max_running: int = DEFAULT_MAX_RUNNING,
        job_duration: timedelta = timedelta(minutes=5),
        job_duration_jitter: float = 0.2,
        failure_rate: float = 0.02,
    ) -> None:
        super().__init__(clock=clock, seed=seed)
        self.max_running = max_running
        # Jobs started through the API last job_duration, give or take the jitter (a fraction).
        self.job_duration = job_duration
        self.job_duration_jitter = job_duration_jitter
        self.failure_rate = failure_rate
        self.counters: Counter[str] = Counter()
        self._jobs: dict[str, dict[str, EmulatedJob]] = {}
        self._tokens: dict[tuple[str, str], tuple[tuple[Any, ...], str]] = {}
        self._max_running_seen: Counter[str] = Counter()
        self._start_log: list[StartRecord] = []

    def _organization_added(self, organization_id: str) -> None:
        self._jobs[organization_id] = {}

    # ----------------------------------------------------------------- counting calls

    def count(self, operation: str) -> None:
        with self._lock:
            self.counters[operation] += 1

    def reset_counters(self) -> None:
        with self._lock:
            self.counters.clear()

    def counters_snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counters)

    # ----------------------------------------------------------------- export jobs

    def add_job(
        self,
        organization_id: str,
        entity_id: str,
        *,
        state: str = "RUNNING",
        progress: int = 0,
        started_ago: timedelta = timedelta(0),
        duration: timedelta = timedelta(minutes=10),
        description: str = "",
        error_info: str | None = None,
        job_id: str | None = None,
        s3_bucket: str = "wm-export",
        s3_prefix: str = "exports",
        role_arn: str | None = None,
        kms_key_arn: str | None = None,
        outcome: str = "COMPLETED",
        end_time: datetime | None = None,
    ) -> str:
        """Put a job in place without the API's limits; returns its job ID.

        A RUNNING job given a progress and no start is back-dated so it is that far along now.
        A FAILED job gets a realistic ErrorInfo unless one is given.
        """
        if state not in JOB_STATES:
            raise ValueError(f"unknown job state {state!r}")
        with self._lock:
            now = self.clock.now()
            mailbox = self._resolve_mailbox(organization_id, entity_id)
            if mailbox is None:
                raise KeyError(f"no mailbox {entity_id!r} in {organization_id}")
            if state == "RUNNING" and progress and not started_ago:
                started_ago = duration * (progress / 100)
            start = now - started_ago
            job_id = job_id or self._uuid_like()
            if state == "FAILED" and not error_info:
                error_info = self._random.choice(FAILURE_REASONS)
            if state == "COMPLETED":
                progress = 100
            if state != "RUNNING" and end_time is None:
                end_time = min(now, start + duration)
            job = EmulatedJob(
                job_id=job_id,
                organization_id=organization_id,
                entity_id=mailbox.entity_id,
                description=description,
                role_arn=role_arn or f"arn:aws:iam::{ACCOUNT_ID}:role/WorkMailExportRole",
                kms_key_arn=kms_key_arn
                or f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/{self._uuid_like()}",
                s3_bucket_name=s3_bucket,
                s3_prefix=s3_prefix,
                s3_path=s3_path(s3_prefix, job_id),
                start_time=start,
                duration=duration,
                outcome=outcome if state == "RUNNING" else state,
                fail_fraction=max(0.01, min(progress, 99) / 100) if state == "FAILED" else 0.5,
                error_info=error_info if state == "FAILED" or outcome == "FAILED" else None,
                state=state,
                progress=progress,
                end_time=end_time if state != "RUNNING" else None,
            )
            if outcome == "FAILED" and state == "RUNNING":
                job = replace(
                    job,
                    fail_fraction=self._random.uniform(max(progress / 100, 0.1), 0.95),
                    error_info=error_info or self._random.choice(FAILURE_REASONS),
                )
            self._jobs[organization_id][job_id] = job.settled(now)
            self._note_running(organization_id, now)
            return job_id

    def jobs(self, organization_id: str) -> list[EmulatedJob]:
        """Every job of the organization as of now, newest first."""
        with self._lock:
            now = self.clock.now()
            return sorted(self._settle(organization_id, now), key=lambda j: j.order_key)

    def job(self, organization_id: str, job_id: str) -> EmulatedJob:
        with self._lock:
            job = self._jobs[organization_id][job_id].settled(self.clock.now())
            self._jobs[organization_id][job_id] = job
            return job

    def running_count(self, organization_id: str) -> int:
        with self._lock:
            now = self.clock.now()
            return sum(1 for j in self._settle(organization_id, now) if j.state == "RUNNING")

    def max_running_seen(self, organization_id: str) -> int:
        """The most jobs ever RUNNING at once in the organization (checked at every start)."""
        with self._lock:
            return self._max_running_seen[organization_id]

    @property
    def start_log(self) -> list[StartRecord]:
        with self._lock:
            return list(self._start_log)

    def exports_started(self, organization_id: str) -> dict[str, list[str]]:
        """Entity ID -> IDs of the jobs StartMailboxExportJob started for it, oldest first."""
        with self._lock:
            out: dict[str, list[str]] = {}
            for record in self._start_log:
                if record.organization_id == organization_id:
                    out.setdefault(record.entity_id, []).append(record.job_id)
            return out

    def export_of(self, bucket: str, key: str) -> EmulatedJob | None:
        """The job whose export is s3://bucket/key (S3Path with or without the bucket),
        settled now; None if there is none. What the emulator's S3 serves from."""
        with self._lock:
            now = self.clock.now()
            for jobs in self._jobs.values():
                for job_id, job in jobs.items():
                    if job.s3_bucket_name != bucket:
                        continue
                    if job.s3_path == key or job.s3_path == f"{bucket}/{key}":
                        job = jobs[job_id] = job.settled(now)
                        return job
        return None

    def has_export_bucket(self, bucket: str) -> bool:
        with self._lock:
            every = (job for jobs in self._jobs.values() for job in jobs.values())
            return any(job.s3_bucket_name == bucket for job in every)

    # ----------------------------------------------------------------- internals

    def _settle(self, organization_id: str, now: datetime) -> list[EmulatedJob]:
        jobs = self._jobs[organization_id]
        for job_id, job in jobs.items():
            if job.state == "RUNNING":
                jobs[job_id] = job.settled(now)
        return list(jobs.values())

    def _note_running(self, organization_id: str, now: datetime) -> None:
        running = sum(1 for j in self._settle(organization_id, now) if j.state == "RUNNING")
        if running > self._max_running_seen[organization_id]:
            self._max_running_seen[organization_id] = running

    def _job_for_call(self, organization_id: str, job_id: str, now: datetime) -> EmulatedJob:
        job = self._jobs[organization_id].get(job_id)
        if job is None:
            raise ApiError(
                "EntityNotFoundException",
                f"The mailbox export job {job_id} was not found in organization {organization_id}.",
            )
        job = job.settled(now)
        self._jobs[organization_id][job_id] = job
        return job

    # ----------------------------------------------------------------- the operations

    def handle(self, operation: str, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        """Run one validated request; the answer uses datetimes, the server turns them to epochs."""
        handler = _OPERATIONS.get(operation)
        if handler is None:
            raise ApiError(
                "UnknownOperationException", f"The emulator does not implement {operation}."
            )
        with self._lock:
            return handler(self, params, region)

    def start_mailbox_export_job(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        org_id = params["OrganizationId"]
        self._active_organization(region, org_id)
        now = self.clock.now()
        token = params["ClientToken"]
        fingerprint = tuple(params.get(name) for name in _START_FINGERPRINT)
        earlier = self._tokens.get((org_id, token))
        if earlier is not None:
            if earlier[0] != fingerprint:
                raise ApiError(
                    "InvalidParameterException",
                    "The ClientToken was already used with different parameters.",
                )
            return {"JobId": earlier[1]}
        mailbox = self._exportable_mailbox(org_id, params["EntityId"])
        self._check_export_limits(org_id, mailbox, now)
        job_id = self._uuid_like()
        jitter = self._random.uniform(-self.job_duration_jitter, self.job_duration_jitter)
        fails = self._random.random() < self.failure_rate
        prefix = params["S3Prefix"]
        self._jobs[org_id][job_id] = EmulatedJob(
            job_id=job_id,
            organization_id=org_id,
            entity_id=mailbox.entity_id,
            description=params.get("Description"),
            role_arn=params["RoleArn"],
            kms_key_arn=params["KmsKeyArn"],
            s3_bucket_name=params["S3BucketName"],
            s3_prefix=prefix,
            s3_path=s3_path(prefix, job_id),
            start_time=now,
            duration=self.job_duration * (1 + jitter),
            outcome="FAILED" if fails else "COMPLETED",
            fail_fraction=self._random.uniform(0.1, 0.9),
            error_info=self._random.choice(FAILURE_REASONS) if fails else None,
            state="RUNNING",
            progress=0,
            end_time=None,
            client_token=token,
            via_api=True,
        )
        self._tokens[(org_id, token)] = (fingerprint, job_id)
        self._start_log.append(StartRecord(now, org_id, mailbox.entity_id, job_id, token))
        self._note_running(org_id, now)
        return {"JobId": job_id}

    def _exportable_mailbox(self, org_id: str, identifier: str) -> EmulatedMailbox:
        """The mailbox a StartMailboxExportJob names, if it exists and is enabled."""
        mailbox = self._resolve_mailbox(org_id, identifier)
        if mailbox is None:
            raise ApiError(
                "EntityNotFoundException",
                f"The entity {identifier} was not found in organization {org_id}.",
            )
        if mailbox.state != "ENABLED":
            # Not modeled for this operation: botocore raises a plain ClientError with this code.
            raise ApiError(
                "EntityStateException",
                f"The entity {mailbox.entity_id} is {mailbox.state} and has no mailbox to export.",
            )
        return mailbox

    def _check_export_limits(self, org_id: str, mailbox: EmulatedMailbox, now: datetime) -> None:
        """One export per mailbox a day, `max_running` at once per organization."""
        jobs = self._settle(org_id, now)
        recent = [
            j
            for j in jobs
            if j.entity_id == mailbox.entity_id
            and j.state in ("RUNNING", "COMPLETED")
            and now - j.start_time < MAILBOX_EXPORT_WINDOW
        ]
        if recent:
            raise ApiError(
                "LimitExceededException",
                f"The mailbox {mailbox.entity_id} was already exported in the last 24 hours "
                f"(job {recent[0].job_id}). A mailbox can be exported once every 24 hours.",
            )
        running = sum(1 for j in jobs if j.state == "RUNNING")
        if running >= self.max_running:
            raise ApiError(
                "LimitExceededException",
                f"The organization {org_id} already has {running} mailbox export jobs "
                f"running; at most {self.max_running} can run at the same time.",
            )

    def cancel_mailbox_export_job(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        org_id = params["OrganizationId"]
        self._active_organization(region, org_id)
        now = self.clock.now()
        job = self._job_for_call(org_id, params["JobId"], now)
        if job.state == "RUNNING":
            self._jobs[org_id][job.job_id] = replace(job, state="CANCELLED", end_time=now)
        elif job.state != "CANCELLED":
            # Cancelling a cancelled job again is a no-op (a retried request must not fail);
            # a job that already completed or failed cannot be cancelled.
            raise ApiError(
                "InvalidParameterException",
                f"The mailbox export job {job.job_id} is {job.state} and can no longer be "
                "cancelled.",
            )
        return {}

    def describe_mailbox_export_job(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        org_id = params["OrganizationId"]
        self._active_organization(region, org_id)
        job = self._job_for_call(org_id, params["JobId"], self.clock.now())
        out: dict[str, Any] = {
            "EntityId": job.entity_id,
            "Description": job.description,
            "RoleArn": job.role_arn,
            "KmsKeyArn": job.kms_key_arn,
            "S3BucketName": job.s3_bucket_name,
            "S3Prefix": job.s3_prefix,
            "S3Path": job.s3_path,
            "EstimatedProgress": job.progress,
            "State": job.state,
            "ErrorInfo": job.error_info if job.state == "FAILED" else None,
            "StartTime": job.start_time,
            "EndTime": job.end_time,
        }
        return without_none(out)

    def list_mailbox_export_jobs(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        org_id = params["OrganizationId"]
        self._active_organization(region, org_id)
        now = self.clock.now()
        cursor = decode_token("jobs", org_id, params.get("NextToken"))
        visible = sorted(
            (j for j in self._settle(org_id, now) if now - j.start_time < LIST_WINDOW),
            key=lambda j: j.order_key,
        )
        if cursor is not None:
            after = (float(cursor[0]), str(cursor[1]))
            visible = [j for j in visible if j.order_key > after]
        size = int(params.get("MaxResults") or DEFAULT_PAGE_SIZE)
        page, rest = visible[:size], visible[size:]
        out: dict[str, Any] = {
            "Jobs": [
                without_none(
                    {
                        "JobId": j.job_id,
                        "EntityId": j.entity_id,
                        "Description": j.description,
                        "S3BucketName": j.s3_bucket_name,
                        "S3Path": j.s3_path,
                        "EstimatedProgress": j.progress,
                        "State": j.state,
                        "StartTime": j.start_time,
                        "EndTime": j.end_time,
                    }
                )
                for j in page
            ]
        }
        if rest:
            out["NextToken"] = encode_token("jobs", org_id, list(page[-1].order_key))
        return out

    def restart_token(self, operation: str, organization_id: str) -> str:
        """A valid NextToken that starts over: the 'endless-token' fault hands it out forever."""
        kind = "jobs" if operation == "ListMailboxExportJobs" else operation
        return encode_token(kind, organization_id, None)


_Handler = Callable[[EmulatorState, Mapping[str, Any], str], dict[str, Any]]
_OPERATIONS: dict[str, _Handler] = {
    "StartMailboxExportJob": EmulatorState.start_mailbox_export_job,
    "CancelMailboxExportJob": EmulatorState.cancel_mailbox_export_job,
    "DescribeMailboxExportJob": EmulatorState.describe_mailbox_export_job,
    "ListMailboxExportJobs": EmulatorState.list_mailbox_export_jobs,
    "ListOrganizations": EmulatorState.list_organizations,
    "DescribeOrganization": EmulatorState.describe_organization,
    "ListUsers": EmulatorState.list_users,
    "ListResources": EmulatorState.list_resources,
    "DescribeUser": EmulatorState.describe_user,
    "DescribeResource": EmulatorState.describe_resource,
    "GetMailboxDetails": get_mailbox_details,
}
IMPLEMENTED_OPERATIONS: frozenset[str] = frozenset(_OPERATIONS)
