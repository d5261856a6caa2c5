"""The verification model: outcomes judged from HeadObject facts, when to check again, the cache."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wmtui.core.cache import JobCache
from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.core.verification import (
    ObjectFacts,
    Outcome,
    Verification,
    count_outcomes,
    judge,
    mark,
    needs_check,
    outcome_label,
    same_kms_key,
    verification_of,
)

ORG = "m-" + "a" * 32
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1111-2222"
OTHER_KEY = "arn:aws:kms:us-east-1:123456789012:key/9999-8888"
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def completed(job_id: str = "job-1", **changes: object) -> ExportJob:
    job = ExportJob(
        key=JobKey("us-east-1", ORG, job_id),
        state=JobState.COMPLETED,
        entity_id="alice",
        kms_key_arn=KEY_ARN,
        s3_bucket_name="exports",
        s3_path="exports/wm/alice.zip",
        last_seen=NOW,
        described=True,
    )
    return replace(job, **changes)  # type: ignore[arg-type]


def facts(**changes: object) -> ObjectFacts:
    base = ObjectFacts(
        size=5_000_000,
        etag='"abc"',
        last_modified=NOW,
        encryption="aws:kms",
        kms_key=KEY_ARN,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_an_object_there_with_the_jobs_key_is_verified() -> None:
    result = judge(completed(), facts(), checked_at=NOW)
    assert result.outcome is Outcome.VERIFIED
    assert (result.object_size, result.etag, result.kms_key) == (5_000_000, '"abc"', KEY_ARN)
    assert result.summary.startswith("verified")


@pytest.mark.parametrize(
    ("found", "outcome"),
    [
        (None, Outcome.MISSING),
        (facts(size=0), Outcome.EMPTY),
        (facts(kms_key=OTHER_KEY), Outcome.WRONG_KEY),
        (facts(encryption="AES256", kms_key=None), Outcome.WRONG_KEY),
        (facts(encryption=None, kms_key=None), Outcome.WRONG_KEY),
    ],
)
def test_each_problem_has_its_outcome(found: ObjectFacts | None, outcome: Outcome) -> None:
    result = judge(completed(), found, checked_at=NOW)
    assert result.outcome is outcome
    assert result.error


def test_a_wrong_key_names_both_keys() -> None:
    result = judge(completed(), facts(kms_key=OTHER_KEY), checked_at=NOW)
    assert OTHER_KEY in (result.error or "") and KEY_ARN in (result.error or "")


def test_a_key_given_as_an_id_arn_matches_the_same_key() -> None:
    assert same_kms_key(KEY_ARN, KEY_ARN)
    assert not same_kms_key(KEY_ARN, OTHER_KEY)
    assert not same_kms_key("arn:aws:kms:us-east-1:123456789012:alias/export", KEY_ARN)
    assert not same_kms_key(None, KEY_ARN)


def test_an_object_far_smaller_than_its_mailbox_is_suspicious_with_both_figures() -> None:
    result = judge(completed(), facts(size=100_000), checked_at=NOW, mailbox_size_mb=2048)
    assert result.outcome is Outcome.SUSPICIOUS
    assert "2048 MB" in result.summary and "97.7 KB" in result.summary
    # A small mailbox is never suspicious, nor a big one with a plausible file.
    assert judge(completed(), facts(size=1), checked_at=NOW, mailbox_size_mb=50).outcome is (
        Outcome.VERIFIED
    )
    assert (
        judge(completed(), facts(size=30 * 1024 * 1024), checked_at=NOW, mailbox_size_mb=2048)
    ).outcome is Outcome.VERIFIED


def test_only_completed_jobs_are_checked_and_verified_ones_once_a_day() -> None:
    assert not needs_check(completed(state=JobState.RUNNING), NOW)
    assert not needs_check(completed(state=JobState.FAILED), NOW, forced=True)
    assert not needs_check(completed(s3_path=None), NOW)
    assert needs_check(completed(), NOW)
    verified = completed(verification=judge(completed(), facts(), checked_at=NOW))
    assert not needs_check(verified, NOW + timedelta(hours=23))
    assert needs_check(verified, NOW + timedelta(days=1))
    assert needs_check(verified, NOW, forced=True)
    missing = completed(verification=judge(completed(), None, checked_at=NOW))
    assert not needs_check(missing, NOW + timedelta(minutes=5))
    assert needs_check(missing, NOW + timedelta(minutes=10))


def test_marks_labels_and_counts() -> None:
    verified = completed("a", verification=judge(completed(), facts(), checked_at=NOW))
    missing = completed("b", verification=judge(completed(), None, checked_at=NOW))
    unchecked = completed("c")
    running = completed("d", state=JobState.RUNNING)
    assert [mark(job) for job in (verified, missing, unchecked, running)] == ["✓", "✗", "·", ""]
    assert outcome_label(verified) == "verified"
    assert outcome_label(unchecked) == "not verified"
    assert outcome_label(running) == ""
    assert verification_of(running) is None
    counts = count_outcomes([verified, missing, unchecked, running])
    assert counts == {Outcome.VERIFIED: 1, Outcome.MISSING: 1}


def test_a_fresh_read_keeps_the_last_verification() -> None:
    checked = completed(verification=judge(completed(), facts(), checked_at=NOW))
    listed = completed(kms_key_arn=None, described=False)
    assert checked.merged_with(listed).verification == checked.verification


def test_the_cache_keeps_verifications_and_reads_files_without_them(tmp_path: Path) -> None:
    cache = JobCache(tmp_path / "jobs.json")
    checked = completed("a", verification=judge(completed(), facts(), checked_at=NOW))
    plain = completed("b")
    assert cache.save({checked.key: checked, plain.key: plain})
    loaded = JobCache(tmp_path / "jobs.json").load()
    assert loaded[checked.key] == checked
    assert loaded[plain.key].verification is None
    # A file written before verification existed has no such field: it loads as it was.
    document = json.loads((tmp_path / "jobs.json").read_text())
    assert "verification" not in document["jobs"][1]
    # A verification this version cannot read costs that check, never the cache.
    document["jobs"][0]["verification"] = {"outcome": "LOOKS_FINE"}
    (tmp_path / "jobs.json").write_text(json.dumps(document))
    reloaded = JobCache(tmp_path / "jobs.json").load()
    assert reloaded[checked.key].verification is None
    assert cache.last_problem is None


def test_a_verification_round_trips_through_its_dict() -> None:
    found = judge(completed(), facts(), checked_at=NOW, mailbox_size_mb=12.5)
    assert Verification.from_dict(found.to_dict()) == found


def test_the_report_carries_the_proof_in_s3() -> None:
    from io import StringIO

    from wmtui.core.report import REPORT_COLUMNS, build_report, write_report

    checked = completed(
        "a", verification=judge(completed(), facts(), checked_at=NOW, mailbox_size_mb=12.5)
    )
    unchecked = completed("b")
    rows = {row["JobId"]: row for row in build_report([checked, unchecked])}
    assert rows["a"]["Verification"] == "VERIFIED"
    assert rows["a"]["ObjectSize"] == "5000000" and rows["a"]["ETag"] == '"abc"'
    assert rows["a"]["MailboxSizeMB"] == "12.5"
    assert rows["a"]["CheckedAt"] == "2026-12-03T10:00:00Z"
    assert rows["b"]["Verification"] is None
    out = StringIO()
    write_report(list(rows.values()), "csv", out)
    header = out.getvalue().splitlines()[0].split(",")
    assert header == list(REPORT_COLUMNS)
    assert header[-7:-2] == ["MailboxSizeMB", "ObjectSize", "ETag", "Verification", "CheckedAt"]


def test_mailbox_sizes_are_read_once_a_day_and_a_refusal_stops_the_rest(tmp_path: Path) -> None:
    from wmtui.core.mailbox_sizes import MailboxSizes
    from wmtui.core.service import ErrorKind, ServiceError

    now = [NOW]
    calls: list[str] = []

    def reader(region: str, org: str, entity: str) -> float | None:
        calls.append(entity)
        return None if entity == "room" else 250.0

    sizes = MailboxSizes(tmp_path / "sizes.json", clock=lambda: now[0])
    assert sizes.lookup(reader, "us-east-1", ORG, ["a", "b", "room"]) == {"a": 250.0, "b": 250.0}
    again = MailboxSizes(tmp_path / "sizes.json", clock=lambda: now[0])
    assert again.lookup(reader, "us-east-1", ORG, ["a", "b"]) == {"a": 250.0, "b": 250.0}
    assert sorted(calls) == ["a", "b", "room"]
    now[0] = NOW + timedelta(days=2)

    def denied(region: str, org: str, entity: str) -> float | None:
        calls.append(entity)
        raise ServiceError(ErrorKind.ACCESS_DENIED, "access denied", "allow it")

    calls.clear()
    assert again.lookup(denied, "us-east-1", ORG, [f"e{n}" for n in range(40)]) == {}
    assert again.last_problem is not None and "access denied" in again.last_problem
    assert len(calls) < 40
