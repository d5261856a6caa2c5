"""Notifications: a program of the user's choosing hears of each event once, and never holds
anything up.

The program is a small script written by each test that appends its standard input to a file.
The commands run as a user runs them (`python -m wmtui`), against the emulator on 127.0.0.1;
a "restart" is simply the next process.
"""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from test_cli_e2e import Shell

from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.core.notify import (
    JOB_COMPLETED,
    Notifier,
    ended,
    job_event,
    notify_state_path,
    parse_command,
)
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState

ORG = "m-0123456789abcdef0123456789abcdef"
REGION = "us-east-1"


def recorder(folder: Path, *, exit_code: int = 0, hang: bool = False) -> tuple[str, Path]:
    """A notify_command that appends each event it reads to a file; the command and the file."""
    log = folder / "heard.jsonl"
    script = folder / "notify.py"
    lines = [
        "import sys, time",
        "data = sys.stdin.read()",
        f"open({str(log)!r}, 'a').write(data if data.endswith('\\n') else data + '\\n')",
    ]
    if hang:
        lines.append("time.sleep(600)")
    if exit_code:
        lines.append(f"sys.stderr.write('webhook said no\\n'); sys.exit({exit_code})")
    script.write_text("\n".join(lines) + "\n")
    return f"{sys.executable} {script}", log


