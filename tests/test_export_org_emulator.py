"""The organization-wide export over the wire: a real boto3 client against the emulator.

The emulator's clock is manual: a test ticks the export, then moves time on, so 200 mailboxes
with five-minute jobs finish in a second or two of real time and nothing depends on timing.
What is asserted comes from the emulator's own records (jobs started per mailbox, the most
ever running at once), not from what the export believes.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from wmtui.aws.service import Boto3ExportService
from wmtui.core.export import (
    ExportProgress,
    ExportSpec,
    MailboxStatus,
    OrgExport,
    export_state_path,
    read_export_state,
)
from wmtui.core.models import JobKey, StartRequest
from wmtui.core.names import NameDirectory
from wmtui.core.report import build_report, write_report
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import FAILURE_REASONS, EmulatorClock, EmulatorState

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
JOB_MINUTES = 5
POLL_SECONDS = 90


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync guards against power loss, which no test can stage; it costs ~10 ms a save here."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@dataclass
class World:
    state: EmulatorState
    server: EmulatorServer
    org: str
    entity_ids: list[str]
    service: Boto3ExportService

    def now(self) -> datetime:
        return self.state.clock.now()

    def spec(self, **changes: Any) -> ExportSpec:
        fields: dict[str, Any] = {
            "region": REGION,
            "organization_id": self.org,
            "bucket": "migration-bucket",
            "prefix": "workmail/final",
            "role_arn": ROLE,
            "kms_key_arn": KMS,
        }
        fields.update(changes)
        return ExportSpec(**fields)


def make_world(
    mailboxes: int,
    *,
    service_cap: int = 10,
    failure_rate: float = 0.0,
    jitter: float = 0.2,
) -> Iterator[World]:
    clock = EmulatorClock(manual=True, start=datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    state = EmulatorState(
        clock=clock,
        seed=3,
        max_running=service_cap,
        job_duration=timedelta(minutes=JOB_MINUTES),
        job_duration_jitter=jitter,
        failure_rate=failure_rate,
    )
    org = state.add_organization("acme", region=REGION)
    entity_ids = []
    for i in range(mailboxes):
        if i % 20 == 19:
            entity_ids.append(state.add_mailbox(org, f"room{i:03d}", kind="ROOM"))
        else:
            entity_ids.append(state.add_mailbox(org, f"user{i:03d}", display_name=f"User {i:03d}"))
    server = EmulatorServer(state).start()
    try:
        service = Boto3ExportService(
            endpoint_url=server.endpoint_url,
            region=REGION,
            credentials=("AKIDTESTTESTTESTTEST", "testsecret"),
            connect_timeout=2.0,
            read_timeout=5.0,
        )
        yield World(state, server, org, entity_ids, service)
    finally:
        server.stop()
        assert server.internal_errors == []


@pytest.fixture
def world200(aws_credentials: None) -> Iterator[World]:
    yield from make_world(200, service_cap=50)


@pytest.fixture
def world5(aws_credentials: None) -> Iterator[World]:
    yield from make_world(5, jitter=0.0)


def drive(
    export: OrgExport, world: World, *, step: float = POLL_SECONDS, limit: int = 2000
) -> list[ExportProgress]:
    seen: list[ExportProgress] = []
    for _ in range(limit):
        progress = export.tick()
        seen.append(progress)
        if progress.finished:
            return seen
        world.state.clock.advance(step)
    raise AssertionError(f"not finished: {seen[-1]}")


class SimulatedKill(BaseException):
    """kill -9: nothing after this runs, not even `except Exception` blocks."""


class DiesAfterStart:
    """Forwards every call; the Nth StartMailboxExportJob is sent, then the process 'dies'."""

    def __init__(self, inner: Boto3ExportService, die_on: int) -> None:
        self.inner = inner
        self.die_on = die_on
        self.starts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def start_job(self, region: str, organization_id: str, request: StartRequest) -> JobKey:
        key = self.inner.start_job(region, organization_id, request)
        self.starts += 1
        if self.starts == self.die_on:
            raise SimulatedKill
        return key


def test_200_mailboxes_cap_10_each_exported_once(world200: World, tmp_path: Path) -> None:
    # The emulator would allow 50 at once here, so the cap of 10 is the export's own doing.
    spec = world200.spec()
    export = OrgExport(
        spec, world200.service, export_state_path(tmp_path, spec), clock=world200.now
    )
    history = drive(export, world200)
    final = history[-1]
    assert (final.total, final.done, final.failed, final.skipped) == (200, 200, 0, 0)
    assert world200.state.max_running_seen(world200.org) == 10
    started = world200.state.exports_started(world200.org)
    assert sorted(started) == sorted(world200.entity_ids)
    assert all(len(jobs) == 1 for jobs in started.values())
    # Every started job was handed to the caller (for the watch list) exactly once.
    handed = [key for progress in history for key in progress.started]
    assert len(handed) == len(set(handed)) == 200
    # The schedule keeps the slots full: no export finishes before ceil(200/10) x 5 min.
    elapsed = final.at - history[0].at
    bound = timedelta(minutes=20 * JOB_MINUTES)
    assert bound * 0.8 <= elapsed <= bound * 1.6


def test_kill_9_between_start_and_save_then_resume_no_duplicates(
    world200: World, tmp_path: Path
) -> None:
    spec = world200.spec()
    path = export_state_path(tmp_path, spec)
    dying = DiesAfterStart(world200.service, die_on=57)
    export = OrgExport(spec, dying, path, clock=world200.now)
    with pytest.raises(SimulatedKill):
        drive(export, world200)
    export.close()  # the OS releases a killed process's lock; close() writes nothing
    saved = read_export_state(path)
    assert saved is not None
    statuses = [r.status for r in saved.records]
    assert MailboxStatus.STARTING in statuses  # the 57th start's answer never reached the file
    world200.state.clock.advance(POLL_SECONDS)

    fresh_service = Boto3ExportService(
        endpoint_url=world200.server.endpoint_url,
        region=REGION,
        credentials=("AKIDTESTTESTTESTTEST", "testsecret"),
    )
    resumed = OrgExport(spec, fresh_service, path, clock=world200.now)
    final = drive(resumed, world200)[-1]
    assert (final.done, final.failed, final.skipped) == (200, 0, 0)
    started = world200.state.exports_started(world200.org)
    assert sorted(started) == sorted(world200.entity_ids)
    assert all(len(jobs) == 1 for jobs in started.values()), "a mailbox was exported twice"
    assert world200.state.max_running_seen(world200.org) <= 10
    # The resumed export knows every job, the one whose answer was lost too.
    assert sorted(resumed.job_keys()) == sorted(
        JobKey(REGION, world200.org, jobs[0]) for jobs in started.values()
    )


def test_jobs_running_elsewhere_take_slots_and_limit_exceeded_waits(
    world5: World, tmp_path: Path
) -> None:
    state, org = world5.state, world5.org
    others = [state.add_mailbox(org, f"other{i}") for i in range(12)]
    for entity in others[:7]:
        state.add_job(org, entity, state="RUNNING", duration=timedelta(minutes=10))
    spec = world5.spec(exclude=frozenset(f"other{i}" for i in range(12)))
    export = OrgExport(
        spec,
        world5.service,
        export_state_path(tmp_path, spec),
        clock=world5.now,
        limit_wait=timedelta(seconds=30),
    )
    first = export.tick()
    assert len(first.started) == 3  # 7 of the organization's 10 slots were taken
    assert first.organization_running == 10

    # Between our sweep and our start, somebody else fills the organization.
    state.clock.advance(JOB_MINUTES * 60)  # our three end; the other seven still run
    real_list = world5.service.list_jobs

    def list_then_fill(region: str, organization_id: str) -> Any:
        jobs = real_list(region, organization_id)
        for entity in others[7:10]:
            state.add_job(org, entity, state="RUNNING", duration=timedelta(minutes=10))
        world5.service.list_jobs = real_list  # type: ignore[method-assign]
        return jobs

    world5.service.list_jobs = list_then_fill  # type: ignore[method-assign]
    refused = export.tick()
    assert refused.started == ()
    assert refused.failed == 0 and refused.queued == 2
    assert refused.waiting is not None and "LimitExceeded" in refused.waiting
    final = drive(export, world5, step=30)[-1]
    assert (final.done, final.failed) == (5, 0)
    started = world5.state.exports_started(org)
    assert {e: len(j) for e, j in started.items()} == dict.fromkeys(world5.entity_ids, 1)
    assert world5.state.max_running_seen(org) == 10


def test_failed_job_is_retried_and_its_error_kept(world5: World, tmp_path: Path) -> None:
    spec = world5.spec()
    export = OrgExport(
        spec,
        world5.service,
        export_state_path(tmp_path, spec),
        clock=world5.now,
        retry_backoff=timedelta(minutes=2),
    )
    world5.state.failure_rate = 1.0
    assert len(export.tick().started) == 5
    world5.state.failure_rate = 0.0
    world5.state.clock.advance(JOB_MINUTES * 60)
    after_failure = export.tick()
    assert (after_failure.queued, after_failure.retrying, after_failure.failed) == (5, 5, 0)
    for record in export.records():
        # ErrorInfo is only in DescribeMailboxExportJob: the export asked for it.
        assert record.error is not None
        assert any(reason in record.error for reason in FAILURE_REASONS)
    final = drive(export, world5)[-1]
    assert (final.done, final.failed) == (5, 0)
    started = world5.state.exports_started(world5.org)
    assert all(len(jobs) == 2 for jobs in started.values())
    assert {r.attempt for r in export.records()} == {2}


def test_report_of_an_export_as_csv_and_json(world5: World, tmp_path: Path) -> None:
    state, org = world5.state, world5.org
    tricky = state.add_mailbox(
        org, "mallory", display_name='=HYPERLINK("http://x")', email="mallory@acme.example"
    )
    recent = state.add_job(
        org, world5.entity_ids[0], state="COMPLETED", started_ago=timedelta(hours=3)
    )
    doomed = world5.entity_ids[1]
    real_start = world5.service.start_job

    def start(region: str, organization_id: str, request: StartRequest) -> JobKey:
        state.failure_rate = 1.0 if request.entity_id == doomed else 0.0
        return real_start(region, organization_id, request)

    world5.service.start_job = start  # type: ignore[method-assign]
    spec = world5.spec()
    export = OrgExport(
        spec, world5.service, export_state_path(tmp_path, spec), clock=world5.now, max_retries=0
    )
    final = drive(export, world5)[-1]
    assert (final.done, final.failed, final.skipped) == (4, 1, 1)

    names = NameDirectory(tmp_path / "names.json", clock=world5.now)
    names.refresh_org(world5.service, REGION, org)
    jobs = world5.service.list_jobs(REGION, org)
    rows = build_report([export.snapshot(), *jobs], names)
    assert len(rows) == 6  # one per mailbox: each has exactly one job
    by_entity = {row["EntityId"]: row for row in rows}
    assert set(by_entity) == {*world5.entity_ids, tricky}

    skipped = by_entity[world5.entity_ids[0]]
    assert skipped["JobId"] == recent and skipped["State"] == "COMPLETED"
    assert "last 24 hours" in (skipped["Note"] or "")
    failed = by_entity[doomed]
    assert failed["State"] == "FAILED"
    assert failed["ErrorInfo"] in FAILURE_REASONS  # kept from Describe; List has none
    done = by_entity[world5.entity_ids[2]]
    assert done["Mailbox"] == "User 002"
    assert done["Email"] == "user002@acme.awsapps.com"
    assert done["State"] == "COMPLETED"
    assert done["S3Uri"] == f"s3://migration-bucket/workmail/final/{done['JobId']}.zip"
    start_time = datetime.fromisoformat(str(done["StartTime"]).replace("Z", "+00:00"))
    end_time = datetime.fromisoformat(str(done["EndTime"]).replace("Z", "+00:00"))
    assert str(done["StartTime"]).endswith("Z")
    assert end_time - start_time == timedelta(minutes=JOB_MINUTES)

    text = io.StringIO()
    write_report(rows, "csv", text)
    parsed = list(csv.DictReader(io.StringIO(text.getvalue())))
    assert [row["EntityId"] for row in parsed] == [row["EntityId"] for row in rows]
    csv_tricky = next(row for row in parsed if row["EntityId"] == tricky)
    assert csv_tricky["Mailbox"] == '\'=HYPERLINK("http://x")'  # not a formula in a spreadsheet
    assert next(r for r in parsed if r["EntityId"] == doomed)["ErrorInfo"] == failed["ErrorInfo"]

    text = io.StringIO()
    write_report(rows, "json", text)
    document = json.loads(text.getvalue())
    assert document == rows  # JSON keeps values exactly, the formula text too
    assert text.getvalue().startswith("[\n  {")
