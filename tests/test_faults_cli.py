"""`wmtui status` (and `add`) under every credential, network and service fault.

In-process `main([...])` runs exactly what the `wmtui` command runs; a few cases run a real
process because only a process shows them (the knobs in its environment, Ctrl+C, exiting).
Each case: one line on stderr saying what is wrong and what to do, no traceback, the AWS CLI's
exit code (ServiceError.exit_code), and the watch list file byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_faults_support import (
    ORG,
    OTHER_ORG,
    REGION,
    World,
    botocore_backoff_tiny,
    running_world,
)

from wmtui.cli import main
from wmtui.core.locations import watchlist_path
from wmtui.core.models import JobKey
from wmtui.core.service import ErrorKind
from wmtui.core.watchlist import WatchList
from wmtui.emulator.state import ApiError

ROOT = Path(__file__).resolve().parent.parent
ALL = ("running", "running2", "done", "failed")
SSO_START_URL = "https://wmtui-faults.awsapps.com/start"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    botocore_backoff_tiny(monkeypatch)
    monkeypatch.setenv("WMTUI_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("WMTUI_READ_TIMEOUT", "0.5")
    monkeypatch.setenv("WMTUI_CONNECT_TIMEOUT", "1")


@pytest.fixture
def world(aws_credentials: None) -> Iterator[World]:
    with running_world() as started:
        yield started


@pytest.fixture
def watchlist(isolated_env: Path) -> WatchList:
    return WatchList(watchlist_path(isolated_env / "wmtui-config"))


def endpoint(world: World) -> list[str]:
    return ["--endpoint-url", world.endpoint_url]


def watch(watchlist: WatchList, world: World, *names: str) -> bytes:
    watchlist.add(world.keys(*names))
    return watchlist.path.read_bytes()


def status(
    world: World, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any], str]:
    """`wmtui status --json`: exit code, the report, stderr."""
    code = main([*endpoint(world), *extra, "status", "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def assert_one_clear_error(err: str, *needles: str) -> None:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("wmtui: error: ")]
    assert lines, err
    joined = "\n".join(lines)
    for needle in needles:
        assert needle in joined, (needle, err)
    assert "\x1b" not in err


# ------------------------------------------------------------------ faults on the wire

WIRE: list[tuple[str, ErrorKind, int, str, str]] = [
    ("throttle", ErrorKind.THROTTLED, 254, "throttling requests (2 attempts)", "backs off"),
    ("503", ErrorKind.UNREACHABLE, 254, "unavailable (HTTP 503", "service's side"),
    ("500-html", ErrorKind.OTHER, 255, "internal error (HTTP 500", "service's side"),
    ("hang", ErrorKind.TIMEOUT, 254, "no answer from http://127.0.0.1:", "tries again"),
    ("expired-token", ErrorKind.EXPIRED_TOKEN, 253, "have expired", "get fresh credentials"),
    ("access-denied", ErrorKind.ACCESS_DENIED, 254, "workmail:ListMailboxExportJobs", "allow"),
    ("org-state", ErrorKind.ORGANIZATION_STATE, 254, "not in a state", "Active"),
]


@pytest.mark.parametrize(
    ("fault", "kind", "code", "says", "fix"), WIRE, ids=[case[0] for case in WIRE]
)
def test_status_under_a_wire_fault(
    world: World,
    watchlist: WatchList,
    capsys: pytest.CaptureFixture[str],
    fault: str,
    kind: ErrorKind,
    code: int,
    says: str,
    fix: str,
) -> None:
    before = watch(watchlist, world, *ALL)
    world.server.inject(None, fault, count=None)
    exit_code, report, err = status(world, capsys)
    assert exit_code == code == kind.exit_code
    assert_one_clear_error(err, says, fix)
    assert {error["kind"] for error in report["errors"]} == {kind.value}
    # Every watched job is in the report, with its own error object or its last-known state.
    assert len(report["jobs"]) == 4
    running = next(job for job in report["jobs"] if job["JobId"] == "job-running")
    assert running["error"]["kind"] == kind.value
    assert running["error"]["fix"]
    assert "<html" not in json.dumps(report).lower()
    assert watchlist.path.read_bytes() == before

    # The fault stops: the next run is clean and exits 0.
    world.server.clear_faults()
    exit_code, report, err = status(world, capsys)
    assert (exit_code, report["errors"], err) == (0, [], "")


def test_status_when_nothing_listens_is_254_naming_the_endpoint(
    aws_credentials: None, watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    watchlist.add([JobKey(REGION, ORG, "job-1")])
    before = watchlist.path.read_bytes()
    url = f"http://127.0.0.1:{port}"
    assert main(["--endpoint-url", url, "status"]) == 254
    err = capsys.readouterr().err
    assert_one_clear_error(err, f"could not connect to {url}", "check the network")
    assert watchlist.path.read_bytes() == before


# ------------------------------------------------------------------ credentials and configuration


def test_status_with_an_unknown_profile_is_253_naming_profile_and_file(
    world: World,
    watchlist: WatchList,
    isolated_env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = watch(watchlist, world, *ALL)
    (isolated_env / "aws-config").write_text("[profile other]\nregion = us-east-1\n")
    code, report, err = status(world, capsys, "--profile", "nosuch")
    assert code == 253
    assert_one_clear_error(
        err, "'nosuch' is not defined", str(isolated_env / "aws-config"), "--profile nosuch"
    )
    assert report["errors"][0]["kind"] == "unknown-profile"
    assert world.requests() == 0
    assert watchlist.path.read_bytes() == before


def test_status_without_credentials_prints_the_fix_in_text_mode(
    world: World,
    watchlist: WatchList,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = watch(watchlist, world, *ALL)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert main([*endpoint(world), "status"]) == 253
    captured = capsys.readouterr()
    assert_one_clear_error(captured.err, "no AWS credentials found", "aws configure")
    # The table still lists every watched job, marked.
    assert captured.out.count(" !") == 4
    assert "4 could not be read" in captured.out
    assert world.requests() == 0
    assert watchlist.path.read_bytes() == before


def sso_profile(style: str) -> str:
    common = "sso_account_id = 123456789012\nsso_role_name = WorkMailAdmin\nregion = us-east-1\n"
    if style == "legacy":
        return (
            f"[profile admin]\nsso_start_url = {SSO_START_URL}\nsso_region = us-east-1\n" + common
        )
    return (
        "[profile admin]\nsso_session = corp\n" + common + "\n[sso-session corp]\n"
        f"sso_start_url = {SSO_START_URL}\nsso_region = us-east-1\n"
        "sso_registration_scopes = sso:account:access\n"
    )


@pytest.fixture
def sso_cache(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import botocore.credentials
    import botocore.tokens

    cache = isolated_env / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(botocore.tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    return cache


@pytest.mark.parametrize("style", ["legacy", "sso-session"])
@pytest.mark.parametrize("token", ["missing", "expired"])
def test_status_needing_an_sso_login_is_253_with_the_command(
    world: World,
    watchlist: WatchList,
    isolated_env: Path,
    sso_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    style: str,
    token: str,
) -> None:
    before = watch(watchlist, world, *ALL)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    (isolated_env / "aws-config").write_text(sso_profile(style))
    if token == "expired":
        name = SSO_START_URL if style == "legacy" else "corp"
        expired = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        (sso_cache / (hashlib.sha1(name.encode()).hexdigest() + ".json")).write_text(
            json.dumps(
                {
                    "startUrl": SSO_START_URL,
                    "region": "us-east-1",
                    "accessToken": "x",
                    "expiresAt": expired,
                }
            )
        )
    code, report, err = status(world, capsys, "--profile", "admin")
    assert code == 253
    assert_one_clear_error(err, "run `aws sso login --profile admin`")
    assert ("missing" in err) == (token == "missing")
    assert report["errors"][0]["kind"] == "sso-token"
    assert world.requests() == 0
    assert watchlist.path.read_bytes() == before


def test_status_with_no_region_anywhere_reads_each_job_in_its_own_region(
    world: World,
    watchlist: WatchList,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    watch(watchlist, world, *ALL)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    code, report, err = status(world, capsys)
    assert (code, report["errors"], err) == (0, [], "")
    assert {job["Region"] for job in report["jobs"]} == {REGION}


def test_add_with_no_region_anywhere_is_253_and_writes_nothing(
    watchlist: WatchList, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert main(["add", ORG, "job-1"]) == 253
    assert_one_clear_error(capsys.readouterr().err, "no region is set", "--region")
    assert not watchlist.path.exists()


# ------------------------------------------------------------------ what the service answers


def test_a_job_the_service_does_not_know_is_254_kept_and_reported(
    world: World, watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    watchlist.add([*world.keys(*ALL), JobKey(REGION, ORG, "job-never-existed")])
    before = watchlist.path.read_bytes()
    for _ in range(2):
        code, report, err = status(world, capsys)
        assert code == 254
        assert_one_clear_error(err, "job-never-existed", "no such export job")
        gone = next(job for job in report["jobs"] if job["JobId"] == "job-never-existed")
        assert gone["error"]["kind"] == "job-not-found"
        assert gone["error"]["code"] == "EntityNotFoundException"
        assert gone["State"] is None
        assert sum(job["error"] is None for job in report["jobs"]) == 4
    assert watchlist.path.read_bytes() == before
    assert main(["list"]) == 0
    assert "job-never-existed" in capsys.readouterr().out


def test_an_organization_that_does_not_exist_is_254_and_marks_only_its_jobs(
    world: World, watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    watchlist.add([*world.keys(*ALL), JobKey(REGION, OTHER_ORG, "job-a")])
    before = watchlist.path.read_bytes()
    code, report, err = status(world, capsys)
    assert code == 254
    assert_one_clear_error(err, OTHER_ORG, "check the organization ID")
    marked = {job["JobId"] for job in report["jobs"] if job["error"]}
    assert marked == {"job-a"}
    assert watchlist.path.read_bytes() == before


def test_a_next_token_that_never_ends_is_stopped_and_the_jobs_are_still_read(
    world: World, watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    before = watch(watchlist, world, *ALL)
    world.server.inject("ListMailboxExportJobs", "endless-token", count=None)
    code, report, err = status(world, capsys)
    assert code == ErrorKind.OTHER.exit_code
    assert_one_clear_error(err, "NextToken", "still read one by one")
    assert all(job["fresh"] for job in report["jobs"])
    assert world.state.counters_snapshot()["ListMailboxExportJobs"] <= 3
    assert watchlist.path.read_bytes() == before


def rewrite_jobs(world: World, change: Any) -> None:
    original = world.state.handle

    def handle(operation: str, params: Any, region: str) -> dict[str, Any]:
        answer: dict[str, Any] = original(operation, params, region)
        if "Jobs" in answer:
            for job in answer["Jobs"]:
                change(job)
        elif operation == "DescribeMailboxExportJob":
            change(answer)
        return answer

    world.state.handle = handle  # type: ignore[method-assign]


def test_odd_answers_are_printed_as_unknown_and_exit_0(
    world: World, watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    def odd(job: dict[str, Any]) -> None:
        for name in ("S3Path", "EndTime"):
            job.pop(name, None)
        job["EstimatedProgress"] = 250 if job.get("State") == "RUNNING" else -3
        if job.get("State") == "COMPLETED":
            job["State"] = "ARCHIVED\x1b[2J"

    rewrite_jobs(world, odd)
    before = watch(watchlist, world, *ALL)
    assert main([*endpoint(world), "status"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    out = captured.out
    assert "\x1b" not in out
    assert "ARCHIVED\\x1b[2J" in out
    assert "100%" in out and "0%" in out and "250" not in out
    assert "s3://" not in out
    code, report, _ = status(world, capsys)
    assert code == 0
    done = next(job for job in report["jobs"] if job["JobId"] == "job-done")
    assert done["State"] == "ARCHIVED\x1b[2J", "JSON keeps what the service sent (escaped)"
    assert done["S3Path"] is None and done["EndTime"] is None
    assert watchlist.path.read_bytes() == before


def test_hostile_service_errors_reach_stderr_escaped(
    world: World, watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    def hostile(operation: str, params: Any, region: str) -> dict[str, Any]:
        raise ApiError("Weird\x1b]0;t\x07Exception", "boom \x1b]52;c;cm0K\x07 [/]\n\u202erm -rf")

    world.state.handle = hostile  # type: ignore[method-assign]
    before = watch(watchlist, world, "running")
    assert main([*endpoint(world), "status"]) != 0
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert "\x1b" not in stream and "\x07" not in stream and "\u202e" not in stream
    assert "boom \\x1b]52;c;cm0K\\x07 [/]" in captured.err
    assert "Traceback" not in captured.err
    assert watchlist.path.read_bytes() == before


# ------------------------------------------------------------------ in a real process


def wmtui_process(
    tmp_path: Path, world: World, *args: str, **extra_env: str
) -> subprocess.Popen[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "PYTHONIOENCODING": "utf-8",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-config"),
        "AWS_ACCESS_KEY_ID": "AKIDFAULTSUITE000001",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "WMTUI_CONFIG_DIR": str(tmp_path / "config"),
        "WMTUI_CACHE_DIR": str(tmp_path / "cache"),
        "WMTUI_DATA_DIR": str(tmp_path / "data"),
        "WMTUI_ENDPOINT_URL": world.endpoint_url,
        **extra_env,
    }
    (tmp_path / "aws-config").write_text("")
    return subprocess.Popen(
        [sys.executable, "-m", "wmtui", *args],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_hang_is_a_timeout_bounded_by_the_read_timeout_knob(tmp_path: Path, world: World) -> None:
    WatchList(tmp_path / "config" / "watchlist.json").add(world.keys("running"))
    before = (tmp_path / "config" / "watchlist.json").read_bytes()
    world.server.inject(None, "hang", count=None)
    child = wmtui_process(
        tmp_path, world, "status", WMTUI_READ_TIMEOUT="0.5", WMTUI_MAX_ATTEMPTS="1"
    )
    _, err = child.communicate(timeout=60)
    assert child.returncode == 254
    assert_one_clear_error(err, "no answer from", "tries again")
    assert (tmp_path / "config" / "watchlist.json").read_bytes() == before


def test_ctrl_c_while_a_call_hangs_exits_130_at_once(tmp_path: Path, world: World) -> None:
    WatchList(tmp_path / "config" / "watchlist.json").add(world.keys("running"))
    world.server.hang_seconds = 300
    world.server.inject(None, "hang", count=None)
    child = wmtui_process(
        tmp_path, world, "status", WMTUI_READ_TIMEOUT="300", WMTUI_MAX_ATTEMPTS="1"
    )
    try:
        for _ in range(600):
            if world.requests() or child.poll() is not None:
                break
            threading.Event().wait(0.05)
        assert world.requests() >= 1
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=8)
        except subprocess.TimeoutExpired:
            pytest.fail("wmtui status did not exit after Ctrl+C while a call hung")
        assert child.returncode == 130
        assert "Traceback" not in (child.stderr.read() if child.stderr else "")
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()


def test_a_lone_surrogate_from_the_service_is_printed_escaped(
    world: World, watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    def surrogates(job: dict[str, Any]) -> None:
        job["Description"] = "bad \ud800 description"
        if job.get("State") == "FAILED":
            job["ErrorInfo"] = "bad \udfff error info"

    rewrite_jobs(world, surrogates)
    before = watch(watchlist, world, "running", "failed")
    assert main([*endpoint(world), "status"]) == 0
    captured = capsys.readouterr()
    assert "bad \\udfff error info" in captured.out
    assert "Traceback" not in captured.err
    code, report, _ = status(world, capsys)
    assert code == 0 and len(report["jobs"]) == 2
    assert watchlist.path.read_bytes() == before
