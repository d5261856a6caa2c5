"""The migration record: rows from an export's state and the service's jobs, as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wmtui.core.export import ExportSnapshot, ExportSpec, MailboxRecord, MailboxStatus
from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox
from wmtui.core.report import REPORT_COLUMNS, build_report, csv_cell, write_report

REGION = "us-east-1"
ORG = "m-" + "c" * 32
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SPEC = ExportSpec(
    REGION,
    ORG,
    "bucket",
    "exports",
    "arn:aws:iam::123456789012:role/Export",
    "arn:aws:kms:us-east-1:123456789012:key/k",
)


def job(job_id: str, entity: str, state: JobState, **fields: object) -> ExportJob:
    values: dict[str, object] = {
        "entity_id": entity,
        "s3_bucket_name": "bucket",
        "s3_path": f"exports/{job_id}.zip",
        "start_time": T0,
        "end_time": T0 + timedelta(minutes=7) if state.is_final else None,
    }
    values.update(fields)
    return ExportJob(key=JobKey(REGION, ORG, job_id), state=state, raw_state=state.value, **values)  # type: ignore[arg-type]


def snapshot(*records: MailboxRecord) -> ExportSnapshot:
    return ExportSnapshot(Path("x.json"), SPEC.export_id, SPEC, T0, T0, records)


def test_rows_from_jobs_with_names_times_and_uris() -> None:
    names = {
        "e-1": Mailbox("e-1", "zed", "zed@example.com", "Zed Last"),
        "e-2": Mailbox("e-2", "amy", "amy@example.com", "Amy First"),
    }
    rows = build_report(
        [
            job("j-1", "e-1", JobState.COMPLETED),
            job("j-2", "e-2", JobState.RUNNING),
            job("j-3", "e-3", JobState.FAILED, error_info="Access Denied"),
        ],
        names,
    )
    assert [row["Mailbox"] for row in rows] == ["Amy First", "e-3", "Zed Last"]
    zed = rows[2]
    assert zed == {
        "Mailbox": "Zed Last",
        "Email": "zed@example.com",
        "EntityId": "e-1",
        "JobId": "j-1",
        "State": "COMPLETED",
        "S3Uri": "s3://bucket/exports/j-1.zip",
        "StartTime": "2026-03-01T08:00:00Z",
        "EndTime": "2026-03-01T08:07:00Z",
        "ErrorInfo": None,
        "Region": REGION,
        "OrganizationId": ORG,
        "Note": None,
        "MailboxSizeMB": None,
        "ObjectSize": None,
        "ETag": None,
        "Verification": None,
        "CheckedAt": None,
        "Profile": None,
        "Account": None,
    }
    assert rows[0]["EndTime"] is None
    assert rows[1]["ErrorInfo"] == "Access Denied"


def test_the_same_job_twice_is_one_row_keeping_what_describe_said() -> None:
    described = job("j-1", "e-1", JobState.FAILED, error_info="KMS denied", described=True)
    listed = job("j-1", "e-1", JobState.FAILED)  # a List answer: no ErrorInfo
    rows = build_report([described, listed])
    assert len(rows) == 1
    assert rows[0]["ErrorInfo"] == "KMS denied"


def test_export_state_adds_mailboxes_without_jobs_and_fresher_jobs_win() -> None:
    running = MailboxRecord(
        "e-1",
        display_name="Runner",
        email="run@example.com",
        status=MailboxStatus.RUNNING,
        job_id="j-1",
        job_ids=["j-1"],
        job_state="RUNNING",
    )
    queued = MailboxRecord("e-2", name="waiter", status=MailboxStatus.QUEUED)
    skipped = MailboxRecord(
        "e-3",
        status=MailboxStatus.SKIPPED,
        reason="exported in the last 24 hours by job j-0 (COMPLETED)",
        job_id="j-0",
        job_state="COMPLETED",
        s3_bucket_name="bucket",
        s3_path="old/j-0.zip",
        start_time=T0 - timedelta(hours=3),
    )
    retried = MailboxRecord(
        "e-4",
        status=MailboxStatus.FAILED,
        attempt=3,
        job_id="j-9",
        job_ids=["j-7", "j-8", "j-9"],
        job_state="FAILED",
        error="attempt 3 failed: bucket is public",
        error_info="bucket is public",
    )
    rows = build_report(
        [snapshot(running, queued, skipped, retried), job("j-1", "e-1", JobState.COMPLETED)]
    )
    by_entity = {row["EntityId"]: row for row in rows}
    assert len(rows) == 4
    # The service's word (COMPLETED) beats the state's (running); the names come from the state.
    assert by_entity["e-1"]["State"] == "COMPLETED"
    assert by_entity["e-1"]["Mailbox"] == "Runner"
    assert by_entity["e-1"]["Email"] == "run@example.com"
    assert by_entity["e-2"]["State"] == "QUEUED" and by_entity["e-2"]["JobId"] is None
    assert by_entity["e-2"]["Mailbox"] == "waiter"
    assert by_entity["e-3"]["JobId"] == "j-0"
    assert by_entity["e-3"]["S3Uri"] == "s3://bucket/old/j-0.zip"
    assert (
        by_entity["e-3"]["Note"] == "skipped: exported in the last 24 hours by job j-0 (COMPLETED)"
    )
    assert by_entity["e-4"]["State"] == "FAILED"
    assert by_entity["e-4"]["ErrorInfo"] == "bucket is public"
    assert by_entity["e-4"]["Note"] == "attempt 3 failed: bucket is public"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\\tx"),
        ("plain = text", "plain = text"),
        ("a\x1b[31mred", "a\\x1b[31mred"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
        (None, ""),
    ],
)
def test_csv_cells_are_never_formulas_nor_terminal_escapes(value: str | None, cell: str) -> None:
    assert csv_cell(value) == cell


def test_csv_and_json_output() -> None:
    names = {"e-1": Mailbox("e-1", display_name='=HYPERLINK("http://evil")', email="a@b.c")}
    failed = job("j-1", "e-1", JobState.FAILED, error_info="line one\nline two \x1b]52;c;x\x07")
    rows = build_report([failed], names)

    out = io.StringIO()
    write_report(rows, "csv", out)
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text
    lines = text.splitlines()
    assert lines[0] == ",".join(REPORT_COLUMNS)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == 1
    assert parsed[0]["Mailbox"] == '\'=HYPERLINK("http://evil")'
    assert parsed[0]["ErrorInfo"] == "line one\\nline two \\x1b]52;c;x\\x07"
    assert parsed[0]["EndTime"] == "2026-03-01T08:07:00Z"

    out = io.StringIO()
    write_report(rows, "json", out)
    text = out.getvalue()
    assert "\x1b" not in text
    document = json.loads(text)
    assert document == rows  # exact values, escapes decoded back
    assert list(document[0]) == list(REPORT_COLUMNS)
    assert text.endswith("}\n]\n")


def test_json_escapes_bidi_and_c1_but_keeps_accents() -> None:
    names = {"e-1": Mailbox("e-1", display_name="Zoë \u202egnp.exe \x9b")}
    rows = build_report([job("j-1", "e-1", JobState.COMPLETED)], names)
    out = io.StringIO()
    write_report(rows, "json", out)
    text = out.getvalue()
    assert "Zoë" in text
    assert "\u202e" not in text and "\x9b" not in text
    assert "\\u202e" in text and "\\u009b" in text
    assert json.loads(text)[0]["Mailbox"] == "Zoë \u202egnp.exe \x9b"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="csv or json"):
        write_report([], "xml", io.StringIO())  # type: ignore[arg-type]
