"""The things wmtui talks about: jobs, their keys and states, mailboxes, organizations.

Pure data and validation. No textual, no boto3: both sides of the app import this.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wmtui.core.verification import Verification

# Regions with WorkMail in botocore's endpoint data. botocore builds a URL for any region,
# so an unknown one is caught here rather than as a DNS failure much later.
WORKMAIL_REGIONS: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-west-1")

# Patterns and lengths from botocore's WorkMail model (service-2.json, 2017-10-01).
JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9-]+")
JOB_ID_MAX = 63
ORGANIZATION_ID_PATTERN = re.compile(r"m-[0-9a-f]{32}")
ENTITY_ID_PATTERN = re.compile(r"[a-zA-Z0-9._%+@-]+")
ENTITY_ID_MAX = 256
S3_BUCKET_PATTERN = re.compile(r"[A-Za-z0-9.-]+")
S3_PATH_PATTERN = re.compile(r"[A-Za-z0-9!_.*'()/-]+")
REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


class JobState(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    # Anything else the API might send one day: shown as it came, never a crash.
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: object) -> JobState:
        if isinstance(value, str):
            try:
                return cls(value)
            except ValueError:
                pass
        return cls.UNKNOWN

    @property
    def is_final(self) -> bool:
        """COMPLETED, FAILED and CANCELLED never change again."""
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


def printable(value: object, limit: int = 80) -> str:
    """A value made safe to quote in a one-line message: controls escaped, length capped."""
    text = value if isinstance(value, str) else repr(value)
    out: list[str] = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            out.append(ch)
    joined = "".join(out)
    if len(joined) > limit:
        joined = joined[: limit - 1] + "…"
    return repr(joined) if joined != joined.strip() or not joined else joined


class ValidationError(ValueError):
    """A value the user gave breaks one of the service's rules."""

    def __init__(self, what: str, value: object, rule: str) -> None:
        self.what = what
        self.value = value
        self.rule = rule
        shown = printable(value) if value != "" else "(empty)"
        super().__init__(f"invalid {what} {shown}: {rule}")


