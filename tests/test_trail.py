"""The trail: every start and cancel is written before the call and with its outcome after.

The commands run as a user runs them (`python -m wmtui`) against the emulator on 127.0.0.1;
the caller's ARN comes from moto's STS on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_cli_e2e import Shell

from wmtui.core.models import JobKey, StartRequest
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.core.trail import (
    PENDING,
    AuditedService,
    Trail,
    aws_cli_command,
    read_trail,
    rotated_files,
    trail_path,
)
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState

ORG = "m-0123456789abcdef0123456789abcdef"
OTHER_ORG = "m-fedcba9876543210fedcba9876543210"
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
START_OPTIONS = ["--bucket", "wm-export", "--prefix", "exports", "--role-arn", ROLE]
START_OPTIONS += ["--kms-key-arn", KMS]


@pytest.fixture
def endpoint() -> Iterator[EmulatorServer]:
    state = EmulatorState(clock=EmulatorClock(manual=True), failure_rate=0)
    state.add_organization("example", ORG)
    for name in ("alice", "bob", "carol"):
        state.add_mailbox(ORG, name)
    with EmulatorServer(state, hang_seconds=30) as server:
        yield server


@pytest.fixture
def shell(tmp_path: Path) -> Shell:
    return Shell(tmp_path)


def log_json(shell: Shell, *args: str) -> list[dict[str, Any]]:
    run = shell("log", "--json", *args)
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_every_start_and_cancel_appears_with_its_outcome(
    shell: Shell, endpoint: EmulatorServer, tmp_path: Path
) -> None:
    where = ["--endpoint-url", endpoint.endpoint_url, "--region", REGION]
    started = shell("start", ORG, "alice", *START_OPTIONS, *where)
    assert started.returncode == 0, started.stderr
    job_id = started.stdout.strip()
    refused = shell("start", ORG, "nobody", *START_OPTIONS, *where)
    assert refused.returncode == 254, refused.stderr
    cancelled = shell("cancel", ORG, job_id, "--yes", *where)
    assert cancelled.returncode == 0, cancelled.stderr

    actions = log_json(shell)
    assert [(a["action"], a["outcome"]) for a in actions] == [
        ("start", "ok"),
        ("start", "error"),
        ("cancel", "ok"),
    ]
    start, failed, cancel = actions
    assert start["job_id"] == job_id and start["mailbox"] == "alice"
    assert start["organization_id"] == ORG and start["region"] == REGION
    assert start["client_token"] and start["error"] is None
    argv = shlex.split(start["command"])
    assert argv[:3] == ["aws", "workmail", "start-mailbox-export-job"]
    assert argv[argv.index("--client-token") + 1] == start["client_token"]
    assert argv[argv.index("--endpoint-url") + 1] == endpoint.endpoint_url
    assert failed["mailbox"] == "nobody" and failed["job_id"] is None
    assert "job-not-found" in failed["error"]
    assert cancel["job_id"] == job_id
    assert shlex.split(cancel["command"])[2] == "cancel-mailbox-export-job"
    # No STS where the emulator's endpoint is given: no ARN rather than a call to real AWS.
    assert {a["caller_arn"] for a in actions} == {None}

    path = trail_path(tmp_path / "data")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().splitlines()) == 6  # a line before and after each call

    text = shell("log")
    assert text.returncode == 0
    assert text.stdout.splitlines()[0].split() == [
        "TIME", "OUTCOME", "ACTION", "ORGANIZATION", "MAILBOX", "JOB", "CALLER"
    ]  # fmt: skip
    assert len(text.stdout.splitlines()) == 4
    assert log_json(shell, "--org", OTHER_ORG) == []
    assert len(log_json(shell, "--org", ORG)) == 3
    assert log_json(shell, "--since", "2999-01-01") == []
    assert len(log_json(shell, "--since", "2000-01-01T00:00Z")) == 3
    bad = shell("log", "--since", "yesterday")
    assert bad.returncode == 252


def test_a_run_killed_during_the_call_leaves_the_line_before_it(
    shell: Shell, endpoint: EmulatorServer, tmp_path: Path
) -> None:
    endpoint.inject("StartMailboxExportJob", "hang")
    path = trail_path(tmp_path / "data")
    where = ["--endpoint-url", endpoint.endpoint_url, "--region", REGION]
    process = subprocess.Popen(
        [sys.executable, "-m", "wmtui", "start", ORG, "bob", *START_OPTIONS, *where],
        env=shell.env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (path.exists() and path.read_text().strip()):
            assert process.poll() is None, "the start ended before it was killed"
            assert time.monotonic() < deadline, "no trail line before the call"
            time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    [action] = log_json(shell)
    assert action["action"] == "start" and action["outcome"] == PENDING
    assert action["mailbox"] == "bob" and action["client_token"]


def test_an_organization_export_puts_each_start_in_the_trail(shell: Shell) -> None:
    state = EmulatorState(
        clock=EmulatorClock(speed=1800), seed=5, job_duration=timedelta(minutes=5), failure_rate=0
    )
    state.add_organization("acme", ORG)
    ids = [state.add_mailbox(ORG, f"user{i}") for i in range(4)]
    shell.env["WMTUI_EXPORT_POLL_SECONDS"] = "0.05"
    with EmulatorServer(state) as server:
        where = ["--endpoint-url", server.endpoint_url, "--region", REGION]
        done = shell("export-org", ORG, *START_OPTIONS, *where)
        assert done.returncode == 0, done.stderr
    actions = log_json(shell)
    assert sorted(a["mailbox"] for a in actions) == sorted(ids)
    assert {(a["action"], a["outcome"]) for a in actions} == {("start", "ok")}
    # The export's own tokens (derived from export and mailbox), not ones the trail made up.
    assert all(len(a["client_token"]) == 64 for a in actions), actions


# --------------------------------------------------------------------------- the file


def test_rotation_sets_files_aside_and_loses_no_line(tmp_path: Path) -> None:
    path = trail_path(tmp_path)
    trail = Trail(path, max_bytes=400)
    for n in range(30):
        entry = {"time": "2026-12-01T10:00:00Z", "phase": "call", "id": f"a{n:02d}"}
        assert trail.append({**entry, "action": "start", "command": "aws workmail x"})
    rotated = rotated_files(path)
    assert len(rotated) >= 3
    actions, broken = read_trail(path)
    assert broken == 0
    assert [a.id for a in actions] == [f"a{n:02d}" for n in range(30)]
    assert all(a.outcome == PENDING for a in actions)
    for file in [path, *(p for _, p in rotated)]:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_a_broken_line_is_counted_and_the_rest_read(tmp_path: Path) -> None:
    path = trail_path(tmp_path)
    Trail(path).append({"time": "2026-12-01T10:00:00Z", "phase": "call", "id": "x"})
    with open(path, "a") as handle:
        handle.write("{not json\n")
    Trail(path).append({"time": "2026-12-01T10:00:01Z", "phase": "outcome", "id": "x",
                        "outcome": "ok", "job_id": "job-9"})  # fmt: skip
    [action], broken = read_trail(path)
    assert broken == 1
    assert action.outcome == "ok" and action.job_id == "job-9"


class _Refusing:
    """A service whose start and cancel are refused, as a fake for the decorator alone."""

    target = "fake"
    calls: list[tuple[str, object]]

    def __init__(self) -> None:
        self.calls = []

    def caller_arn(self) -> str:
        self.calls.append(("sts", None))
        return "arn:aws:sts::123456789012:assumed-role/Admin/alice"

    def start_job(self, region: str, organization_id: str, request: StartRequest) -> JobKey:
        self.calls.append(("start", request.client_token))
        raise ServiceError(ErrorKind.LIMIT_EXCEEDED, "ten exports already run", code="Limit")

    def cancel_job(self, key: JobKey, client_token: str | None = None) -> None:
        self.calls.append(("cancel", client_token))


def test_the_decorator_asks_sts_once_and_names_the_token_it_sent(tmp_path: Path) -> None:
    fake = _Refusing()
    audited = AuditedService(fake, Trail(trail_path(tmp_path)), profile="prod")  # type: ignore[arg-type]
    request = StartRequest("alice", "bucket", "prefix", ROLE, KMS, description="it's")
    with pytest.raises(ServiceError):
        audited.start_job(REGION, ORG, request)
    audited.cancel_job(JobKey(REGION, ORG, "job-1"))
    assert [c[0] for c in fake.calls] == ["sts", "start", "cancel"]
    actions, _ = read_trail(trail_path(tmp_path))
    start, cancel = actions
    assert (
        start.caller_arn
        == cancel.caller_arn
        == "arn:aws:sts::123456789012:assumed-role/Admin/alice"
    )
    assert start.client_token == fake.calls[1][1] and cancel.client_token == fake.calls[2][1]
    assert start.outcome == "error" and start.error == "limit-exceeded: ten exports already run"
    assert start.profile == "prod"
    argv = shlex.split(start.command)
    assert argv[argv.index("--description") + 1] == "it's"
    assert argv[-2:] == ["--profile", "prod"]


def test_the_command_line_is_quoted_for_a_shell() -> None:
    hostile = StartRequest("a;rm -rf ~", "b", "p $(x)", ROLE, KMS)
    line = aws_cli_command("start", region=REGION, organization_id=ORG, request=hostile)
    assert "'a;rm -rf ~'" in line and "'p $(x)'" in line


def test_the_caller_arn_comes_from_sts(
    aws_credentials: None,
    endpoint: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.server import ThreadedMotoServer

    from wmtui.aws.service import Boto3ExportService

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://{host}:{port}")
        service = Boto3ExportService(
            endpoint_url=endpoint.endpoint_url, region=REGION, read_timeout=5.0
        )
        audited = AuditedService(service, Trail(trail_path(tmp_path)))
        audited.start_job(REGION, ORG, StartRequest("alice", "wm-export", "exports", ROLE, KMS))
    finally:
        server.stop()
    [action] = read_trail(trail_path(tmp_path))[0]
    assert action.outcome == "ok"
    assert action.caller_arn is not None and action.caller_arn.startswith("arn:aws:")


def test_a_trail_that_cannot_be_written_never_stops_the_action(
    shell: Shell, endpoint: EmulatorServer, tmp_path: Path
) -> None:
    trail_path(tmp_path / "data").mkdir(parents=True)  # a folder where the file should be
    where = ["--endpoint-url", endpoint.endpoint_url, "--region", REGION]
    started = shell("start", ORG, "carol", *START_OPTIONS, *where)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip()
    assert "warning:" in started.stderr and "the trail could not be written" in started.stderr
    assert "Traceback" not in started.stderr
