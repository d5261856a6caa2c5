"""Mailbox names instead of EntityIds in `status`, `list` and `start`, against the emulator.

`status` lists an organization's users and resources once (cached in the cache dir, listed
again when stale) and Describes an entity the list does not have; `list` reads the cache only
and never calls; `start` takes an entity ID, user name or email and says who it exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from wmtui.cli import main
from wmtui.core.locations import endpoint_cache_dir, names_cache_path
from wmtui.core.settings import load_settings
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState

ORG = "m-0123456789abcdef0123456789abcdef"
ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture
def server(aws_credentials: None) -> Iterator[EmulatorServer]:
    state = EmulatorState(clock=EmulatorClock(manual=True), failure_rate=0)
    state.add_organization("example", ORG)
    alice = state.add_mailbox(ORG, "alice", display_name="Alice Liddell")
    bob = state.add_mailbox(ORG, "bob", display_name="Bob \x1b[2JBobson")
    state.add_mailbox(ORG, "carol", display_name="Carol Danvers")
    state.add_job(ORG, alice, state="RUNNING", progress=40, job_id="job-alice")
    state.add_job(ORG, bob, state="COMPLETED", started_ago=timedelta(hours=2), job_id="job-bob")
    with EmulatorServer(state) as running:
        yield running


def where(server: EmulatorServer) -> list[str]:
    return ["--endpoint-url", server.endpoint_url, "--region", "us-east-1"]


def test_status_shows_names_and_list_reuses_them_without_a_call(
    server: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*where(server), "add", ORG, "job-alice", "job-bob"]) == 0
    capsys.readouterr()
    # Nothing read yet: `list` has no names to show and asks nobody.
    assert main([*where(server), "list", "--json"]) == 0
    assert [job["Mailbox"] for job in json.loads(capsys.readouterr().out)["jobs"]] == [None, None]
    assert server.state.counters_snapshot().total() == 0

    assert main([*where(server), "status"]) == 0
    out = capsys.readouterr().out
    assert "Alice Liddell" in out
    assert "Bob \\x1b[2JBobson" in out and "\x1b" not in out
    assert server.state.counters_snapshot()["ListUsers"] == 1
    # Cached for this endpoint, apart from AWS's names.
    assert not names_cache_path(load_settings().cache_dir).exists()
    assert names_cache_path(
        endpoint_cache_dir(load_settings().cache_dir, server.endpoint_url)
    ).exists()

    server.state.reset_counters()
    assert main([*where(server), "list", "--json"]) == 0
    jobs = {job["JobId"]: job for job in json.loads(capsys.readouterr().out)["jobs"]}
    assert jobs["job-alice"]["Mailbox"] == {
        "Name": "alice",
        "Email": "alice@example.awsapps.com",
        "DisplayName": "Alice Liddell",
    }
    assert jobs["job-bob"]["EntityId"] != "bob"  # the opaque ID is still there, for scripts
    assert server.state.counters_snapshot().total() == 0
    # A fresh names cache is not listed again by the next status.
    assert main([*where(server), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["jobs"][0]["Mailbox"]["Name"] == "alice"
    assert server.state.counters_snapshot()["ListUsers"] == 0


def test_names_that_cannot_be_read_are_a_warning_not_a_failure(
    server: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*where(server), "add", ORG, "job-alice"]) == 0
    capsys.readouterr()
    server.inject("ListUsers", "access-denied")
    assert main([*where(server), "status"]) == 0
    captured = capsys.readouterr()
    assert "mailbox names of " in captured.err and "showing IDs" in captured.err
    assert "RUNNING" in captured.out and "Alice Liddell" not in captured.out


@pytest.mark.parametrize("mailbox", ["carol", "carol@example.awsapps.com"])
def test_start_takes_a_user_name_or_email_and_names_the_mailbox(
    server: EmulatorServer, mailbox: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        *where(server),
        "start",
        ORG,
        mailbox,
        "--bucket",
        "wm-export",
        "--prefix",
        "exports",
        "--role-arn",
        ROLE,
        "--kms-key-arn",
        KMS,
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    job_id = captured.out.strip()
    job = server.state.job(ORG, job_id)
    carol = server.state.mailboxes(ORG)[2]
    assert job.entity_id == carol.entity_id
    assert f"of Carol Danvers <carol@example.awsapps.com> ({carol.entity_id})" in captured.err
