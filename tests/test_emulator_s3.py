"""The emulator's S3: COMPLETED exports are objects there, as botocore and the AWS CLI see them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from wmtui.aws.s3 import Boto3ExportObjects
from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.core.verification import Outcome
from wmtui.emulator.demo import build_demo_state, build_small_state
from wmtui.emulator.s3 import S3Server, mailbox_size_mb, objects_of
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatedJob, EmulatorState

REGION = "us-east-1"


@pytest.fixture
def world(aws_credentials: None) -> Iterator[tuple[EmulatorState, S3Server]]:
    state = build_small_state()
    with EmulatorServer(state) as _server:
        s3 = S3Server(state).start()
        try:
            yield state, s3
        finally:
            s3.stop()


def completed_job(state: EmulatorState) -> EmulatedJob:
    org = state.organization_ids[0]
    return next(job for job in state.jobs(org) if job.state == "COMPLETED")


def as_export_job(job: EmulatedJob) -> ExportJob:
    return ExportJob(
        key=JobKey(REGION, job.organization_id, job.job_id),
        state=JobState.parse(job.state),
        entity_id=job.entity_id,
        kms_key_arn=job.kms_key_arn,
        s3_bucket_name=job.s3_bucket_name,
        s3_path=job.s3_path,
        last_seen=datetime.now(UTC),
        described=True,
    )


def client(s3: S3Server) -> Any:
    import boto3

    return boto3.client("s3", region_name=REGION, endpoint_url=s3.endpoint_url)


def test_a_completed_export_is_an_sse_kms_object_sized_from_its_mailbox(
    world: tuple[EmulatorState, S3Server],
) -> None:
    state, s3 = world
    job = completed_job(state)
    head = client(s3).head_object(Bucket=job.s3_bucket_name, Key=job.s3_path)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == job.kms_key_arn
    expected = int(mailbox_size_mb(job.entity_id) * 1024 * 1024 * 0.6) + len(job.job_id)
    assert head["ContentLength"] == expected
    assert head["ETag"].startswith('"')
    ranged = client(s3).get_object(Bucket=job.s3_bucket_name, Key=job.s3_path, Range="bytes=0-9")
    assert ranged["ContentRange"] == f"bytes 0-9/{expected}"
    assert ranged["Body"].read()[:4] == b"PK\x03\x04"


def test_a_running_export_has_no_object(world: tuple[EmulatorState, S3Server]) -> None:
    state, s3 = world
    org = state.organization_ids[0]
    running = next(job for job in state.jobs(org) if job.state == "RUNNING")
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        client(s3).head_object(Bucket=running.s3_bucket_name, Key=running.s3_path)
    assert caught.value.response["Error"]["Code"] == "404"


def test_put_get_and_delete(world: tuple[EmulatorState, S3Server]) -> None:
    _, s3 = world
    s3_client = client(s3)
    s3_client.put_object(Bucket="wm-export", Key="notes/a.txt", Body=b"hello world")
    assert s3_client.get_object(Bucket="wm-export", Key="notes/a.txt")["Body"].read() == (
        b"hello world"
    )
    s3_client.delete_object(Bucket="wm-export", Key="notes/a.txt")
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        s3_client.get_object(Bucket="wm-export", Key="notes/a.txt")


def test_verification_against_the_emulator(world: tuple[EmulatorState, S3Server]) -> None:
    state, s3 = world
    job = completed_job(state)
    export = as_export_job(job)
    store = Boto3ExportObjects(region=REGION, s3_endpoint_url=s3.endpoint_url, max_attempts=1)
    assert store.check(export).outcome is Outcome.VERIFIED
    for how, outcome in (
        ("wrong-key", Outcome.WRONG_KEY),
        ("empty", Outcome.EMPTY),
        ("plain", Outcome.WRONG_KEY),
        ("missing", Outcome.MISSING),
    ):
        objects_of(state).spoil_job(job, how)
        assert store.check(export).outcome is outcome, how
    s3.inject("access-denied")
    forbidden = store.check(export)
    assert forbidden.outcome is Outcome.FORBIDDEN and "s3:GetObject" in (forbidden.error or "")
    s3.inject("throttle")
    assert store.check(export).outcome is Outcome.ERROR


def test_the_aws_cli_heads_and_copies_objects(
    world: tuple[EmulatorState, S3Server], tmp_path: Path
) -> None:
    state, s3 = world
    job = completed_job(state)
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="")
    base = [sys.executable, "-m", "awscli"]
    where = ["--endpoint-url", s3.endpoint_url, "--region", REGION]
    head = subprocess.run(
        [
            *base,
            "s3api",
            "head-object",
            "--bucket",
            job.s3_bucket_name,
            "--key",
            job.s3_path,
            *where,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert head.returncode == 0, head.stderr
    assert '"SSEKMSKeyId": "' + job.kms_key_arn in head.stdout
    target = tmp_path / "export.zip"
    copy = subprocess.run(
        [*base, "s3", "cp", f"s3://{job.s3_bucket_name}/{job.s3_path}", str(target), *where],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert copy.returncode == 0, copy.stderr
    size = int(mailbox_size_mb(job.entity_id) * 1024 * 1024 * 0.6) + len(job.job_id)
    assert target.stat().st_size == size
    upload = tmp_path / "up.txt"
    upload.write_bytes(b"uploaded by the AWS CLI\n" * 100)
    put = subprocess.run(
        [*base, "s3", "cp", str(upload), "s3://wm-export/uploads/up.txt", *where],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert put.returncode == 0, put.stderr
    assert client(s3).get_object(Bucket="wm-export", Key="uploads/up.txt")["Body"].read() == (
        upload.read_bytes()
    )
    assert not s3.internal_errors


def test_get_mailbox_details(world: tuple[EmulatorState, S3Server], aws_credentials: None) -> None:
    state, _ = world
    org = state.organization_ids[0]
    with EmulatorServer(state) as server:
        store = Boto3ExportObjects(region=REGION, workmail_endpoint_url=server.endpoint_url)
        alice = next(m for m in state.mailboxes(org) if m.name == "alice")
        room = next(m for m in state.mailboxes(org) if m.name == "boardroom")
        assert store.mailbox_size_mb(REGION, org, alice.entity_id) == mailbox_size_mb(
            alice.entity_id
        )
        assert store.mailbox_size_mb(REGION, org, room.entity_id) is None


def test_the_demo_has_one_missing_and_one_wrong_key_export() -> None:
    state = build_demo_state()
    org = state.organization_ids[0]
    store = objects_of(state)
    outcomes = []
    for job in state.jobs(org):
        if job.state != "COMPLETED":
            continue
        found = store.get(job.s3_bucket_name, job.s3_path)
        if found is None:
            outcomes.append("missing")
        elif found.kms_key != job.kms_key_arn:
            outcomes.append("wrong-key")
        else:
            outcomes.append("verified")
    assert outcomes.count("missing") == 1 and outcomes.count("wrong-key") == 1
    assert outcomes.count("verified") > 20


def test_wmtui_emulator_prints_and_serves_its_s3_endpoint(aws_credentials: None) -> None:
    import signal

    script = (
        "import argparse, sys\n"
        "from wmtui.emulator.demo import add_emulator_arguments, run_emulator_command\n"
        "parser = argparse.ArgumentParser()\n"
        "add_emulator_arguments(parser)\n"
        "sys.exit(run_emulator_command(parser.parse_args(sys.argv[1:])))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, "--port", "0", "--mailboxes", "30", "--jobs", "12"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        endpoint = next(line for line in lines if line.startswith("endpoint: ")).split()[1]
        s3_line = next(line for line in lines if line.startswith("s3 endpoint: "))
        s3_endpoint = s3_line.split()[2]
        assert s3_endpoint.startswith("http://127.0.0.1:")
        org_id = next(line for line in lines if line.startswith("organization: ")).split()[1]
        import boto3

        workmail = boto3.client("workmail", region_name=REGION, endpoint_url=endpoint)
        done = [
            job
            for job in workmail.list_mailbox_export_jobs(OrganizationId=org_id)["Jobs"]
            if job["State"] == "COMPLETED"
        ]
        assert done
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=s3_endpoint)
        from botocore.exceptions import ClientError

        found = 0
        for job in done:  # the demo leaves one export missing
            try:
                head = s3.head_object(Bucket=job["S3BucketName"], Key=job["S3Path"])
            except ClientError:
                continue
            assert head["ServerSideEncryption"] == "aws:kms" and head["ContentLength"] > 0
            found += 1
        assert found >= len(done) - 1
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        assert "Traceback" not in err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
