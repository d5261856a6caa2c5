"""The record a migration team keeps: one row per export job (and per mailbox not exported).

    rows = build_report([snapshot, *jobs], names)      # export state and/or ExportJob records
    write_report(rows, "csv", sys.stdout)               # or "json"

Columns: Mailbox, Email, EntityId, JobId, State, S3Uri, StartTime, EndTime (ISO-8601 UTC),
ErrorInfo, Region, OrganizationId, Note, and the proof in S3 from the job's last verification:
MailboxSizeMB, ObjectSize (bytes), ETag, Verification (VERIFIED, MISSING ...), CheckedAt.
An `ExportJob` (fresh from the service) says the job's state and times; an export's saved
state (`ExportSnapshot`) adds the mailboxes that have no job (queued, skipped, refused) and
the names it saw when it listed the organization.

Every value may come from the service or a file: CSV cells that a spreadsheet would run as a
formula (= + - @, tab, CR) get a leading single quote, and control and format characters
(ESC, bidi overrides ...) never reach the output raw: CSV shows them as escapes (\\x1b),
JSON as \\uXXXX escapes that decode back to the same text.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Literal, Protocol, TextIO

from wmtui.core.export import ExportSnapshot, MailboxRecord, MailboxStatus
from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox

REPORT_COLUMNS: tuple[str, ...] = (
    "Mailbox",
    "Email",
    "EntityId",
    "JobId",
    "State",
    "S3Uri",
    "StartTime",
    "EndTime",
    "ErrorInfo",
    "Region",
    "OrganizationId",
    "Note",
    # Proof in S3 (wmtui verify): the mailbox's size (MB), the object's, its ETag, the outcome.
    "MailboxSizeMB",
    "ObjectSize",
    "ETag",
    "Verification",
    "CheckedAt",
    # Who the organization belongs to (several accounts): the AWS profile, the account ID.
    "Profile",
    "Account",
)
ReportRow = dict[str, str | None]
ReportFormat = Literal["csv", "json"]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class NameLookup(Protocol):
    """What `wmtui.core.names.NameDirectory` offers."""

    def lookup(self, region: str, organization_id: str, entity_id: str) -> Mailbox | None: ...


Names = NameLookup | Mapping[str, Mailbox] | None


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _find_name(
    names: Names, region: str, organization_id: str, entity_id: str | None
) -> Mailbox | None:
    if not entity_id or names is None:
        return None
    if isinstance(names, Mapping):
        return names.get(entity_id)
    return names.lookup(region, organization_id, entity_id)


def build_report(
    records: Iterable[ExportJob | ExportSnapshot],
    names: Names = None,
) -> list[ReportRow]:
    """One row per job (newest record of each wins) and per exported-state mailbox without a
    job, sorted by mailbox then start time."""
    jobs: dict[JobKey, ExportJob] = {}
    snapshots: list[ExportSnapshot] = []
    for item in records:
        if isinstance(item, ExportSnapshot):
            snapshots.append(item)
            continue
        known = jobs.get(item.key)
        jobs[item.key] = known.merged_with(item) if known is not None else item
    # What an export knows about each of its jobs: the mailbox's names, a skip reason, an error.
    from_export: dict[JobKey, MailboxRecord] = {}
    rows: list[ReportRow] = []
    for snapshot in snapshots:
        region, org = snapshot.spec.region, snapshot.spec.organization_id
        for record in snapshot.records:
            if record.job_id:
                from_export[JobKey(region, org, record.job_id)] = record
                for job_id in record.job_ids:
                    from_export.setdefault(JobKey(region, org, job_id), record)
            else:
                rows.append(_record_row(region, org, record, names))
    for key, record in from_export.items():
        if key not in jobs and key.job_id == record.job_id:
            rows.append(_record_row(key.region, key.organization_id, record, names))
    for key, job in jobs.items():
        rows.append(_job_row(job, from_export.get(key), names))
    rows.sort(
        key=lambda row: (
            (row["Mailbox"] or "").casefold(),
            row["StartTime"] or "",
            row["JobId"] or "",
        )
    )
    return rows


def _row(
    region: str,
    organization_id: str,
    entity_id: str | None,
    names: Names,
    record: MailboxRecord | None,
) -> ReportRow:
    mailbox = _find_name(names, region, organization_id, entity_id)
    label = mailbox.label if mailbox is not None else None
    email = mailbox.email if mailbox is not None else None
    if record is not None:
        label = label or (record.label if record.label != record.entity_id else None)
        email = email or record.email
    return dict.fromkeys(REPORT_COLUMNS) | {
        "Mailbox": label or entity_id,
        "Email": email,
        "EntityId": entity_id,
        "Region": region,
        "OrganizationId": organization_id,
    }


def _record_row(
    region: str, organization_id: str, record: MailboxRecord, names: Names
) -> ReportRow:
    """A mailbox as the export's state has it (no fresher word from the service)."""
    row = _row(region, organization_id, record.entity_id, names, record)
    has_job = record.job_id is not None
    state = record.job_state if has_job and record.job_state else record.status.value.upper()
    if record.status is MailboxStatus.RUNNING and not record.job_state:
        state = JobState.RUNNING.value
    row.update(
        JobId=record.job_id,
        State=state,
        S3Uri=record.s3_uri,
        StartTime=_iso(record.start_time),
        EndTime=_iso(record.end_time),
        ErrorInfo=record.error_info if state == JobState.FAILED.value else None,
        Note=_note(record),
    )
    return row


