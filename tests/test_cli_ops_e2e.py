"""`python -m wmtui export-org` in a real process: a whole run, Ctrl+C, SIGTERM, and resuming.

The emulator runs in this process; the command talks to it over loopback. For a whole run
its clock is sped up (five-minute jobs take a fraction of a second) and the command polls
every 50 ms (WMTUI_EXPORT_POLL_SECONDS). For the signals its clock stands still, so the
test decides when jobs end: it reads the command's progress lines until ten jobs run, sends
the signal, moves time on, and runs the same command again. The emulator's own record says
whether any mailbox was exported twice.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from test_cli_e2e import ROOT, Shell

from wmtui.core.export import ExportSpec, MailboxStatus, export_state_path, read_export_state
from wmtui.core.models import JobKey
from wmtui.core.watchlist import WatchList
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState

REGION = "us-east-1"
ORG = "m-0123456789abcdef0123456789abcdef"
ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET = "migration-bucket"
PREFIX = "workmail/final"


@dataclass
class Org:
    state: EmulatorState
    server: EmulatorServer
    entity_ids: list[str]

    def argv(self) -> list[str]:
        return [
            "--endpoint-url",
            self.server.endpoint_url,
            "--region",
            REGION,
            "export-org",
            ORG,
            "--bucket",
            BUCKET,
            "--prefix",
            PREFIX,
            "--role-arn",
            ROLE,
            "--kms-key-arn",
            KMS,
        ]

    def assert_each_exported_once(self) -> None:
        started = self.state.exports_started(ORG)
        assert sorted(started) == sorted(self.entity_ids)
        assert all(len(jobs) == 1 for jobs in started.values()), "a mailbox was exported twice"
        assert self.state.max_running_seen(ORG) <= 10


def make_org(mailboxes: int, clock: EmulatorClock) -> Iterator[Org]:
    state = EmulatorState(clock=clock, seed=5, job_duration=timedelta(minutes=5), failure_rate=0)
    state.add_organization("acme", ORG)
    ids = [state.add_mailbox(ORG, f"user{i:02d}") for i in range(mailboxes)]
    with EmulatorServer(state) as server:
        yield Org(state, server, ids)
        assert server.internal_errors == []


@pytest.fixture
def shell(tmp_path: Path) -> Shell:
    runner = Shell(tmp_path)
    runner.env["WMTUI_EXPORT_POLL_SECONDS"] = "0.05"
    return runner


def test_a_whole_run_exports_every_mailbox_once_and_exits_0(shell: Shell) -> None:
    for org in make_org(30, EmulatorClock(speed=1800)):
        done = shell(*org.argv())
        assert done.returncode == 0, done.stderr
        assert "30 mailboxes: 30 done, 0 running, 0 queued, 0 failed, 0 skipped (100%)" in (
            done.stdout
        )
        org.assert_each_exported_once()
        # One progress line per change, never the same line twice in a row.
        progress = [
            line.split(" ", 1)[1] for line in done.stderr.splitlines() if " done · " in line
        ]
        assert progress and progress[-1].startswith("30/30 done")
        assert all(a != b for a, b in itertools.pairwise(progress))
        assert len(WatchList(shell.config_dir / "watchlist.json").load()) == 30


def start(shell: Shell, argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "wmtui", *argv],
        env=shell.env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_when_running(process: subprocess.Popen[str], wanted: str, sig: int) -> tuple[str, str]:
    """Read progress lines until one says `wanted`, then send `sig`; returns stdout, stderr."""
    assert process.stderr is not None
    seen: list[str] = []
    while True:
        line = process.stderr.readline()  # blocks until the command prints: no sleeping
        if not line:
            out, err = process.communicate(timeout=30)
            raise AssertionError(f"ended before {wanted!r}: {''.join(seen)}{err}")
        seen.append(line)
        if wanted in line:
            break
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)
    return out, "".join(seen) + err


def test_ctrl_c_and_sigterm_stop_cleanly_and_the_same_command_resumes(shell: Shell) -> None:
    clock = EmulatorClock(manual=True)
    for org in make_org(25, clock):
        first = start(shell, org.argv())
        out, err = stop_when_running(first, "10 running · 15 queued", signal.SIGINT)
        assert first.returncode == 130, err
        assert "run the same command again to resume" in err.lower()
        assert "10 running, 15 queued" in out and "Traceback" not in err
        clock.advance(timedelta(minutes=6))  # the first ten end

        second = start(shell, org.argv())
        out, err = stop_when_running(second, "10/25 done · 10 running", signal.SIGTERM)
        assert second.returncode == 143, err
        assert "run the same command again to resume" in err.lower()

        # The rest runs at speed: the third run finishes what the first two began.
        clock.set_speed(1800)
        clock.manual = False
        third = shell(*org.argv())
        assert third.returncode == 0, third.stderr
        assert "25 mailboxes: 25 done" in third.stdout
        org.assert_each_exported_once()
        spec = ExportSpec(REGION, ORG, BUCKET, PREFIX, ROLE, KMS)
        saved = read_export_state(export_state_path(shell.home / "data", spec))
        assert saved is not None
        assert {record.status for record in saved.records} == {MailboxStatus.COMPLETED}
        watched = WatchList(shell.config_dir / "watchlist.json").load()
        assert set(watched) == {
            JobKey(REGION, ORG, jobs[0]) for jobs in org.state.exports_started(ORG).values()
        }


def test_read_only_is_refused_with_252(shell: Shell) -> None:
    for org in make_org(2, EmulatorClock(manual=True)):
        done = shell("--read-only", *org.argv())
        assert done.returncode == 252
        assert "read-only" in done.stderr
        assert org.state.counters_snapshot().total() == 0