def validate_job_id(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError("job ID", value, "must be 1 to 63 characters")
    if len(value) > JOB_ID_MAX:
        raise ValidationError(
            "job ID", value, f"must be at most {JOB_ID_MAX} characters (got {len(value)})"
        )
    if not JOB_ID_PATTERN.fullmatch(value):
        raise ValidationError("job ID", value, "may hold only letters, digits and '-'")
    return value


def validate_organization_id(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(
            "organization ID", value, "must be 'm-' followed by 32 lower-case hex digits"
        )
    if not ORGANIZATION_ID_PATTERN.fullmatch(value):
        if len(value) != 34:
            rule = f"must be 34 characters, 'm-' and 32 lower-case hex digits (got {len(value)})"
        else:
            rule = "must be 'm-' followed by 32 lower-case hex digits"
        raise ValidationError("organization ID", value, rule)
    return value


def validate_entity_id(value: str) -> str:
    if not isinstance(value, str) or not value or len(value) > ENTITY_ID_MAX:
        raise ValidationError("mailbox", value, f"must be 1 to {ENTITY_ID_MAX} characters")
    if not ENTITY_ID_PATTERN.fullmatch(value):
        raise ValidationError(
            "mailbox", value, "may hold only letters, digits and . _ % + @ - (an ID, name or email)"
        )
    return value


# A profile is a section name in the AWS config file: any printable text, kept to a sane length.
PROFILE_NAME_MAX = 128


def validate_profile_name(value: str) -> str:
    """An AWS profile name as the config file can hold it: printable, no surrounding spaces."""
    if not isinstance(value, str) or not value or len(value) > PROFILE_NAME_MAX:
        raise ValidationError("profile", value, f"must be 1 to {PROFILE_NAME_MAX} characters")
    if not value.isprintable() or value != value.strip() or any(c in value for c in "[]"):
        raise ValidationError(
            "profile", value, "must be printable, without [ ] or spaces around it"
        )
    return value


def validate_region(value: str, *, endpoint_url: str | None = None) -> str:
    """A region WorkMail runs in; any well-formed region when an endpoint URL is given."""
    if not isinstance(value, str) or not value:
        raise ValidationError("region", value, "is required (" + ", ".join(WORKMAIL_REGIONS) + ")")
    if endpoint_url:
        if not REGION_PATTERN.fullmatch(value):
            raise ValidationError("region", value, "is not a region name such as us-east-1")
        return value
    if value not in WORKMAIL_REGIONS:
        raise ValidationError(
            "region", value, "WorkMail runs only in " + ", ".join(WORKMAIL_REGIONS)
        )
    return value


_ARN_TAIL = r"[a-z0-9-]*:[a-z0-9-]+:[A-Za-z0-9][A-Za-z0-9:_/+=,@.-]{0,1023}"
ROLE_ARN_PATTERN = re.compile("arn:aws:iam:" + _ARN_TAIL)
KMS_KEY_ARN_PATTERN = re.compile("arn:aws:kms:" + _ARN_TAIL)
ROLE_ARN_EXAMPLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KMS_KEY_ARN_EXAMPLE = "arn:aws:kms:us-east-1:123456789012:key/…"


def _validate_arn(what: str, value: str, pattern: re.Pattern[str], example: str) -> str:
    if not isinstance(value, str) or not 20 <= len(value) <= 2048:
        raise ValidationError(what, value, f"must be 20 to 2048 characters, such as {example}")
    if not pattern.fullmatch(value):
        raise ValidationError(what, value, f"must be an ARN such as {example}")
    return value


def validate_role_arn(value: str) -> str:
    return _validate_arn("role ARN", value, ROLE_ARN_PATTERN, ROLE_ARN_EXAMPLE)


def validate_kms_key_arn(value: str) -> str:
    return _validate_arn("KMS key ARN", value, KMS_KEY_ARN_PATTERN, KMS_KEY_ARN_EXAMPLE)


def validate_s3_bucket(value: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 63:
        raise ValidationError("S3 bucket", value, "must be 1 to 63 characters")
    if not S3_BUCKET_PATTERN.fullmatch(value):
        raise ValidationError("S3 bucket", value, "may hold only letters, digits, '.' and '-'")
    return value


def validate_s3_prefix(value: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 1023:
        raise ValidationError("S3 prefix", value, "must be 1 to 1023 characters")
    if not S3_PATH_PATTERN.fullmatch(value):
        raise ValidationError(
            "S3 prefix", value, "may hold only letters, digits and ! _ . * ' ( ) / -"
        )
    return value


def validate_description(value: str) -> str:
    if not isinstance(value, str) or len(value) > 1023:
        raise ValidationError("description", value, "must be at most 1023 characters")
    return value


def validate_client_token(value: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise ValidationError("client token", value, "must be 1 to 128 characters")
    if any(not 0x21 <= ord(ch) <= 0x7E for ch in value):
        raise ValidationError("client token", value, "may hold only printable ASCII without spaces")
    return value


@dataclass(frozen=True, order=True)
class JobKey:
    """What identifies a watched job: a job ID is unique only within its organization."""

    region: str
    organization_id: str
    job_id: str
    # Keys go in and out of sets and dicts thousands of times a refresh: hash them once.
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.region, self.organization_id, self.job_id)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        # The same job read again comes back as a new key: compared on every dict look-up.
        if self is other:
            return True
        if other.__class__ is not JobKey:
            return NotImplemented
        return (
            self._hash == other._hash
            and self.job_id == other.job_id
            and self.organization_id == other.organization_id
            and self.region == other.region
        )

    def __reduce__(self) -> tuple[type[JobKey], tuple[str, str, str]]:
        # A string's hash differs between processes: a copy hashes its fields again.
        return (JobKey, (self.region, self.organization_id, self.job_id))

    def __str__(self) -> str:
        return f"{self.region}/{self.organization_id}/{self.job_id}"

    @classmethod
    def validated(
        cls, region: str, organization_id: str, job_id: str, *, endpoint_url: str | None = None
    ) -> JobKey:
        return cls(
            validate_region(region, endpoint_url=endpoint_url),
            validate_organization_id(organization_id),
            validate_job_id(job_id),
        )

    def to_dict(self) -> dict[str, str]:
        return {
            "region": self.region,
            "organization_id": self.organization_id,
            "job_id": self.job_id,
        }


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC datetimes everywhere; boto3 hands out local-time ones."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def s3_uri(bucket: str | None, path: str | None) -> str | None:
    """The s3:// URI of an export, or None when the service has not said where it goes.

    S3Path is documented as "the path to the S3 bucket and file", but whether it starts with
    the bucket name is not: accept both. Only characters the model allows survive, so the
    result can be pasted into a shell without carrying a newline or a control character.
    """
    if not path or not S3_PATH_PATTERN.fullmatch(path):
        return None
    if not bucket or not S3_BUCKET_PATTERN.fullmatch(bucket):
        return None
    key = path[len(bucket) + 1 :] if path.startswith(bucket + "/") else path
    key = key.lstrip("/")
    # A path of "/" or "bucket/" names no object: there is nothing to copy.
    return "s3://" + bucket + "/" + key if key else None


# The API's field names for each attribute, used for the cache and for `--json` output.
_API_NAMES: dict[str, str] = {
    "entity_id": "EntityId",
    "description": "Description",
    "role_arn": "RoleArn",
    "kms_key_arn": "KmsKeyArn",
    "s3_bucket_name": "S3BucketName",
    "s3_prefix": "S3Prefix",
    "s3_path": "S3Path",
    "estimated_progress": "EstimatedProgress",
    "error_info": "ErrorInfo",
    "start_time": "StartTime",
    "end_time": "EndTime",
}
_TIME_FIELDS = ("start_time", "end_time", "last_seen")
# What a List answer (or a fresh read) leaves out, kept from the record it is merged over.
_KEPT_WHEN_MISSING = frozenset(
    {"role_arn", "kms_key_arn", "s3_prefix", "error_info", "verification"}
)


@dataclass(frozen=True)
class ExportJob:
    """One mailbox export job as last read from the service."""

    key: JobKey
    state: JobState = JobState.UNKNOWN
    # The State string exactly as the service sent it (differs from `state` only for UNKNOWN).
    raw_state: str | None = None
    entity_id: str | None = None
    description: str | None = None
    role_arn: str | None = None
    kms_key_arn: str | None = None
    s3_bucket_name: str | None = None
    s3_prefix: str | None = None
    s3_path: str | None = None
    estimated_progress: int | None = None
    error_info: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    # When wmtui last read this job from the service (UTC); None if never.
    last_seen: datetime | None = None
    # True once a DescribeMailboxExportJob answer went into this record: List leaves out
    # RoleArn, KmsKeyArn, S3Prefix and ErrorInfo.
    described: bool = False
    # The last check of the export's object in S3 (wmtui.core.verification); None if never.
    verification: Verification | None = None

    @property
    def job_id(self) -> str:
        return self.key.job_id

    @property
    def s3_uri(self) -> str | None:
        return s3_uri(self.s3_bucket_name, self.s3_path)

    @property
    def progress(self) -> int | None:
        """EstimatedProgress clamped to 0-100; the service's range, whatever it sends."""
        if self.estimated_progress is None:
            return None
        return max(0, min(100, self.estimated_progress))

    def merged_with(self, newer: ExportJob) -> ExportJob:
        """`newer` over this record, keeping what a List answer leaves out."""
        updates: dict[str, Any] = {}
        for f in fields(newer):
            value = getattr(newer, f.name)
            if value is None and f.name in _KEPT_WHEN_MISSING:
                continue
            updates[f.name] = value
        updates["described"] = self.described or newer.described
        return replace(self, **updates)

    def to_api_dict(self) -> dict[str, Any]:
        """The API's field names, ISO-8601 UTC times, plus JobId, Region and OrganizationId."""
        out: dict[str, Any] = {
            "Region": self.key.region,
            "OrganizationId": self.key.organization_id,
            "JobId": self.key.job_id,
            "State": self.raw_state if self.raw_state is not None else self.state.value,
        }
        for attr, name in _API_NAMES.items():
            value = getattr(self, attr)
            if isinstance(value, datetime):
                value = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
            out[name] = value
        out["LastSeen"] = (
            self.last_seen.astimezone(UTC).isoformat().replace("+00:00", "Z")
            if self.last_seen
            else None
        )
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record for the last-known cache."""
        out: dict[str, Any] = {"key": self.key.to_dict()}
        for f in fields(self):
            if f.name == "key":
                continue
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.astimezone(UTC).isoformat()
            elif isinstance(value, JobState):
                value = value.value
            elif f.name == "verification":
                if value is None:
                    continue  # a never-checked job's record stays as it was
                value = value.to_dict()
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExportJob:
        """Inverse of to_dict; raises ValueError/TypeError/KeyError on a malformed record."""
        key_data = data["key"]
        key = JobKey(
            str(key_data["region"]), str(key_data["organization_id"]), str(key_data["job_id"])
        )
        kwargs: dict[str, Any] = {}
        names = {f.name for f in fields(cls)} - {"key"}
        for name in names:
            if name not in data:
                continue
            value = data[name]
            if name in _TIME_FIELDS and value is not None:
                value = utc(datetime.fromisoformat(str(value)))
            elif name == "state":
                value = JobState.parse(value)
            elif name == "estimated_progress" and value is not None:
                value = int(value)
            elif name == "described":
                value = bool(value)
            elif name == "verification" and value is not None:
                from wmtui.core.verification import Verification

                value = Verification.from_dict(value)
            elif value is not None:
                value = str(value)
            kwargs[name] = value
        return cls(key=key, **kwargs)


@dataclass(frozen=True)
class Organization:
    organization_id: str
    alias: str | None = None
    default_mail_domain: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class Mailbox:
    """A user or resource whose mailbox can be exported."""

    entity_id: str
    name: str | None = None
    email: str | None = None
    display_name: str | None = None
    kind: str = "USER"  # USER or RESOURCE (ROOM/EQUIPMENT are both resources here)
    state: str | None = None  # ENABLED, DISABLED, DELETED

    @property
    def label(self) -> str:
        """What a person recognises: display name, else name, else email, else the ID."""
        return self.display_name or self.name or self.email or self.entity_id


@dataclass(frozen=True)
class StartRequest:
    """The input of StartMailboxExportJob, less the organization."""

    entity_id: str
    s3_bucket_name: str
    s3_prefix: str
    role_arn: str
    kms_key_arn: str
    description: str = ""
    # Idempotency: the same token never starts a second job. None lets the service layer pick one.
    client_token: str | None = None


def now_utc() -> datetime:
    return datetime.now(UTC)
