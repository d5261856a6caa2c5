"""`wmtui verify` and `wmtui report` end to end against the emulator's WorkMail and S3:
mailbox sizes from GetMailboxDetails, a suspiciously small export, a missing one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from wmtui.cli import main
from wmtui.emulator.s3 import S3Server, mailbox_size_mb, objects_of
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorState

REGION = "us-east-1"


def big_entity_id() -> str:
    """An entity ID whose emulated mailbox is over 100 MB."""
    for n in range(1000):
        candidate = f"big-{n}"
        if mailbox_size_mb(candidate) > 500:
            return candidate
    raise AssertionError("no big mailbox")


@pytest.fixture
def world(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[EmulatorState, EmulatorServer, S3Server]]:
    state = EmulatorState(failure_rate=0.0)
    org = state.add_organization("verify-org", region=REGION)
    for name in ("good", "gone", "tiny"):
        entity = state.add_mailbox(org, name, entity_id=big_entity_id() if name == "tiny" else None)
        state.add_job(
            org,
            entity,
            state="COMPLETED",
            started_ago=timedelta(hours=3),
            duration=timedelta(minutes=20),
            description=name,
        )
    state.add_job(
        org, state.add_mailbox(org, "busy"), state="RUNNING", progress=10, description="busy"
    )
    with EmulatorServer(state) as server:
        s3 = S3Server(state).start()
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint_url)
        monkeypatch.setenv("WMTUI_MAX_ATTEMPTS", "1")
        try:
            yield state, server, s3
        finally:
            s3.stop()


def test_verify_and_report_against_the_emulator(
    world: tuple[EmulatorState, EmulatorServer, S3Server], capsys: pytest.CaptureFixture[str]
) -> None:
    state, server, _ = world
    org = state.organization_ids[0]
    jobs = {job.description: job for job in state.jobs(org)}
    objects_of(state).spoil_job(jobs["gone"], "missing")
    import boto3

    boto3.client("s3", region_name=REGION).put_object(
        Bucket=jobs["tiny"].s3_bucket_name,
        Key=jobs["tiny"].s3_path,
        Body=b"PK\x03\x04 almost nothing",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=jobs["tiny"].kms_key_arn,
    )
    where = ["--endpoint-url", server.endpoint_url, "--region", REGION]
    assert main([*where, "add", org, *(job.job_id for job in jobs.values())]) == 0
    capsys.readouterr()
    assert main([*where, "verify", org, "--json"]) == 1
    out, err = capsys.readouterr()
    records = {record["JobId"]: record for record in json.loads(out)}
    assert {job_id: r["verification"] for job_id, r in records.items()} == {
        jobs["good"].job_id: "VERIFIED",
        jobs["gone"].job_id: "MISSING",
        jobs["tiny"].job_id: "SUSPICIOUS",
    }
    assert "MB" in records[jobs["tiny"].job_id]["error"]
    assert "1 not COMPLETED" in err

    assert main([*where, "report", org, "--format", "json"]) == 0
    out, _ = capsys.readouterr()
    rows = {row["JobId"]: row for row in json.loads(out)}
    good = rows[jobs["good"].job_id]
    assert good["Verification"] == "VERIFIED"
    assert good["ObjectSize"] and good["ETag"] and good["CheckedAt"]
    assert float(good["MailboxSizeMB"]) == mailbox_size_mb(jobs["good"].entity_id)
    assert rows[jobs["busy"].job_id]["Verification"] is None
    # Sizes are cached a day: a second verify asks GetMailboxDetails nothing.
    before = state.counters_snapshot()["GetMailboxDetails"]
    assert main([*where, "verify", org]) == 1
    assert state.counters_snapshot()["GetMailboxDetails"] == before
    capsys.readouterr()