def _note(record: MailboxRecord) -> str | None:
    """What the export says about the mailbox beyond the job's own fields."""
    if record.status is MailboxStatus.SKIPPED:
        return f"skipped: {record.reason}" if record.reason else "skipped"
    if record.status is not MailboxStatus.COMPLETED and record.error:
        return record.error
    if record.attempt > 1:
        return f"exported on attempt {record.attempt}"
    return None


def _job_row(job: ExportJob, record: MailboxRecord | None, names: Names) -> ReportRow:
    key = job.key
    row = _row(key.region, key.organization_id, job.entity_id, names, record)
    error = job.error_info
    if error is None and record is not None and job.state is JobState.FAILED:
        # List answers carry no ErrorInfo; the export kept it when the job failed.
        error = record.error_info if record.job_id == job.job_id else None
    note = None
    if record is not None and record.job_id == job.job_id:
        note = _note(record)
    elif record is not None:
        note = "an earlier attempt"
    row.update(
        JobId=job.job_id,
        State=job.raw_state or job.state.value,
        S3Uri=job.s3_uri,
        StartTime=_iso(job.start_time),
        EndTime=_iso(job.end_time),
        ErrorInfo=error,
        Note=note,
    )
    row.update(_verification_cells(job))
    return row


def _verification_cells(job: ExportJob) -> ReportRow:
    """The last check of the job's object in S3; empty for a job not COMPLETED or unchecked."""
    from wmtui.core.verification import verification_of

    found = verification_of(job)
    if found is None:
        return {}
    size = found.mailbox_size_mb
    return {
        "MailboxSizeMB": f"{size:g}" if size is not None else None,
        "ObjectSize": str(found.object_size) if found.object_size is not None else None,
        "ETag": found.etag,
        "Verification": found.outcome.value,
        "CheckedAt": _iso(found.checked_at),
    }


def _escape_controls_visibly(text: str) -> str:
    out: list[str] = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def csv_cell(value: str | None) -> str:
    """A value made safe for a spreadsheet and a terminal."""
    if value is None:
        return ""
    text = _escape_controls_visibly(value)
    if value.startswith(_FORMULA_STARTS):
        # A spreadsheet would run it as a formula: a leading quote makes it text.
        text = "'" + text
    return text


def _json_escape_controls(text: str) -> str:
    # json.dumps(ensure_ascii=False) leaves DEL, C1 controls and bidi overrides raw.
    # Below 0x20 json.dumps has escaped every one inside a string; what is left is layout.
    out: list[str] = []
    for ch in text:
        if ord(ch) < 0x20 or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"):
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            high, low = divmod(ord(ch) - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
    return "".join(out)


def write_report(rows: Iterable[Mapping[str, str | None]], fmt: ReportFormat, out: TextIO) -> None:
    """Write the rows as CSV (a header line, then one line per row) or as a JSON list."""
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(REPORT_COLUMNS)
        for row in rows:
            writer.writerow([csv_cell(row.get(column)) for column in REPORT_COLUMNS])
    elif fmt == "json":
        document = [{column: row.get(column) for column in REPORT_COLUMNS} for row in rows]
        text = json.dumps(document, indent=2, ensure_ascii=False)
        out.write(_json_escape_controls(text) + "\n")
    else:
        raise ValueError(f"unknown report format {fmt!r}: csv or json")
