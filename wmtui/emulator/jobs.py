"""One emulated export job and how it moves on: progress and end worked out from the clock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

__all__ = ["FAILURE_REASONS", "JOB_STATES", "EmulatedJob", "StartRecord", "s3_path"]

JOB_STATES = ("RUNNING", "COMPLETED", "FAILED", "CANCELLED")

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


def s3_path(prefix: str, job_id: str) -> str:
    """Where the export lands: the prefix, then the job's .zip (kept within the 1023 limit)."""
    name = f"{job_id}.zip"
    head = prefix.rstrip("/")[: 1023 - len(name) - 1]
    return f"{head}/{name}" if head else name
