"""What the emulated WorkMail holds: organizations, mailboxes, export jobs, a clock, the limits.

Everything here is guarded by one lock, so the HTTP server's threads, a test and a benchmark can
read and change it at once. Jobs are settled lazily: a RUNNING job's progress and end are worked
out from the clock whenever it is looked at, so nothing needs a background thread.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

# The service's limits (AWS admin guide): 10 running exports per organization, and a mailbox may be
# exported once per 24 hours; ListMailboxExportJobs covers jobs started in the last 7 days.
DEFAULT_MAX_RUNNING = 10
MAILBOX_EXPORT_WINDOW = timedelta(hours=24)
LIST_WINDOW = timedelta(days=7)
DEFAULT_PAGE_SIZE = 100

ACCOUNT_ID = "123456789012"
JOB_STATES = ("RUNNING", "COMPLETED", "FAILED", "CANCELLED")
ENTITY_STATES = ("ENABLED", "DISABLED", "DELETED")

# What a real failed export says (paraphrased from the admin guide's requirements).
FAILURE_REASONS = (
    "Unable to write to the S3 bucket: Access Denied. Check that the role grants s3:PutObject "
    "and s3:AbortMultipartUpload on the bucket and prefix.",
    "Unable to use the KMS key: kms:GenerateDataKey was denied for the export role.",
    "The role could not be assumed by export.workmail.amazonaws.com. Check the role's trust "
    "policy.",
    "The S3 bucket policy allows public access. Exports are written only to buckets that are "
    "not public.",
    "Internal error while reading the mailbox. Start the export again.",
)


class ApiError(Exception):
    """An error answer: the code botocore maps to client.exceptions.<code>, and its message."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class EmulatorClock:
    """The emulator's notion of now: real time sped up by `speed`, or frozen until advanced.

    In manual mode time moves only through advance(), so tests decide exactly when jobs finish.
    """

    def __init__(
        self,
        *,
        start: datetime | None = None,
        speed: float = 1.0,
        manual: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._base = (start or datetime.now(UTC)).astimezone(UTC)
        self._base_tick = monotonic()
        self._speed = speed
        self.manual = manual

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        with self._lock:
            # Re-base so that changing speed never makes time jump.
            self._base = self._now_locked()
            self._base_tick = self._monotonic()
            self._speed = speed

    def _now_locked(self) -> datetime:
        if self.manual:
            return self._base
        elapsed = (self._monotonic() - self._base_tick) * self._speed
        return self._base + timedelta(seconds=elapsed)

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move emulated time forward (in either mode); returns the new now."""
        step = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        with self._lock:
            self._base += step
            return self._now_locked()


@dataclass(frozen=True)
class EmulatedOrganization:
    organization_id: str
    alias: str
    region: str
    state: str
    default_mail_domain: str
    directory_id: str
    created: datetime
    sequence: int


@dataclass(frozen=True)
class EmulatedMailbox:
    entity_id: str
    organization_id: str
    kind: str  # USER, ROOM or EQUIPMENT
    name: str
    email: str | None
    display_name: str | None
    state: str
    enabled_date: datetime
    description: str | None
    sequence: int

    @property
    def is_resource(self) -> bool:
        return self.kind != "USER"


@dataclass(frozen=True)
class EmulatedJob:
    """One export job. `state`, `progress` and `end_time` are as of the last settle()."""

    job_id: str
    organization_id: str
    entity_id: str
    description: str | None
    role_arn: str
    kms_key_arn: str
    s3_bucket_name: str
    s3_prefix: str
    s3_path: str
    start_time: datetime
    duration: timedelta
    outcome: str  # what a RUNNING job turns into by itself: COMPLETED or FAILED
    fail_fraction: float  # how far a job bound to fail gets
    error_info: str | None
    state: str
    progress: int
    end_time: datetime | None
    client_token: str | None = None
    via_api: bool = False

    @property
    def order_key(self) -> tuple[float, str]:
        """Newest first, ties by ID: the order ListMailboxExportJobs answers in."""
        return (-self.start_time.timestamp(), self.job_id)

    def settled(self, now: datetime) -> EmulatedJob:
        if self.state != "RUNNING":
            return self
        fraction = self.fail_fraction if self.outcome == "FAILED" else 1.0
        ends = self.start_time + self.duration * fraction
        if now >= ends:
            progress = 100 if self.outcome == "COMPLETED" else int(100 * fraction)
            return replace(self, state=self.outcome, progress=progress, end_time=ends)
        elapsed = max(timedelta(0), now - self.start_time)
        total = self.duration.total_seconds()
        progress = int(100 * elapsed.total_seconds() / total) if total > 0 else 0
        return replace(self, progress=max(0, min(99, progress)))


@dataclass(frozen=True)
class StartRecord:
    """One StartMailboxExportJob that started a job (idempotent replays are not recorded)."""

    at: datetime
    organization_id: str
    entity_id: str
    job_id: str
    client_token: str


def _epoch(value: datetime) -> float:
    return value.timestamp()


class EmulatorState:
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
        self.clock = clock or EmulatorClock()
        self.max_running = max_running
        # Jobs started through the API last job_duration, give or take the jitter (a fraction).
        self.job_duration = job_duration
        self.job_duration_jitter = job_duration_jitter
        self.failure_rate = failure_rate
        self.counters: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._random = random.Random(seed)
        self._organizations: dict[str, EmulatedOrganization] = {}
        self._mailboxes: dict[str, dict[str, EmulatedMailbox]] = {}
        self._jobs: dict[str, dict[str, EmulatedJob]] = {}
        self._tokens: dict[tuple[str, str], tuple[tuple[Any, ...], str]] = {}
        self._max_running_seen: Counter[str] = Counter()
        self._start_log: list[StartRecord] = []
        self._sequence = 0

    # ----------------------------------------------------------------- ids and bookkeeping

    def _hex(self, digits: int) -> str:
        return f"{self._random.getrandbits(4 * digits):0{digits}x}"

    def _uuid_like(self) -> str:
        h = self._hex(32)
        variant = "89ab"[int(h[16], 16) % 4]
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def count(self, operation: str) -> None:
        with self._lock:
            self.counters[operation] += 1

    def reset_counters(self) -> None:
        with self._lock:
            self.counters.clear()

    def counters_snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counters)

    # ----------------------------------------------------------------- building the world

    def add_organization(
        self,
        alias: str,
        organization_id: str | None = None,
        state: str = "Active",
        *,
        region: str = "us-east-1",
        default_mail_domain: str | None = None,
    ) -> str:
        with self._lock:
            org_id = organization_id or f"m-{self._hex(32)}"
            if org_id in self._organizations:
                raise ValueError(f"organization {org_id} exists")
            self._organizations[org_id] = EmulatedOrganization(
                organization_id=org_id,
                alias=alias,
                region=region,
                state=state,
                default_mail_domain=default_mail_domain or f"{alias}.awsapps.com",
                directory_id=f"d-{self._hex(10)}",
                created=self.clock.now() - timedelta(days=900),
                sequence=self._next_sequence(),
            )
            self._mailboxes[org_id] = {}
            self._jobs[org_id] = {}
            return org_id

    def set_organization_state(self, organization_id: str, state: str) -> None:
        with self._lock:
            org = self._organizations[organization_id]
            self._organizations[organization_id] = replace(org, state=state)

    def add_mailbox(
        self,
        organization_id: str,
        name: str,
        *,
        kind: str = "USER",
        display_name: str | None = None,
        email: str | None = None,
        state: str = "ENABLED",
        description: str | None = None,
        entity_id: str | None = None,
    ) -> str:
        """A user (kind USER) or resource (RESOURCE/ROOM or EQUIPMENT); returns its entity ID."""
        kind = "ROOM" if kind == "RESOURCE" else kind
        if kind not in ("USER", "ROOM", "EQUIPMENT"):
            raise ValueError(f"unknown mailbox kind {kind!r}")
        if state not in ENTITY_STATES:
            raise ValueError(f"unknown entity state {state!r}")
        with self._lock:
            org = self._organizations[organization_id]
            if entity_id is None:
                entity_id = f"r-{self._hex(32)}" if kind != "USER" else self._uuid_like()
            self._mailboxes[organization_id][entity_id] = EmulatedMailbox(
                entity_id=entity_id,
                organization_id=organization_id,
                kind=kind,
                name=name,
                email=email or f"{name}@{org.default_mail_domain}",
                display_name=display_name,
                state=state,
                enabled_date=self.clock.now() - timedelta(days=30 + self._random.randrange(900)),
                description=description,
                sequence=self._next_sequence(),
            )
            return entity_id

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
                s3_path=_s3_path(s3_prefix, job_id),
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

    # ----------------------------------------------------------------- reading it back

    @property
    def organization_ids(self) -> list[str]:
        with self._lock:
            return list(self._organizations)

    def organization(self, organization_id: str) -> EmulatedOrganization:
        with self._lock:
            return self._organizations[organization_id]

    def mailboxes(self, organization_id: str) -> list[EmulatedMailbox]:
        with self._lock:
            return list(self._mailboxes[organization_id].values())

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

    def _resolve_mailbox(self, organization_id: str, identifier: str) -> EmulatedMailbox | None:
        """The API accepts an entity ID, a user name or an email address."""
        mailboxes = self._mailboxes[organization_id]
        found = mailboxes.get(identifier)
        if found is None:
            wanted = identifier.lower()
            for mailbox in mailboxes.values():
                if mailbox.name.lower() == wanted or (mailbox.email or "").lower() == wanted:
                    found = mailbox
                    break
        if found is None or found.state == "DELETED":
            return None
        return found

    def _organization_for_call(self, region: str, organization_id: str) -> EmulatedOrganization:
        org = self._organizations.get(organization_id)
        # Organizations are regional: one in another region does not exist from here.
        if org is None or org.region != region:
            raise ApiError(
                "OrganizationNotFoundException",
                f"Organization {organization_id} does not exist in region {region}.",
            )
        return org

    def _active_organization(self, region: str, organization_id: str) -> EmulatedOrganization:
        org = self._organization_for_call(region, organization_id)
        if org.state != "Active":
            raise ApiError(
                "OrganizationStateException",
                f"The organization {organization_id} is not in a valid state: {org.state}.",
            )
        return org

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
        fingerprint = tuple(
            params.get(name)
            for name in (
                "EntityId",
                "Description",
                "RoleArn",
                "KmsKeyArn",
                "S3BucketName",
                "S3Prefix",
            )
        )
        earlier = self._tokens.get((org_id, token))
        if earlier is not None:
            if earlier[0] != fingerprint:
                raise ApiError(
                    "InvalidParameterException",
                    "The ClientToken was already used with different parameters.",
                )
            return {"JobId": earlier[1]}
        mailbox = self._resolve_mailbox(org_id, params["EntityId"])
        if mailbox is None:
            raise ApiError(
                "EntityNotFoundException",
                f"The entity {params['EntityId']} was not found in organization {org_id}.",
            )
        if mailbox.state != "ENABLED":
            # Not modeled for this operation: botocore raises a plain ClientError with this code.
            raise ApiError(
                "EntityStateException",
                f"The entity {mailbox.entity_id} is {mailbox.state} and has no mailbox to export.",
            )
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
            s3_path=_s3_path(prefix, job_id),
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
        return _without_none(out)

    def list_mailbox_export_jobs(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        org_id = params["OrganizationId"]
        self._active_organization(region, org_id)
        now = self.clock.now()
        cursor = self._decode_token("jobs", org_id, params.get("NextToken"))
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
                _without_none(
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
            out["NextToken"] = self._encode_token("jobs", org_id, list(page[-1].order_key))
        return out

    def restart_token(self, operation: str, organization_id: str) -> str:
        """A valid NextToken that starts over: the 'endless-token' fault hands it out forever."""
        kind = "jobs" if operation == "ListMailboxExportJobs" else operation
        return self._encode_token(kind, organization_id, None)

    def list_organizations(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        cursor = self._decode_token("orgs", region, params.get("NextToken"))
        orgs = [o for o in self._organizations.values() if o.region == region]
        if cursor is not None:
            orgs = [o for o in orgs if o.sequence > int(cursor)]
        size = int(params.get("MaxResults") or DEFAULT_PAGE_SIZE)
        page, rest = orgs[:size], orgs[size:]
        out: dict[str, Any] = {
            "OrganizationSummaries": [
                {
                    "OrganizationId": o.organization_id,
                    "Alias": o.alias,
                    "DefaultMailDomain": o.default_mail_domain,
                    "State": o.state,
                }
                for o in page
            ]
        }
        if rest:
            out["NextToken"] = self._encode_token("orgs", region, page[-1].sequence)
        return out

    def describe_organization(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        org = self._organization_for_call(region, params["OrganizationId"])
        return {
            "OrganizationId": org.organization_id,
            "Alias": org.alias,
            "State": org.state,
            "DirectoryId": org.directory_id,
            "DirectoryType": "WorkMailDirectory",
            "DefaultMailDomain": org.default_mail_domain,
            "CompletedDate": org.created,
            "ARN": f"arn:aws:workmail:{org.region}:{ACCOUNT_ID}:organization/{org.organization_id}",
            "InteroperabilityEnabled": False,
        }

    def _list_entities(
        self, params: Mapping[str, Any], region: str, *, resources: bool
    ) -> tuple[list[EmulatedMailbox], str | None]:
        org_id = params["OrganizationId"]
        self._active_organization(region, org_id)
        kind = "resources" if resources else "users"
        cursor = self._decode_token(kind, org_id, params.get("NextToken"))
        filters: Mapping[str, Any] = params.get("Filters") or {}
        name_prefix = (
            filters.get("NamePrefix") if resources else filters.get("UsernamePrefix")
        ) or ""
        display_prefix = ("" if resources else filters.get("DisplayNamePrefix")) or ""
        email_prefix = filters.get("PrimaryEmailPrefix") or ""
        wanted_state = filters.get("State")
        matches = [
            m
            for m in self._mailboxes[org_id].values()
            if m.is_resource == resources
            and (m.state != "DELETED" or wanted_state == "DELETED")
            and (wanted_state is None or m.state == wanted_state)
            and m.name.lower().startswith(name_prefix.lower())
            and (m.display_name or "").lower().startswith(display_prefix.lower())
            and (m.email or "").lower().startswith(email_prefix.lower())
        ]
        if cursor is not None:
            matches = [m for m in matches if m.sequence > int(cursor)]
        size = int(params.get("MaxResults") or DEFAULT_PAGE_SIZE)
        page, rest = matches[:size], matches[size:]
        token = self._encode_token(kind, org_id, page[-1].sequence) if rest else None
        return page, token

    def list_users(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        page, token = self._list_entities(params, region, resources=False)
        out: dict[str, Any] = {"Users": [_user_summary(m) for m in page]}
        if token:
            out["NextToken"] = token
        return out

    def list_resources(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        page, token = self._list_entities(params, region, resources=True)
        out: dict[str, Any] = {"Resources": [_resource_summary(m) for m in page]}
        if token:
            out["NextToken"] = token
        return out

    def _described_entity(
        self, params: Mapping[str, Any], region: str, key: str, *, resource: bool
    ) -> EmulatedMailbox:
        org_id = params["OrganizationId"]
        self._active_organization(region, org_id)
        mailbox = self._resolve_mailbox(org_id, params[key])
        if mailbox is None or mailbox.is_resource != resource:
            what = "resource" if resource else "user"
            raise ApiError(
                "EntityNotFoundException",
                f"The {what} {params[key]} was not found in organization {org_id}.",
            )
        return mailbox

    def describe_user(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        m = self._described_entity(params, region, "UserId", resource=False)
        # People have a first and last name; shared mailboxes (no dot in the name) do not.
        first, _, last = (m.display_name or "").partition(" ") if "." in m.name else ("", "", "")
        out: dict[str, Any] = {
            "UserId": m.entity_id,
            "Name": m.name,
            "Email": m.email,
            "DisplayName": m.display_name,
            "State": m.state,
            "UserRole": "USER",
            "EnabledDate": m.enabled_date,
            "MailboxProvisionedDate": m.enabled_date,
            "FirstName": first or None,
            "LastName": last or None,
            "HiddenFromGlobalAddressList": False,
        }
        return _without_none(out)

    def describe_resource(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        m = self._described_entity(params, region, "ResourceId", resource=True)
        out: dict[str, Any] = {
            "ResourceId": m.entity_id,
            "Email": m.email,
            "Name": m.name,
            "Type": m.kind,
            "BookingOptions": {
                "AutoAcceptRequests": True,
                "AutoDeclineRecurringRequests": False,
                "AutoDeclineConflictingRequests": True,
            },
            "State": m.state,
            "EnabledDate": m.enabled_date,
            "Description": m.description,
            "HiddenFromGlobalAddressList": False,
        }
        return _without_none(out)

    # ----------------------------------------------------------------- paging tokens

    @staticmethod
    def _encode_token(kind: str, scope: str, cursor: object) -> str:
        raw = json.dumps({"k": kind, "s": scope, "c": cursor}, separators=(",", ":"))
        return base64.b64encode(raw.encode()).decode("ascii")

    @staticmethod
    def _decode_token(kind: str, scope: str, token: str | None) -> Any:
        """The cursor inside a NextToken we issued, None for the first page."""
        if token is None:
            return None
        try:
            data = json.loads(base64.b64decode(token.encode("ascii"), validate=True))
            if not isinstance(data, dict) or data.get("k") != kind or data.get("s") != scope:
                raise ValueError("token from another listing")
            cursor = data.get("c")
            if cursor is not None and not (
                isinstance(cursor, int)
                or (isinstance(cursor, list) and len(cursor) == 2 and isinstance(cursor[1], str))
            ):
                raise ValueError("malformed cursor")
            return cursor
        except (ValueError, UnicodeError, binascii.Error, TypeError) as exc:
            raise ApiError("InvalidParameterException", "The NextToken is invalid.") from exc


def _s3_path(prefix: str, job_id: str) -> str:
    """Where the export lands: the prefix, then the job's .zip (kept within the 1023 limit)."""
    name = f"{job_id}.zip"
    head = prefix.rstrip("/")[: 1023 - len(name) - 1]
    return f"{head}/{name}" if head else name


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def _user_summary(m: EmulatedMailbox) -> dict[str, Any]:
    return _without_none(
        {
            "Id": m.entity_id,
            "Email": m.email,
            "Name": m.name,
            "DisplayName": m.display_name,
            "State": m.state,
            "UserRole": "USER",
            "EnabledDate": m.enabled_date,
        }
    )


def _resource_summary(m: EmulatedMailbox) -> dict[str, Any]:
    return _without_none(
        {
            "Id": m.entity_id,
            "Email": m.email,
            "Name": m.name,
            "Type": m.kind,
            "State": m.state,
            "EnabledDate": m.enabled_date,
            "Description": m.description,
        }
    )


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
}
IMPLEMENTED_OPERATIONS: frozenset[str] = frozenset(_OPERATIONS)


def to_wire(value: Any) -> Any:
    """Datetimes to epoch seconds (JSON 1.1's timestamp format), recursively."""
    if isinstance(value, datetime):
        return _epoch(value)
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value
