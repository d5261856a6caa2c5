"""Where exports go, remembered per organization in ui-state.json, and the rules each field obeys.

The start form (`n`) and the organization-wide export (`E`) ask for the same four things: an S3
bucket, a prefix, an IAM role ARN and a KMS key ARN. They rarely change for an organization, so
the last ones used are kept under "start_defaults" in ui-state.json:

    {"start_defaults": {"m-0123…": {"region": "us-east-1", "bucket": "…", "prefix": "…",
                                     "role_arn": "…", "kms_key_arn": "…"}}}

The checks follow botocore's model for StartMailboxExportJob (and wmtui.aws's validators), so a
form that passes them is not refused by the client; each returns a sentence or None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wmtui.core.models import (
    S3_BUCKET_PATTERN,
    S3_PATH_PATTERN,
    ExportJob,
    ValidationError,
    printable,
    validate_organization_id,
    validate_region,
)
from wmtui.core.settings import load_ui_state, save_ui_state

STATE_KEY = "start_defaults"
# Organizations remembered at most: the file stays small whatever happens.
MAX_REMEMBERED = 50
DESCRIPTION_MAX = 1023
ARN_MIN, ARN_MAX = 20, 2048
# As IAM and KMS read them, stricter than the API's pattern (which lets any account through):
# a partition, a 12-digit account ID, no region for IAM and a region for KMS, `role/` with
# IAM's name characters (a path may come first), `key/` with a key ID.
_PARTITION = r"arn:aws(?:-[a-z]+)*"
_ROLE_ARN = re.compile(_PARTITION + r":iam::\d{12}:role/[\w+=,.@/-]{1,512}", re.ASCII)
_KMS_ARN = re.compile(
    _PARTITION + r":kms:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:key/[A-Za-z0-9-]{1,128}", re.ASCII
)


@dataclass(frozen=True)
class Destination:
    """Where an organization's exports go and with which role and key."""

    bucket: str = ""
    prefix: str = ""
    role_arn: str = ""
    kms_key_arn: str = ""

    def to_json(self, region: str) -> dict[str, str]:
        return {
            "region": region,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "role_arn": self.role_arn,
            "kms_key_arn": self.kms_key_arn,
        }

    @classmethod
    def from_json(cls, data: object) -> Destination | None:
        if not isinstance(data, dict):
            return None
        values = {
            name: data.get(name, "") for name in ("bucket", "prefix", "role_arn", "kms_key_arn")
        }
        if not all(isinstance(value, str) for value in values.values()):
            return None
        return cls(**values)


def _remembered(config_dir: Path) -> dict[str, Any]:
    state = load_ui_state(config_dir)
    found = state.get(STATE_KEY)
    return found if isinstance(found, dict) else {}


def remembered_destination(config_dir: Path, organization_id: str) -> Destination | None:
    """The destination last used for the organization, if any."""
    return Destination.from_json(_remembered(config_dir).get(organization_id))


def last_organization(config_dir: Path) -> tuple[str, str] | None:
    """(region, organization) of the destination saved last, to start a form with."""
    for organization_id, data in reversed(list(_remembered(config_dir).items())):
        if isinstance(data, dict) and isinstance(data.get("region"), str):
            return data["region"], str(organization_id)
    return None


def remember_destination(
    config_dir: Path, region: str, organization_id: str, destination: Destination
) -> bool:
    """Save it as the organization's default (the newest last); False if it could not be."""
    state = load_ui_state(config_dir)
    remembered = state.get(STATE_KEY)
    remembered = dict(remembered) if isinstance(remembered, dict) else {}
    remembered.pop(organization_id, None)
    remembered[organization_id] = destination.to_json(region)
    while len(remembered) > MAX_REMEMBERED:
        remembered.pop(next(iter(remembered)))
    state[STATE_KEY] = remembered
    return save_ui_state(config_dir, state)


# ---- the fields' rules -------------------------------------------------------------------------


def _shown(value: str) -> str:
    return printable(value, 40) if value else "(empty)"


def region_problem(value: str, *, endpoint_url: str | None = None) -> str | None:
    try:
        validate_region(value, endpoint_url=endpoint_url)
    except ValidationError as exc:
        return str(exc)
    return None


def organization_problem(value: str) -> str | None:
    try:
        validate_organization_id(value)
    except ValidationError as exc:
        return str(exc)
    return None


def bucket_problem(value: str) -> str | None:
    if not 1 <= len(value) <= 63:
        return f"the S3 bucket must be 1 to 63 characters (got {len(value)})"
    if not S3_BUCKET_PATTERN.fullmatch(value):
        return f"the S3 bucket {_shown(value)} may hold only letters, digits, '.' and '-'"
    return None


def prefix_problem(value: str) -> str | None:
    if not 1 <= len(value) <= 1023:
        return f"the S3 prefix must be 1 to 1023 characters (got {len(value)})"
    if not S3_PATH_PATTERN.fullmatch(value):
        return f"the S3 prefix {_shown(value)} may hold only letters, digits and ! _ . * ' ( ) / -"
    return None


def _arn_problem(value: str, what: str, pattern: re.Pattern[str], example: str) -> str | None:
    if not ARN_MIN <= len(value) <= ARN_MAX:
        return f"the {what} must be {ARN_MIN} to {ARN_MAX} characters (got {len(value)}): {example}"
    if not pattern.fullmatch(value):
        parts = value.split(":")
        why = ""
        if len(parts) > 4 and not re.fullmatch(r"\d{12}", parts[4], re.ASCII):
            why = " (an account ID has 12 digits)"
        return f"the {what} {_shown(value)} is not {example}{why}"
    return None


def role_arn_problem(value: str) -> str | None:
    return _arn_problem(
        value,
        "role ARN",
        _ROLE_ARN,
        "an IAM role ARN such as arn:aws:iam::123456789012:role/WorkMailExport",
    )


def kms_key_arn_problem(value: str) -> str | None:
    return _arn_problem(
        value,
        "KMS key ARN",
        _KMS_ARN,
        "a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/…",
    )


def description_problem(value: str) -> str | None:
    if len(value) > DESCRIPTION_MAX:
        return f"the description must be at most {DESCRIPTION_MAX} characters (got {len(value)})"
    return None


def destination_problems(destination: Destination) -> dict[str, str]:
    """Field name -> problem, for the four destination fields."""
    problems: dict[str, str] = {}
    for name, problem in (
        ("bucket", bucket_problem(destination.bucket)),
        ("prefix", prefix_problem(destination.prefix)),
        ("role_arn", role_arn_problem(destination.role_arn)),
        ("kms_key_arn", kms_key_arn_problem(destination.kms_key_arn)),
    ):
        if problem is not None:
            problems[name] = problem
    return problems


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def latest_destination(
    jobs: Iterable[ExportJob], region: str | None, organization_id: str
) -> tuple[str, Destination] | None:
    """(job ID, where it went) of the organization's newest job that names a bucket, prefix,
    role and KMS key (Describe gives all four); any region's when `region` is None (an
    organization ID names one organization)."""
    newest: ExportJob | None = None
    for job in jobs:
        if job.key.organization_id != organization_id or region not in (None, job.key.region):
            continue
        if not (job.s3_bucket_name and job.role_arn and job.kms_key_arn) or job.s3_prefix is None:
            continue
        if newest is None or (job.start_time or _EPOCH) > (newest.start_time or _EPOCH):
            newest = job
    if newest is None:
        return None
    destination = Destination(
        newest.s3_bucket_name or "",
        newest.s3_prefix or "",
        newest.role_arn or "",
        newest.kms_key_arn or "",
    )
    return newest.key.job_id, destination
