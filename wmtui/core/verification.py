"""Proof in S3: whether a COMPLETED export's file is in the bucket, whole, under the job's key.

A COMPLETED state says WorkMail finished; it does not say the `.zip` is still there today, that
it is not empty, or that it is encrypted with the KMS key the job was given. This module judges
what S3's HeadObject said (`ObjectFacts`) against the job, as one `Verification` kept on the job
(`ExportJob.verification`, saved in the job cache), and says when a job is worth checking again.

Pure: no boto3, no textual, no clock of its own. The small API other features read:

    verification_of(job)          # the last result, or None (never checked / not COMPLETED)
    mark(job)                     # one character for a table cell: ✓ ? ✗ ! …
    outcome_label(job)            # "verified", "missing", ..., "not verified"
    needs_check(job, now)         # whether a background pass should check it now
    count_outcomes(jobs)          # {Outcome: count} for a status line
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

# models imports this module only lazily (ExportJob.from_dict), so this is no cycle.
from wmtui.core.models import JobState

if TYPE_CHECKING:
    from wmtui.core.models import ExportJob

__all__ = [
    "RECHECK_FAILED_AFTER",
    "RECHECK_VERIFIED_AFTER",
    "SUSPICIOUS_MAILBOX_MB",
    "SUSPICIOUS_RATIO",
    "ObjectFacts",
    "Outcome",
    "Verification",
    "count_outcomes",
    "is_checkable",
    "judge",
    "mark",
    "needs_check",
    "outcome_label",
    "same_kms_key",
    "verification_of",
]

# A VERIFIED object is read again only on request or once a day: it rarely changes, and a
# thousand HeadObject calls every refresh would cost the bucket owner for nothing.
RECHECK_VERIFIED_AFTER = timedelta(days=1)
# Anything else (missing, forbidden, an error) may be fixed by the admin at any moment.
RECHECK_FAILED_AFTER = timedelta(minutes=10)
# An export far smaller than its mailbox is worth a look: below 1% of a mailbox over 100 MB.
SUSPICIOUS_MAILBOX_MB = 100.0
SUSPICIOUS_RATIO = 0.01

_MB = 1024 * 1024


class Outcome(StrEnum):
    VERIFIED = "VERIFIED"  # there, not empty, SSE-KMS with the job's key
    MISSING = "MISSING"  # no object at the job's S3 path
    EMPTY = "EMPTY"  # an object of 0 bytes
    WRONG_KEY = "WRONG_KEY"  # not SSE-KMS, or another KMS key than the job's
    FORBIDDEN = "FORBIDDEN"  # S3 refused HeadObject: the permission to add is in `error`
    ERROR = "ERROR"  # the check itself failed (network, throttling ...): `error` says what
    SUSPICIOUS = "SUSPICIOUS"  # there and encrypted, but far smaller than the mailbox

    @property
    def is_proof(self) -> bool:
        """The only outcome that proves the mailbox is safely out."""
        return self is Outcome.VERIFIED

    @property
    def is_problem(self) -> bool:
        """The object is missing, empty or wrongly encrypted: the export must be redone."""
        return self in (Outcome.MISSING, Outcome.EMPTY, Outcome.WRONG_KEY)


# What each outcome looks like in a narrow cell and in words.
_MARKS: dict[Outcome, str] = {
    Outcome.VERIFIED: "✓",
    Outcome.MISSING: "✗",
    Outcome.EMPTY: "✗",
    Outcome.WRONG_KEY: "✗",
    Outcome.FORBIDDEN: "!",
    Outcome.ERROR: "!",
    Outcome.SUSPICIOUS: "?",
}
_LABELS: dict[Outcome, str] = {
    Outcome.VERIFIED: "verified",
    Outcome.MISSING: "missing in S3",
    Outcome.EMPTY: "empty file",
    Outcome.WRONG_KEY: "wrong KMS key",
    Outcome.FORBIDDEN: "access denied",
    Outcome.ERROR: "check failed",
    Outcome.SUSPICIOUS: "suspiciously small",
}
NOT_CHECKED_MARK = "·"
NOT_CHECKED_LABEL = "not verified"


@dataclass(frozen=True)
class ObjectFacts:
    """What HeadObject said about an export's object."""

    size: int
    etag: str | None = None
    last_modified: datetime | None = None
    # ServerSideEncryption: "aws:kms", "aws:kms:dsse", "AES256", or None.
    encryption: str | None = None
    kms_key: str | None = None  # SSEKMSKeyId: the key's ARN


