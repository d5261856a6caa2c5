"""`wmtui coverage ORG` against the emulator: the groups, the deadline, JSON, and the exit code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from wmtui.cli import main
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState

ORG = "m-0123456789abcdef0123456789abcdef"


@pytest.fixture
def server(aws_credentials: None) -> Iterator[tuple[EmulatorServer, EmulatorState]]:
    """alice running, bob exported 2 days ago, carol failed, dave never, erin disabled."""
    state = EmulatorState(clock=EmulatorClock(manual=True), failure_rate=0)
    state.add_organization("example", ORG)
    alice = state.add_mailbox(ORG, "alice", display_name="Alice Example")
    bob = state.add_mailbox(ORG, "bob")
    carol = state.add_mailbox(ORG, "carol")
    state.add_mailbox(ORG, "dave")
    state.add_mailbox(ORG, "erin", state="DISABLED")
    state.add_job(ORG, alice, state="RUNNING", progress=40, job_id="job-running")
    state.add_job(ORG, bob, state="COMPLETED", started_ago=timedelta(days=2), job_id="job-done")
    state.add_job(
        ORG,
        carol,
        state="FAILED",
        started_ago=timedelta(hours=1),
        error_info="bucket \x1b]0;pwned\x07 denied",
        job_id="job-failed",
    )
    with EmulatorServer(state) as running:
        yield running, state


def _argv(server: EmulatorServer, *rest: str) -> list[str]:
    return ["--endpoint-url", server.endpoint_url, "--region", "us-east-1", "coverage", *rest]


def test_coverage_prints_every_mailbox_in_its_group_and_the_deadline(
    server: tuple[EmulatorServer, EmulatorState], capsys: pytest.CaptureFixture[str]
) -> None:
    running, _ = server
    assert main(_argv(running, ORG)) == 1
    out = capsys.readouterr().out
    sections = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert sections[:5] == [
        "NOT EXPORTED (1)",
        "FAILED (1)",
        "RUNNING (1)",
        "EXPORTED, NOT VERIFIED (1)",
        "DISABLED (1)",
    ]
    assert "End of support 31 March 2027" in out
    assert "0 verified · 1 exported · 3 left of 4 enabled mailboxes (1 running)" in out
    assert "Alice Example" in out and "job-running" in out
    assert "\x1b" not in out
    assert "disabled: WorkMail does not export it" in out


def test_coverage_json_and_the_cutoff(
    server: tuple[EmulatorServer, EmulatorState], capsys: pytest.CaptureFixture[str]
) -> None:
    running, state = server
    cutoff = (state.clock.now() - timedelta(days=1)).date().isoformat()
    assert main(_argv(running, ORG, "--json", "--cutoff", cutoff)) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["Cutoff"] == cutoff and document["Covered"] is False
    by_name = {row["Mailbox"]: row for row in document["Rows"]}
    assert by_name["bob"]["Group"] == "stale"
    assert by_name["Alice Example"]["Group"] == "running"
    assert by_name["carol"]["State"] == "FAILED"
    assert by_name["erin"]["Enabled"] is False and by_name["erin"]["Group"] == "disabled"
    assert document["Groups"]["stale"] == 1
    assert document["Deadline"]["EndOfSupport"] == "2027-03-31"
    assert document["Deadline"]["Left"] == 4


def test_coverage_exits_0_once_every_enabled_mailbox_is_exported(
    server: tuple[EmulatorServer, EmulatorState], capsys: pytest.CaptureFixture[str]
) -> None:
    running, state = server
    for name in ("alice", "carol", "dave"):
        mailbox = next(m for m in state.mailboxes(ORG) if m.name == name)
        state.add_job(ORG, mailbox.entity_id, state="COMPLETED", started_ago=timedelta(hours=30))
    # alice's running job is still running: finish it by moving the clock.
    state.clock.advance(timedelta(hours=1))
    assert main(_argv(running, ORG, "--json")) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["Covered"] is True and document["Deadline"]["Left"] == 0


def test_coverage_refuses_a_bad_cutoff(server: tuple[EmulatorServer, EmulatorState]) -> None:
    running, _ = server
    assert main(_argv(running, ORG, "--cutoff", "last tuesday")) == 252
