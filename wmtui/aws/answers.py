"""Tolerant readers for WorkMail's answers: jobs, mailboxes and fields, never a crash.

No boto3 here; botocore's timestamp parser is imported only for strings it must parse.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from wmtui.aws.errors import cap
from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox, now_utc, utc

__all__ = ["FIELD_LIMIT", "job_from", "mailbox_from", "parse_timestamp", "read_text"]

# Fields from the service are untrusted; anything past the model's longest (2048) is not real.
FIELD_LIMIT = 4096


# Tolerant readers for answers: never crash on a missing or odd value. They run for every field
# of every job of every List page (1,000 jobs are 9,000 fields), so the common case is kept cheap.
def read_text(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    # The usual field: plain ASCII (no surrogate possible) and short enough, kept as it is.
    if text.isascii() and len(text) <= FIELD_LIMIT:
        return text
    # JSON may carry a lone surrogate, which no file or terminal can encode: shown escaped.
    text = (
        text.encode("utf-8", "backslashreplace").decode("utf-8") if _has_surrogate(text) else text
    )
    return cap(text, FIELD_LIMIT)


def parse_timestamp(value: object) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    from botocore.utils import parse_timestamp as botocore_parse_timestamp

    return botocore_parse_timestamp(str(value))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def _time(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    # parse_timestamp already gives UTC; anything else (a string botocore parsed) is converted.
    return value if value.tzinfo is UTC else utc(value)


def _progress(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


# JobState.parse for the states the service sends, as one dict look-up.
_STATES: dict[object, JobState] = {state.value: state for state in JobState}


def job_from(
    key: JobKey, data: Mapping[str, Any], *, described: bool, seen: datetime | None = None
) -> ExportJob:
    raw_state = data.get("State")
    state = _STATES.get(raw_state) if isinstance(raw_state, str) else None
    return ExportJob(
        key=key,
        state=state if state is not None else JobState.parse(raw_state),
        raw_state=read_text(raw_state),
        entity_id=read_text(data.get("EntityId")),
        description=read_text(data.get("Description")),
        role_arn=read_text(data.get("RoleArn")),
        kms_key_arn=read_text(data.get("KmsKeyArn")),
        s3_bucket_name=read_text(data.get("S3BucketName")),
        s3_prefix=read_text(data.get("S3Prefix")),
        s3_path=read_text(data.get("S3Path")),
        estimated_progress=_progress(data.get("EstimatedProgress")),
        error_info=read_text(data.get("ErrorInfo")),
        start_time=_time(data.get("StartTime")),
        end_time=_time(data.get("EndTime")),
        last_seen=seen if seen is not None else now_utc(),
        described=described,
    )


def mailbox_from(data: Mapping[str, Any], kind: str, id_field: str = "Id") -> Mailbox | None:
    entity_id = read_text(data.get(id_field))
    if not entity_id:
        return None
    return Mailbox(
        entity_id=entity_id,
        name=read_text(data.get("Name")),
        email=read_text(data.get("Email")),
        display_name=read_text(data.get("DisplayName")),
        kind=kind,
        state=read_text(data.get("State")),
    )
