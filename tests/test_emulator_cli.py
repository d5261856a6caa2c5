"""Independent clients against the emulator: the AWS CLI, and `wmtui emulator` as a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from wmtui.emulator.server import EmulatorServer

REPO = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::123456789012:role/WorkMailExportRole"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def aws(emulator: EmulatorServer, *args: str) -> subprocess.Popen[str]:
    """`aws workmail ...` (awscli v1, a dev dependency) on the emulator; started, not awaited."""
    command = [
        sys.executable,
        "-m",
        "awscli",
        "workmail",
        *args,
        "--endpoint-url",
        emulator.endpoint_url,
        "--region",
        "us-east-1",
        "--output",
        "json",
    ]
    # The autouse fixture already points AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE at empty
    # temp files and disables the metadata probe; aws_credentials put keys in the environment.
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="")
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, Any, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, json.loads(out) if out.strip() else None, err


def test_the_aws_cli_works_against_the_emulator(emulator: EmulatorServer) -> None:
    org_id = emulator.state.organization_ids[0]
    # Independent calls run side by side: the CLI takes about a second to start.
    listing = aws(emulator, "list-mailbox-export-jobs", "--organization-id", org_id)
    unknown = aws(
        emulator, "describe-mailbox-export-job", "--organization-id", org_id, "--job-id", "nope"
    )
    bad_id = aws(
        emulator,
        "describe-mailbox-export-job",
        "--organization-id",
        org_id,
        "--job-id",
        "../../x y",
    )
    start = aws(
        emulator,
        "start-mailbox-export-job",
        "--organization-id",
        org_id,
        "--entity-id",
        "dave",
        "--description",
        "Exported with the AWS CLI",
        "--role-arn",
        ROLE,
        "--kms-key-arn",
        KMS,
        "--s3-bucket-name",
        "wm-export",
        "--s3-prefix",
        "cli",
    )

    code, listed, _ = finish(listing)
    assert code == 0
    # The export started alongside may or may not be in it yet; the fixture's two always are.
    fixture_jobs = {(j.job_id, j.state) for j in emulator.state.jobs(org_id)[-2:]}
    assert fixture_jobs <= {(j["JobId"], j["State"]) for j in listed["Jobs"]}

    # awscli v1 exits 255 on a service error (v2 would say 254) and names the code on stderr.
    code, _, err = finish(unknown)
    assert code == 255
    assert "EntityNotFoundException" in err and "DescribeMailboxExportJob" in err
    code, _, err = finish(bad_id)
    assert code == 255
    assert "InvalidParameterException" in err and "jobId" in err

    code, started, err = finish(start)
    assert code == 0, err
    job_id = started["JobId"]
    dave = next(m.entity_id for m in emulator.state.mailboxes(org_id) if m.name == "dave")
    assert emulator.state.exports_started(org_id) == {dave: [job_id]}

    describe = aws(
        emulator, "describe-mailbox-export-job", "--organization-id", org_id, "--job-id", job_id
    )
    cancel = aws(
        emulator, "cancel-mailbox-export-job", "--organization-id", org_id, "--job-id", job_id
    )
    code, described, err = finish(describe)
    assert code == 0, err
    assert described["EntityId"] == dave
    assert described["S3Path"] == f"cli/{job_id}.zip"
    assert described["Description"] == "Exported with the AWS CLI"
    code, _, err = finish(cancel)
    assert code == 0, err
    assert emulator.state.job(org_id, job_id).state == "CANCELLED"


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_emulator_command_serves_until_interrupted(
    aws_credentials: None, stop_signal: signal.Signals
) -> None:
    script = (
        "import argparse, sys\n"
        "from wmtui.emulator.demo import add_emulator_arguments, run_emulator_command\n"
        "parser = argparse.ArgumentParser()\n"
        "add_emulator_arguments(parser)\n"
        "sys.exit(run_emulator_command(parser.parse_args(sys.argv[1:])))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, "--port", "0", "--mailboxes", "30", "--jobs", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        endpoint_line = process.stdout.readline()
        assert endpoint_line.startswith("endpoint: http://127.0.0.1:")
        endpoint = endpoint_line.split()[1]
        lines = [process.stdout.readline() for _ in range(3)]
        org_line = next(line for line in lines if line.startswith("organization: "))
        org_id = org_line.split()[1]

        import boto3

        client = boto3.session.Session().client(
            "workmail",
            region_name="us-east-1",
            endpoint_url=endpoint,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )
        jobs = client.list_mailbox_export_jobs(OrganizationId=org_id)["Jobs"]
        assert len(jobs) == 4  # five made, one of them nine days old
        assert len(client.list_users(OrganizationId=org_id)["Users"]) == 30

        process.send_signal(stop_signal)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0
        assert "Traceback" not in err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
