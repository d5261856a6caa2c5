"""`python -m wmtui ...` in a real subprocess with a clean environment: what cron and scripts see.

Few and fast on purpose (each run is a Python start-up); the details are in test_cli.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState

ROOT = Path(__file__).resolve().parent.parent
ORG = "m-0123456789abcdef0123456789abcdef"
ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


class Shell:
    """Runs wmtui as a user would, with nothing of this machine's AWS setup."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.config_dir = home / "config"
        aws_config = home / "aws-config"
        aws_config.write_text("")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "PYTHONPATH": str(ROOT),
            "PYTHONIOENCODING": "utf-8",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(aws_config),
            "AWS_SHARED_CREDENTIALS_FILE": str(aws_config),
            "AWS_ACCESS_KEY_ID": "AKIDTESTTESTTESTTEST",
            "AWS_SECRET_ACCESS_KEY": "testsecret",
            "WMTUI_CONFIG_DIR": str(self.config_dir),
            "WMTUI_CACHE_DIR": str(home / "cache"),
            "WMTUI_DATA_DIR": str(home / "data"),
            # One attempt: a refused connection is reported at once, not after back-offs.
            "WMTUI_MAX_ATTEMPTS": "1",
        }

    def __call__(self, *args: str, env: dict[str, str] | None = None, code: str = "") -> Run:
        command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "wmtui"]
        done = subprocess.run(
            [*command, *args],
            env={**self.env, **(env or {})},
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def shell(tmp_path: Path) -> Shell:
    return Shell(tmp_path)


@pytest.fixture
def endpoint() -> Iterator[tuple[EmulatorServer, str]]:
    state = EmulatorState(clock=EmulatorClock(manual=True), failure_rate=0)
    state.add_organization("example", ORG)
    alice = state.add_mailbox(ORG, "alice")
    bob = state.add_mailbox(ORG, "bob")
    state.add_mailbox(ORG, "carol")
    state.add_job(ORG, alice, state="RUNNING", progress=25, job_id="job-running")
    state.add_job(ORG, bob, state="COMPLETED", started_ago=timedelta(hours=1), job_id="job-done")
    with EmulatorServer(state) as server:
        yield server, server.endpoint_url


def test_add_list_status_and_a_bad_id(shell: Shell, endpoint: tuple[EmulatorServer, str]) -> None:
    server, url = endpoint
    where = ["--endpoint-url", url, "--region", "us-east-1"]

    added = shell("add", ORG, "job-running,job-done", *where)
    assert added.returncode == 0, added.stderr
    assert added.stdout.count("added:") == 2
    watchlist = shell.config_dir / "watchlist.json"
    before = watchlist.read_bytes()

    bad = shell("add", ORG, "fine", "bad/id", *where)
    assert bad.returncode == 252
    assert "bad/id" in bad.stderr and bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr
    assert watchlist.read_bytes() == before

    listed = shell("list", "--json")
    assert listed.returncode == 0
    assert [job["State"] for job in json.loads(listed.stdout)["jobs"]] == [None, None]
    assert server.state.counters_snapshot().total() == 0

    status = shell("status", "--json", *where)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    states = {job["JobId"]: (job["State"], job["error"]) for job in report["jobs"]}
    assert states == {"job-done": ("COMPLETED", None), "job-running": ("RUNNING", None)}
    assert report["errors"] == []

    # The states read from this endpoint are cached for it, apart from AWS's.
    listed = shell("list", "--json", *where)
    assert {job["State"] for job in json.loads(listed.stdout)["jobs"]} == {"COMPLETED", "RUNNING"}
    aws_listed = shell("list", "--json", "--region", "us-east-1")
    assert [job["State"] for job in json.loads(aws_listed.stdout)["jobs"]] == [None, None]


def test_start_then_cancel(shell: Shell, endpoint: tuple[EmulatorServer, str]) -> None:
    server, url = endpoint
    where = ["--endpoint-url", url, "--region", "us-east-1"]
    started = shell(
        "start", ORG, "carol", "--bucket", "wm-export", "--prefix", "exports",
        "--role-arn", ROLE, "--kms-key-arn", KMS, *where,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    job_id = started.stdout.strip()
    assert server.state.job(ORG, job_id).state == "RUNNING"
    assert job_id in (shell.config_dir / "watchlist.json").read_text()

    # stdin is not a terminal: no confirmation possible, so no cancel without --yes.
    refused = shell("cancel", ORG, job_id, *where)
    assert refused.returncode == 252 and "--yes" in refused.stderr
    cancelled = shell("cancel", ORG, job_id, "--yes", *where)
    assert cancelled.returncode == 0, cancelled.stderr
    assert server.state.job(ORG, job_id).state == "CANCELLED"


def test_no_credentials_is_253_with_the_fix(
    shell: Shell, endpoint: tuple[EmulatorServer, str]
) -> None:
    server, url = endpoint
    where = ["--endpoint-url", url, "--region", "us-east-1"]
    assert shell("add", ORG, "job-running", *where).returncode == 0
    del shell.env["AWS_ACCESS_KEY_ID"], shell.env["AWS_SECRET_ACCESS_KEY"]
    run = shell("status", *where)
    assert run.returncode == 253
    assert run.stderr.startswith("wmtui: error: ")
    assert "credentials" in run.stderr.lower() and "(" in run.stderr  # the fix follows
    assert "Traceback" not in run.stderr
    assert server.state.counters_snapshot().total() == 0


def test_an_unreachable_endpoint_is_254(shell: Shell) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens there now: the connection is refused at once.
    where = ["--endpoint-url", f"http://127.0.0.1:{port}", "--region", "us-east-1"]
    assert shell("add", ORG, "job-1", *where).returncode == 0
    run = shell("status", *where)
    assert run.returncode == 254
    assert run.stderr.startswith("wmtui: error: ") and "Traceback" not in run.stderr
    assert f"127.0.0.1:{port}" in run.stderr or "reach" in run.stderr.lower()


def test_status_loads_no_textual(shell: Shell, endpoint: tuple[EmulatorServer, str]) -> None:
    _, url = endpoint
    where = ["--endpoint-url", url, "--region", "us-east-1"]
    assert shell("add", ORG, "job-running", *where).returncode == 0
    code = (
        "import sys; from wmtui.cli import main; rc = main(sys.argv[1:]); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'wmtui'}), rc)"
    )
    run = shell("status", "--json", *where, code=code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "['wmtui'] 0"


def test_demo_status_needs_no_aws_setup_and_leaves_no_trace(shell: Shell) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        del shell.env[name]
    shell.env["AWS_CONFIG_FILE"] = str(shell.home / "missing-config")
    shell.env["AWS_SHARED_CREDENTIALS_FILE"] = str(shell.home / "missing-credentials")
    run = shell("--demo", "status", "--json")
    assert run.returncode == 0, run.stderr
    jobs = json.loads(run.stdout)["jobs"]
    assert len(jobs) > 5
    assert {"RUNNING", "COMPLETED", "FAILED"} <= {job["State"] for job in jobs}
    # The user's own folders were never created, let alone written.
    assert not shell.config_dir.exists()
    assert not (shell.home / "cache").exists()


@pytest.mark.parametrize("options", [(), ("--demo",)], ids=["plain", "demo"])
def test_without_a_terminal_the_app_says_so_and_exits_252(
    shell: Shell, options: tuple[str, ...]
) -> None:
    # Shell's stdin is /dev/null and its stdout a pipe: a cron line or `ssh -T host wmtui`.
    temp = shell.home / "tmp"
    temp.mkdir()
    run = shell(*options, env={"TMPDIR": str(temp)})
    assert run.returncode == 252
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1
    assert "needs a terminal" in lines[0]
    assert "`wmtui status`" in lines[0] and "`wmtui list --json`" in lines[0]
    assert "\x1b" not in run.stderr
    # Nothing was started: no demo folder, no watch list.
    assert list(temp.iterdir()) == []
    assert not shell.config_dir.exists()


def test_a_terminal_on_stdin_alone_is_not_enough(shell: Shell) -> None:
    """`wmtui > out.log` at a prompt: the output is a file, so the app does not start."""
    terminal, other_end = os.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "wmtui"],
            env=shell.env,
            cwd=shell.home,
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(terminal)
        os.close(other_end)
    assert done.returncode == 252
    assert done.stdout == ""
    assert "needs a terminal" in done.stderr


def test_commands_for_scripts_work_without_a_terminal(shell: Shell) -> None:
    run = shell("list", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"jobs": []}