def heard(log: Path) -> list[dict[str, object]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def a_job(state: JobState, job_id: str = "job-1") -> ExportJob:
    return ExportJob(
        key=JobKey(REGION, ORG, job_id),
        state=state,
        entity_id="alice-id",
        s3_bucket_name="bucket",
        s3_path="bucket/exports/job-1.zip",
        error_info="Access denied to the bucket" if state is JobState.FAILED else None,
    )


# --------------------------------------------------------------------------- the notifier


def test_each_event_is_sent_once_even_after_a_restart(tmp_path: Path) -> None:
    command, log = recorder(tmp_path)
    state = notify_state_path(tmp_path / "data")
    event = job_event(a_job(JobState.COMPLETED), profile="prod")
    assert event is not None

    first = Notifier(command, state).send([event, event])
    assert [d.sent for d in first] == [True]
    again = Notifier(command, state).send([event])  # a new process, the same state file
    assert again[0].skipped and not again[0].sent

    [told] = heard(log)
    assert told["event"] == JOB_COMPLETED
    assert told["job_id"] == "job-1" and told["organization_id"] == ORG
    assert told["profile"] == "prod" and told["state"] == "COMPLETED"
    assert told["s3_uri"] == "s3://bucket/exports/job-1.zip"
    assert set(told) >= {"time", "region", "mailbox", "error_info"}
    assert stat.S_IMODE(state.stat().st_mode) == 0o600


def test_a_failing_program_is_reported_and_does_not_raise(tmp_path: Path) -> None:
    command, log = recorder(tmp_path, exit_code=3)
    event = job_event(a_job(JobState.FAILED))
    assert event is not None
    [delivery] = Notifier(command, notify_state_path(tmp_path)).send([event])
    assert not delivery.sent
    assert delivery.problem is not None
    assert "status 3" in delivery.problem and "webhook said no" in delivery.problem
    assert heard(log)[0]["error_info"] == "Access denied to the bucket"


def test_a_hanging_program_is_stopped_at_the_time_limit(tmp_path: Path) -> None:
    command, log = recorder(tmp_path, hang=True)
    event = job_event(a_job(JobState.CANCELLED))
    assert event is not None
    notifier = Notifier(command, notify_state_path(tmp_path), timeout=1.0)
    [delivery] = notifier.send([event])
    assert not delivery.sent
    assert delivery.problem is not None and "longer than 1 s" in delivery.problem
    assert heard(log)[0]["event"] == "job_cancelled"


def test_a_missing_program_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    event = job_event(a_job(JobState.COMPLETED))
    assert event is not None
    notifier = Notifier(str(tmp_path / "no-such-program"), notify_state_path(tmp_path))
    [delivery] = notifier.send([event])
    assert delivery.problem is not None and "could not run" in delivery.problem


def test_the_event_travels_on_stdin_never_on_the_command_line(tmp_path: Path) -> None:
    seen: list[tuple[list[str], bytes]] = []

    def runner(argv: list[str], payload: bytes, timeout: float) -> str | None:
        seen.append((argv, payload))
        return None

    hostile = a_job(JobState.COMPLETED, job_id="job-$(reboot)")
    event = job_event(hostile)
    assert event is not None
    Notifier("notify --to 'ops team'", notify_state_path(tmp_path), runner=runner).send([event])
    [(argv, payload)] = seen
    assert argv == ["notify", "--to", "ops team"]
    assert json.loads(payload)["job_id"] == "job-$(reboot)"


def test_what_counts_as_an_ended_job() -> None:
    running = a_job(JobState.RUNNING)
    assert ended(running, a_job(JobState.COMPLETED))
    assert ended(running, a_job(JobState.CANCELLED))
    assert not ended(None, a_job(JobState.COMPLETED))  # never seen running: not news
    assert not ended(a_job(JobState.COMPLETED), a_job(JobState.COMPLETED))
    assert job_event(running) is None
    assert parse_command("  ") is None
    with pytest.raises(ValueError):
        parse_command("notify 'unclosed")


# --------------------------------------------------------------------------- over the wire


@pytest.fixture
def shell(tmp_path: Path) -> Shell:
    return Shell(tmp_path)


@pytest.fixture
def endpoint() -> Iterator[EmulatorServer]:
    state = EmulatorState(clock=EmulatorClock(manual=True), failure_rate=0)
    state.add_organization("example", ORG)
    alice = state.add_mailbox(ORG, "alice")
    bob = state.add_mailbox(ORG, "bob")
    carol = state.add_mailbox(ORG, "carol")
    state.add_job(ORG, alice, job_id="job-ok", duration=timedelta(minutes=10))
    state.add_job(ORG, bob, job_id="job-bad", duration=timedelta(minutes=10), outcome="FAILED")
    state.add_job(ORG, carol, job_id="job-stop", duration=timedelta(hours=5))
    with EmulatorServer(state) as server:
        yield server


def test_status_tells_each_ended_job_once_across_runs(
    shell: Shell, endpoint: EmulatorServer, tmp_path: Path
) -> None:
    command, log = recorder(tmp_path)
    where = ["--endpoint-url", endpoint.endpoint_url, "--region", REGION]
    notify = ["--notify-command", command]
    assert shell("add", ORG, "job-ok,job-bad,job-stop", *where).returncode == 0
    first = shell("status", *where, *notify)
    assert first.returncode == 0, first.stderr
    assert heard(log) == []  # all still running

    endpoint.state.clock.advance(timedelta(minutes=11))
    cancel = shell("cancel", ORG, "job-stop", "--yes", *where)
    assert cancel.returncode == 0, cancel.stderr
    for _ in range(3):  # three separate runs, the first sees the jobs end
        run = shell("status", *where, *notify)
        assert run.returncode == 0, run.stderr
    told = {(event["event"], event["job_id"]) for event in heard(log)}
    assert told == {
        ("job_completed", "job-ok"),
        ("job_failed", "job-bad"),
        ("job_cancelled", "job-stop"),
    }
    assert len(heard(log)) == 3


def test_a_failing_program_does_not_change_what_status_says(
    shell: Shell, endpoint: EmulatorServer, tmp_path: Path
) -> None:
    command, _ = recorder(tmp_path, exit_code=2)
    where = ["--endpoint-url", endpoint.endpoint_url, "--region", REGION]
    assert shell("add", ORG, "job-ok", *where).returncode == 0
    assert shell("status", *where).returncode == 0
    endpoint.state.clock.advance(timedelta(minutes=11))
    run = shell("status", *where, env={"WMTUI_NOTIFY_COMMAND": command})
    assert run.returncode == 0
    assert "COMPLETED" in run.stdout
    assert "warning: notification job_completed for job job-ok" in run.stderr
    assert "Traceback" not in run.stderr


def test_export_org_tells_its_end_once(shell: Shell, tmp_path: Path) -> None:
    command, log = recorder(tmp_path)
    state = EmulatorState(
        clock=EmulatorClock(speed=1800), seed=5, job_duration=timedelta(minutes=5), failure_rate=0
    )
    state.add_organization("acme", ORG)
    for i in range(3):
        state.add_mailbox(ORG, f"user{i}")
    shell.env["WMTUI_EXPORT_POLL_SECONDS"] = "0.05"
    shell.env["WMTUI_NOTIFY_COMMAND"] = command
    kms = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with EmulatorServer(state) as server:
        argv = ["--endpoint-url", server.endpoint_url, "--region", REGION, "export-org", ORG]
        argv += ["--bucket", "wm-export", "--prefix", "final", "--kms-key-arn", kms]
        argv += ["--role-arn", "arn:aws:iam::123456789012:role/WorkMailExport"]
        for _ in range(2):  # the second run finds it finished: nothing new to tell
            done = shell(*argv)
            assert done.returncode == 0, done.stderr
    [event] = heard(log)
    assert event["event"] == "org_export_finished"
    assert event["organization_id"] == ORG and event["state"] == "COMPLETED"
    assert event["s3_uri"] == "s3://wm-export/final"
    assert event["counts"] == {"total": 3, "done": 3, "failed": 0, "skipped": 0}