@dataclass(frozen=True)
class Verification:
    """One check of one job's export object, as kept in the job cache."""

    outcome: Outcome
    checked_at: datetime
    object_size: int | None = None
    etag: str | None = None
    last_modified: datetime | None = None
    encryption: str | None = None
    kms_key: str | None = None
    # FORBIDDEN: the permission to add; ERROR: what failed; others: a detail worth showing.
    error: str | None = None
    mailbox_size_mb: float | None = None

    @property
    def summary(self) -> str:
        """One line for a detail pane or a CLI table."""
        label = _LABELS[self.outcome]
        if self.outcome is Outcome.SUSPICIOUS and self.object_size is not None:
            label += f" ({human_size(self.object_size)} for a {self.mailbox_size_mb:g} MB mailbox)"
        elif self.object_size is not None and self.outcome is Outcome.VERIFIED:
            label += f" ({human_size(self.object_size)})"
        if self.error:
            label += f": {self.error}"
        return label

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "checked_at": _iso(self.checked_at),
            "object_size": self.object_size,
            "etag": self.etag,
            "last_modified": _iso(self.last_modified),
            "encryption": self.encryption,
            "kms_key": self.kms_key,
            "error": self.error,
            "mailbox_size_mb": self.mailbox_size_mb,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verification:
        """Inverse of to_dict; ValueError/TypeError/KeyError on a malformed record."""
        if not isinstance(data, Mapping):
            raise TypeError("a verification is not an object")
        size = data.get("object_size")
        mailbox = data.get("mailbox_size_mb")
        return cls(
            outcome=Outcome(data["outcome"]),
            checked_at=_time(data["checked_at"]),
            object_size=None if size is None else int(size),
            etag=_text(data.get("etag")),
            last_modified=None
            if data.get("last_modified") is None
            else _time(data["last_modified"]),
            encryption=_text(data.get("encryption")),
            kms_key=_text(data.get("kms_key")),
            error=_text(data.get("error")),
            mailbox_size_mb=None if mailbox is None else float(mailbox),
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _time(value: object) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def human_size(size: int) -> str:
    """Bytes as a person reads them: 812 B, 4.2 MB, 1.3 GB."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover - the loop always returns


# ---- judging ---------------------------------------------------------------------------------


def same_kms_key(expected: str | None, actual: str | None) -> bool:
    """Whether the object's key is the job's: the same ARN, or the same key ID in one account
    and region (S3 reports the key's ARN; a job may have been given it in either form)."""
    if not expected or not actual:
        return False
    if expected == actual:
        return True
    return _key_identity(expected) == _key_identity(actual) is not None


def _key_identity(arn: str) -> tuple[str, str, str] | None:
    """(region, account, key id) of a KMS key ARN; None for an alias or anything else."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "kms":
        return None
    resource = parts[5]
    if not resource.startswith("key/"):
        return None
    return (parts[3], parts[4], resource[len("key/") :])


def judge(
    job: ExportJob,
    facts: ObjectFacts | None,
    *,
    checked_at: datetime,
    mailbox_size_mb: float | None = None,
) -> Verification:
    """The outcome of a HeadObject answer for `job` (`facts` None: the object is not there)."""
    if facts is None:
        return Verification(
            Outcome.MISSING,
            checked_at,
            error=f"no object at {job.s3_uri}" if job.s3_uri else "the job has no S3 path",
            mailbox_size_mb=mailbox_size_mb,
        )
    base = Verification(
        Outcome.VERIFIED,
        checked_at,
        object_size=facts.size,
        etag=facts.etag,
        last_modified=facts.last_modified,
        encryption=facts.encryption,
        kms_key=facts.kms_key,
        mailbox_size_mb=mailbox_size_mb,
    )
    if facts.size <= 0:
        return replace(base, outcome=Outcome.EMPTY, error="the object is 0 bytes")
    if not (facts.encryption or "").startswith("aws:kms"):
        shown = facts.encryption or "none"
        return replace(
            base, outcome=Outcome.WRONG_KEY, error=f"not SSE-KMS (server-side encryption: {shown})"
        )
    if not job.kms_key_arn:
        return replace(
            base,
            outcome=Outcome.ERROR,
            error="the job's KMS key is not known yet (DescribeMailboxExportJob gives it)",
        )
    if not same_kms_key(job.kms_key_arn, facts.kms_key):
        return replace(
            base,
            outcome=Outcome.WRONG_KEY,
            error=f"encrypted with {facts.kms_key or 'an unnamed key'}, not {job.kms_key_arn}",
        )
    if (
        mailbox_size_mb is not None
        and mailbox_size_mb > SUSPICIOUS_MAILBOX_MB
        and facts.size < mailbox_size_mb * _MB * SUSPICIOUS_RATIO
    ):
        return replace(
            base,
            outcome=Outcome.SUSPICIOUS,
            error=f"{human_size(facts.size)} for a mailbox of {mailbox_size_mb:g} MB",
        )
    return base


def failed_check(
    outcome: Outcome, why: str, *, checked_at: datetime, mailbox_size_mb: float | None = None
) -> Verification:
    """A FORBIDDEN or ERROR result: the object could not be looked at."""
    return Verification(outcome, checked_at, error=why, mailbox_size_mb=mailbox_size_mb)


# ---- reading results -------------------------------------------------------------------------


def is_checkable(job: ExportJob) -> bool:
    """Only a COMPLETED job with an S3 path has an object to check."""
    return job.state is JobState.COMPLETED and job.s3_uri is not None


def verification_of(job: ExportJob | None) -> Verification | None:
    """The job's last verification; None if never checked or the job is not COMPLETED."""
    # The cheap test first: most jobs were never checked (the S3 path's check is a regex).
    if job is None or job.verification is None or not is_checkable(job):
        return None
    return job.verification


def needs_check(job: ExportJob, now: datetime, *, forced: bool = False) -> bool:
    """Whether to check the job's object now: never unless COMPLETED; on request; when never
    checked; a day after a VERIFIED (or SUSPICIOUS) one; ten minutes after anything else."""
    if not is_checkable(job):
        return False
    if forced:
        return True
    last = job.verification
    if last is None:
        return True
    settled = last.outcome in (Outcome.VERIFIED, Outcome.SUSPICIOUS)
    wait = RECHECK_VERIFIED_AFTER if settled else RECHECK_FAILED_AFTER
    return now - last.checked_at >= wait


def mark(job: ExportJob | None) -> str:
    """One character for a table cell: ✓ verified, ? suspicious, ✗ missing/empty/wrong key,
    ! could not check, · not checked yet; "" for a job that is not COMPLETED."""
    if job is None or not is_checkable(job):
        return ""
    found = job.verification
    return NOT_CHECKED_MARK if found is None else _MARKS[found.outcome]


def outcome_label(job: ExportJob | None) -> str:
    """A few words: "verified", "missing in S3", ..., "not verified"; "" if not COMPLETED."""
    if job is None or not is_checkable(job):
        return ""
    found = job.verification
    return NOT_CHECKED_LABEL if found is None else _LABELS[found.outcome]


def count_outcomes(jobs: Iterable[ExportJob]) -> Counter[Outcome]:
    """How many COMPLETED jobs had each outcome at their last check (unchecked ones left out)."""
    counts: Counter[Outcome] = Counter()
    for job in jobs:
        found = verification_of(job)
        if found is not None:
            counts[found.outcome] += 1
    return counts
