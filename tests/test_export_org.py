"""The organization-wide export's scheduler, against a small in-memory WorkMail.

Narrow units: the fake below keeps jobs on a manual clock, honours ClientTokens and can be told
to refuse starts or fail jobs. The same behaviours are checked over the wire against the
emulator in test_export_org_emulator.py.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wmtui.core.export import (
    ExportProgress,
    ExportSpec,
    ExportStateError,
    MailboxStatus,
    OrgExport,
    client_token,
    export_id_for,
    export_state_path,
    find_exports,
    read_export_state,
    read_selector_file,
    round_events,
)
from wmtui.core.models import (
    ExportJob,
    JobKey,
    JobState,
    Mailbox,
    Organization,
    StartRequest,
    ValidationError,
)
from wmtui.core.service import ErrorKind, ServiceError

REGION = "us-east-1"
ORG = "m-" + "a" * 32
ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KEY = "arn:aws:kms:us-east-1:123456789012:key/0000-1111"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class ManualClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeJob:
    job_id: str
    entity_id: str
    start: datetime
    duration: timedelta
    fails: bool = False
    cancelled: bool = False
    description: str = ""

    def as_export_job(self, now: datetime) -> ExportJob:
        ends = self.start + self.duration
        if self.cancelled:
            state, progress, end = JobState.CANCELLED, 50, ends
        elif now >= ends:
            state = JobState.FAILED if self.fails else JobState.COMPLETED
            progress, end = (40 if self.fails else 100), ends
        else:
            elapsed = (now - self.start) / self.duration
            state, progress, end = JobState.RUNNING, int(99 * elapsed), None
        return ExportJob(
            key=JobKey(REGION, ORG, self.job_id),
            state=state,
            raw_state=state.value,
            entity_id=self.entity_id,
            description=self.description,
            s3_bucket_name="bucket",
            s3_path=f"bucket/exports/{self.job_id}.zip",
            estimated_progress=progress,
            start_time=self.start,
            end_time=end,
        )


class FakeWorkMail:
    """Just enough of WorkMail for the scheduler: jobs on a clock, tokens, refusals."""

    def __init__(
        self,
        clock: ManualClock,
        mailboxes: int = 5,
        *,
        duration: timedelta = timedelta(minutes=10),
        service_cap: int = 10,
    ) -> None:
        self.clock = clock
        self.duration = duration
        self.service_cap = service_cap
        self.mailboxes = [
            Mailbox(
                entity_id=f"ent-{i:03d}",
                name=f"user{i:03d}",
                email=f"user{i:03d}@example.com",
                display_name=f"User {i:03d}",
                state="ENABLED",
            )
            for i in range(mailboxes)
        ]
        self.jobs: dict[str, FakeJob] = {}
        self.tokens: dict[str, str] = {}
        self.remember_tokens = True
        self.starts: Counter[str] = Counter()  # entity -> jobs actually created
        self.start_calls = 0
        self.calls: Counter[str] = Counter()
        self.fail_entities: dict[str, int] = {}  # entity -> how many of its next jobs fail
        self.refusals: list[ServiceError] = []  # raised by the next start calls, in order
        self.list_refusals: list[ServiceError] = []
        self.max_running_seen = 0
        self.hidden_from_list: set[str] = set()  # job IDs the list does not show yet
        self.on_start: Callable[[StartRequest], None] | None = None

    # the ExportService protocol ------------------------------------------------------------
    @property
    def target(self) -> str:
        return "fake"

    def running(self) -> int:
        now = self.clock()
        return sum(
            1 for job in self.jobs.values() if job.as_export_job(now).state is JobState.RUNNING
        )

    def describe_job(self, key: JobKey) -> ExportJob:
        self.calls["describe_job"] += 1
        job = self.jobs[key.job_id].as_export_job(self.clock())
        info = "Access denied writing to the bucket" if job.state is JobState.FAILED else None
        return replace(job, error_info=info, described=True)

    def list_jobs(self, region: str, organization_id: str) -> list[ExportJob]:
        self.calls["list_jobs"] += 1
        if self.list_refusals:
            raise self.list_refusals.pop(0)
        now = self.clock()
        return [
            job.as_export_job(now)
            for job in self.jobs.values()
            if job.job_id not in self.hidden_from_list
        ]

    def start_job(self, region: str, organization_id: str, request: StartRequest) -> JobKey:
        self.calls["start_job"] += 1
        self.start_calls += 1
        assert request.client_token is not None
        assert re.fullmatch(r"[\x21-\x7e]{1,128}", request.client_token)
        if self.on_start is not None:
            self.on_start(request)
        if self.refusals:
            raise self.refusals.pop(0)
        if self.remember_tokens and request.client_token in self.tokens:
            return JobKey(region, organization_id, self.tokens[request.client_token])
        if self.running() >= self.service_cap:
            raise ServiceError(ErrorKind.LIMIT_EXCEEDED, "too many running")
        job_id = f"job-{len(self.jobs) + 1:04d}"
        fails = self.fail_entities.get(request.entity_id, 0) > 0
        if fails:
            self.fail_entities[request.entity_id] -= 1
        self.jobs[job_id] = FakeJob(
            job_id,
            request.entity_id,
            self.clock(),
            self.duration,
            fails=fails,
            description=request.description,
        )
        self.tokens[request.client_token] = job_id
        self.starts[request.entity_id] += 1
        self.max_running_seen = max(self.max_running_seen, self.running())
        return JobKey(region, organization_id, job_id)

    def cancel_job(self, key: JobKey, client_token: str | None = None) -> None:
        self.jobs[key.job_id].cancelled = True

    def list_organizations(self, region: str) -> list[Organization]:
        return [Organization(ORG)]

    def list_mailboxes(self, region: str, organization_id: str) -> list[Mailbox]:
        self.calls["list_mailboxes"] += 1
        return list(self.mailboxes)

    def describe_mailbox(self, region: str, organization_id: str, entity_id: str) -> Mailbox:
        raise ServiceError(ErrorKind.JOB_NOT_FOUND, "no such entity")

    # helpers for tests ---------------------------------------------------------------------
    def add_foreign_job(
        self, entity_id: str, *, started_ago: timedelta, duration: timedelta | None = None
    ) -> str:
        job_id = f"foreign-{len(self.jobs) + 1:04d}"
        self.jobs[job_id] = FakeJob(
            job_id, entity_id, self.clock() - started_ago, duration or self.duration
        )
        return job_id


def make_spec(**changes: object) -> ExportSpec:
    spec = ExportSpec(REGION, ORG, "bucket", "exports", ROLE, KEY)
    return replace(spec, **changes)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync guards against power loss, which no test can stage; it costs ~10 ms a save here."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return export_state_path(tmp_path / "data", make_spec())


def drive(
    export: OrgExport, clock: ManualClock, *, step: float = 60, limit: int = 500
) -> list[JobKey]:
    """Tick and advance the clock until the export is finished; returns every started key."""
    started: list[JobKey] = []
    for _ in range(limit):
        progress = export.tick()
        started.extend(progress.started)
        if progress.finished:
            return started
        clock.advance(step)
    raise AssertionError(f"not finished after {limit} ticks: {progress}")


# ---- identity, tokens, spec ----------------------------------------------------------------


def test_export_id_is_stable_for_the_same_destination_only() -> None:
    spec = make_spec()
    assert spec.export_id == make_spec(max_running=3, description="other").export_id
    assert spec.export_id == export_id_for(REGION, ORG, "bucket", "exports")
    assert spec.export_id != make_spec(prefix="exports2").export_id
    assert spec.export_id != make_spec(bucket="bucket2").export_id
    assert export_state_path(Path("/d"), spec) == Path(f"/d/exports/{spec.export_id}.json")


def test_client_token_is_valid_and_differs_per_mailbox_and_attempt() -> None:
    token = client_token("exp", "ent-1", 1)
    assert re.fullmatch(r"[\x21-\x7e]{1,128}", token)
    assert token == client_token("exp", "ent-1", 1)
    assert len({token, client_token("exp", "ent-1", 2), client_token("exp", "ent-2", 1)}) == 3
    assert client_token("exp2", "ent-1", 1) != token


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"bucket": "bad bucket"}, "S3 bucket"),
        ({"prefix": "a b"}, "S3 prefix"),
        ({"role_arn": "role"}, "role ARN"),
        ({"organization_id": "m-123"}, "organization ID"),
        ({"max_running": 11}, "maximum running"),
        ({"max_running": 0}, "maximum running"),
        ({"description": "x" * 1024}, "description"),
    ],
)
def test_a_bad_spec_is_refused_before_any_call(
    change: dict[str, object], what: str, clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock)
    with pytest.raises(ValidationError) as caught:
        OrgExport(make_spec(**change), service, state_path, clock=clock)
    assert caught.value.what == what
    assert not service.calls


def test_selector_file(tmp_path: Path) -> None:
    path = tmp_path / "only.txt"
    path.write_text("# people first\nuser001\n\n  USER002@example.com  # boss\nent-003\n")
    assert read_selector_file(path) == {"user001", "USER002@example.com", "ent-003"}


# ---- the schedule ---------------------------------------------------------------------------


def test_exports_every_mailbox_once_never_over_the_cap(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=23)
    export = OrgExport(make_spec(max_running=4), service, state_path, clock=clock)
    started = drive(export, clock, step=120)
    assert service.max_running_seen == 4
    assert service.starts == dict.fromkeys((m.entity_id for m in service.mailboxes), 1)
    assert sorted(started) == sorted(export.job_keys())
    assert len(started) == 23
    final = export.tick()
    assert (final.done, final.running, final.queued, final.failed, final.skipped) == (
        23,
        0,
        0,
        0,
        0,
    )
    assert final.fraction == 1.0
    assert final.eta == timedelta(0)
    # Jobs carry the export's description, so an admin can tell them apart in the console.
    assert {job.description for job in service.jobs.values()} == {
        f"wmtui export-org {export.export_id}"
    }


def test_next_job_starts_on_the_first_tick_after_a_slot_frees(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=3, duration=timedelta(minutes=10))
    export = OrgExport(make_spec(max_running=2), service, state_path, clock=clock)
    assert len(export.tick().started) == 2
    clock.advance(9 * 60)
    assert export.tick().started == ()
    clock.advance(60)
    progress = export.tick()
    assert len(progress.started) == 1
    assert (progress.done, progress.running, progress.queued) == (2, 1, 0)


def test_jobs_already_running_in_the_organization_take_slots(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=5)
    for i in range(8):
        service.add_foreign_job(f"other-{i}", started_ago=timedelta(minutes=1))
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    progress = export.tick()
    assert len(progress.started) == 2
    assert progress.organization_running == 10  # eight others and our two
    assert service.calls["start_job"] == 2
    clock.advance(9 * 60)  # the other jobs end
    assert len(export.tick().started) == 3


def test_a_full_organization_says_why_nothing_starts(clock: ManualClock, state_path: Path) -> None:
    service = FakeWorkMail(clock, mailboxes=2)
    for i in range(10):
        service.add_foreign_job(f"other-{i}", started_ago=timedelta(0))
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    progress = export.tick()
    assert progress.started == ()
    assert progress.waiting is not None and "10 exports running" in progress.waiting
    assert service.calls["start_job"] == 0


def test_mailbox_exported_in_the_last_24_hours_is_skipped(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=3)
    recent = service.add_foreign_job("ent-000", started_ago=timedelta(hours=2))
    service.add_foreign_job("ent-001", started_ago=timedelta(hours=30))
    running = service.add_foreign_job("user002@example.com", started_ago=timedelta(minutes=1))
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    drive(export, clock)
    assert service.starts == {"ent-001": 1}
    by_id = {r.entity_id: r for r in export.records()}
    assert by_id["ent-000"].status is MailboxStatus.SKIPPED
    assert by_id["ent-000"].job_id == recent
    assert "last 24 hours" in (by_id["ent-000"].reason or "")
    # A job started by email address is still that mailbox's export.
    assert by_id["ent-002"].status is MailboxStatus.SKIPPED
    assert by_id["ent-002"].job_id == running


def test_failed_job_is_retried_with_backoff_then_given_up(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=2, duration=timedelta(minutes=10))
    service.fail_entities["ent-001"] = 99
    seen_tokens: list[str] = []
    service.on_start = lambda request: (
        seen_tokens.append(request.client_token or "") if request.entity_id == "ent-001" else None
    )
    export = OrgExport(
        make_spec(), service, state_path, clock=clock, retry_backoff=timedelta(minutes=5)
    )
    export.tick()
    clock.advance(10 * 60)
    progress = export.tick()  # attempt 1 failed: queued for a retry, not before 5 minutes
    assert progress.retrying == 1 and progress.failed == 0
    assert progress.started == ()
    clock.advance(4 * 60)
    assert export.tick().started == ()
    clock.advance(60)
    assert len(export.tick().started) == 1
    drive(export, clock)
    record = {r.entity_id: r for r in export.records()}["ent-001"]
    assert record.status is MailboxStatus.FAILED
    assert record.attempt == 3  # two retries by default
    assert len(record.job_ids) == 3
    assert "Access denied writing to the bucket" in (record.error or "")
    assert service.starts == {"ent-000": 1, "ent-001": 3}
    # Each attempt is a new token, or the service would hand back the failed job.
    assert len(set(seen_tokens)) == 3
    final = export.tick()
    assert (final.done, final.failed) == (1, 1)


def test_retry_failed_queues_them_again(clock: ManualClock, state_path: Path) -> None:
    service = FakeWorkMail(clock, mailboxes=1)
    service.fail_entities["ent-000"] = 1
    export = OrgExport(make_spec(), service, state_path, clock=clock, max_retries=0)
    drive(export, clock)
    assert export.tick().failed == 1
    assert export.retry_failed() == 1
    drive(export, clock)
    assert export.tick().done == 1
    assert service.starts == {"ent-000": 2}


def test_cancelled_job_is_not_retried(clock: ManualClock, state_path: Path) -> None:
    service = FakeWorkMail(clock, mailboxes=1)
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    (key,) = export.tick().started
    service.cancel_job(key)
    progress = export.tick()
    assert progress.failed == 1 and progress.finished
    assert "cancelled" in (export.records()[0].error or "")
    assert service.starts == {"ent-000": 1}


def test_limit_exceeded_waits_and_is_not_a_failure(clock: ManualClock, state_path: Path) -> None:
    service = FakeWorkMail(clock, mailboxes=3)
    limit = ServiceError(ErrorKind.LIMIT_EXCEEDED, "10 running", code="LimitExceededException")
    service.refusals = [limit, limit]
    export = OrgExport(
        make_spec(), service, state_path, clock=clock, limit_wait=timedelta(seconds=30)
    )
    progress = export.tick()
    assert progress.started == ()
    assert progress.failed == 0 and progress.queued == 3
    assert progress.waiting is not None and "LimitExceeded" in progress.waiting
    calls = service.calls["start_job"]
    clock.advance(10)
    assert export.tick().started == ()
    assert service.calls["start_job"] == calls  # waiting: nothing sent
    clock.advance(60)
    drive(export, clock)
    assert service.starts == dict.fromkeys(("ent-000", "ent-001", "ent-002"), 1)
    assert export.tick().done == 3


def test_throttling_backs_off_without_losing_anything(clock: ManualClock, state_path: Path) -> None:
    service = FakeWorkMail(clock, mailboxes=2)
    throttled = ServiceError(ErrorKind.THROTTLED, "Rate exceeded", code="ThrottlingException")
    service.list_refusals = [throttled, throttled]
    export = OrgExport(
        make_spec(), service, state_path, clock=clock, transient_backoff=timedelta(seconds=5)
    )
    progress = export.tick()
    assert progress.waiting is not None and "throttled" in progress.waiting
    clock.advance(1)
    export.tick()
    assert service.calls["list_jobs"] == 1  # still backing off: no call
    clock.advance(5)
    export.tick()  # second throttle: backoff doubles
    clock.advance(6)
    export.tick()
    assert service.calls["list_jobs"] == 2
    clock.advance(5)
    assert len(export.tick().started) == 2


def test_throttled_start_is_sent_again_with_the_same_token(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=1)
    tokens: list[str] = []
    service.on_start = lambda request: tokens.append(request.client_token or "")
    service.refusals = [ServiceError(ErrorKind.TIMEOUT, "read timeout")]
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    export.tick()
    assert export.records()[0].status is MailboxStatus.STARTING
    clock.advance(60)
    drive(export, clock)
    assert len(tokens) == 2 and tokens[0] == tokens[1]


def test_credentials_problem_is_raised_not_waited_out(clock: ManualClock, state_path: Path) -> None:
    service = FakeWorkMail(clock, mailboxes=1)
    service.list_refusals = [ServiceError(ErrorKind.EXPIRED_TOKEN, "expired")]
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    with pytest.raises(ServiceError) as caught:
        export.tick()
    assert caught.value.kind is ErrorKind.EXPIRED_TOKEN


def test_invalid_parameter_on_the_first_start_stops_everything(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=3)
    service.refusals = [ServiceError(ErrorKind.INVALID_PARAMETER, "bad KMS key")]
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    with pytest.raises(ServiceError):
        export.tick()
    # Nothing was marked failed: fix the key, run again, and it proceeds.
    assert all(not r.status.is_final for r in export.records())


def test_entity_gone_is_skipped(clock: ManualClock, state_path: Path) -> None:
    service = FakeWorkMail(clock, mailboxes=2)
    service.refusals = [ServiceError(ErrorKind.JOB_NOT_FOUND, "entity not found")]
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    drive(export, clock)
    records = export.records()
    assert records[0].status is MailboxStatus.SKIPPED
    assert "not found" in (records[0].reason or "")
    assert records[1].status is MailboxStatus.COMPLETED


def test_only_exclude_and_disabled_mailboxes(clock: ManualClock, state_path: Path) -> None:
    service = FakeWorkMail(clock, mailboxes=5)
    service.mailboxes[3] = replace(service.mailboxes[3], state="DISABLED")
    spec = make_spec(
        only=frozenset({"USER000@example.com", "user001", "ent-002", "ent-003", "nobody"}),
        exclude=frozenset({"ent-001"}),
    )
    export = OrgExport(spec, service, export_state_path(state_path.parent, spec), clock=clock)
    progress = export.tick()
    assert progress.unmatched == ("nobody",)
    drive(export, clock)
    assert set(service.starts) == {"ent-000", "ent-002"}
    statuses = {r.entity_id: (r.status, r.reason) for r in export.records()}
    assert statuses["ent-003"] == (MailboxStatus.SKIPPED, "the mailbox is disabled")
    assert "ent-001" not in statuses and "ent-004" not in statuses


# ---- progress ------------------------------------------------------------------------------


def test_progress_counts_running_jobs_by_their_estimated_progress(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=4, duration=timedelta(minutes=10))
    export = OrgExport(make_spec(max_running=2), service, state_path, clock=clock)
    first = export.tick()
    assert first.fraction == 0.0 and first.eta is None
    clock.advance(5 * 60)
    half = export.tick()
    assert half.running == 2
    assert 0.2 < half.fraction < 0.3  # two of four jobs half-way
    assert half.eta is not None and timedelta(minutes=10) < half.eta < timedelta(minutes=20)


def test_run_drives_to_the_end_with_the_injected_sleep(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=12)
    seen: list[int] = []
    started: list[JobKey] = []

    def on_progress(progress: ExportProgress) -> None:
        seen.append(progress.done)
        started.extend(progress.started)

    export = OrgExport(
        make_spec(max_running=5), service, state_path, clock=clock, sleep=clock.advance
    )
    final = export.run(poll_interval=30, on_progress=on_progress)
    assert final.finished and final.done == 12
    assert seen == sorted(seen) and seen[-1] == 12
    assert sorted(started) == sorted(export.job_keys())


def test_run_stops_when_asked_and_when_all_started(clock: ManualClock, state_path: Path) -> None:
    service = FakeWorkMail(clock, mailboxes=12)
    export = OrgExport(
        make_spec(max_running=5), service, state_path, clock=clock, sleep=clock.advance
    )
    progress = export.run(poll_interval=30, should_stop=lambda: True)
    assert progress.running == 5 and progress.queued == 7
    progress = export.run(poll_interval=30, until_done=False)
    assert progress.queued == 0 and progress.running > 0


# ---- the state file ------------------------------------------------------------------------


def test_state_file_is_private_and_says_starting_before_the_request(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=2)
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    seen_on_disk: list[tuple[str, int]] = []

    def check_disk(request: StartRequest) -> None:
        saved = json.loads(state_path.read_text())
        entry = next(m for m in saved["mailboxes"] if m["entity_id"] == request.entity_id)
        seen_on_disk.append((entry["status"], entry["attempt"]))
        assert request.client_token == client_token(export.export_id, request.entity_id, 1)

    service.on_start = check_disk
    export.tick()
    assert seen_on_disk == [("starting", 1), ("starting", 1)]
    saved = json.loads(state_path.read_text())
    assert [m["status"] for m in saved["mailboxes"]] == ["running", "running"]
    assert all(m["job_id"] for m in saved["mailboxes"])
    assert stat.S_IMODE(os.stat(state_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(state_path.parent).st_mode) == 0o700


class SimulatedKill(BaseException):
    """kill -9: nothing after this point runs, not even `except Exception` blocks."""


def kill(export: OrgExport) -> None:
    """What the OS does for a killed process: its lock goes. close() writes nothing."""
    before = export.state_path.read_bytes()
    export.close()
    assert export.state_path.read_bytes() == before


def test_kill_between_start_sent_and_state_saved_does_not_duplicate(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=6)
    real_start = service.start_job
    calls = 0

    def start_then_die(region: str, organization_id: str, request: StartRequest) -> JobKey:
        nonlocal calls
        key = real_start(region, organization_id, request)
        calls += 1
        if calls == 3:
            raise SimulatedKill
        return key

    service.start_job = start_then_die  # type: ignore[method-assign]
    export = OrgExport(make_spec(max_running=4), service, state_path, clock=clock)
    with pytest.raises(SimulatedKill):
        export.tick()
    kill(export)
    service.start_job = real_start  # type: ignore[method-assign]
    # The token and the list both protect; take the token away to see the list do it alone.
    service.remember_tokens = False
    resumed = OrgExport(make_spec(max_running=4), service, state_path, clock=clock)
    drive(resumed, clock)
    assert service.starts == dict.fromkeys((m.entity_id for m in service.mailboxes), 1)
    assert len(resumed.job_keys()) == 6


def test_kill_then_a_list_that_lags_the_token_returns_the_same_job(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=3)
    real_start = service.start_job
    lost: list[JobKey] = []

    def start_then_die(region: str, organization_id: str, request: StartRequest) -> JobKey:
        lost.append(real_start(region, organization_id, request))
        raise SimulatedKill

    service.start_job = start_then_die  # type: ignore[method-assign]
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    with pytest.raises(SimulatedKill):
        export.tick()
    kill(export)
    service.start_job = real_start  # type: ignore[method-assign]
    # The list does not show the job yet (eventual consistency): only the token can help.
    service.hidden_from_list = {lost[0].job_id}
    resumed = OrgExport(make_spec(), service, state_path, clock=clock)
    progress = resumed.tick()
    assert lost[0] in progress.started  # the same job, handed back by the token
    service.hidden_from_list = set()
    drive(resumed, clock)
    assert service.starts == dict.fromkeys(("ent-000", "ent-001", "ent-002"), 1)
    assert service.start_calls == 4  # one start was sent twice, and made one job


def test_kill_after_marking_but_before_sending_starts_it_once(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=3)

    def die(request: StartRequest) -> None:
        raise SimulatedKill

    service.on_start = die
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    with pytest.raises(SimulatedKill):
        export.tick()
    kill(export)
    service.on_start = None
    resumed = OrgExport(make_spec(), service, state_path, clock=clock)
    drive(resumed, clock)
    assert service.starts == dict.fromkeys(("ent-000", "ent-001", "ent-002"), 1)


def test_second_process_on_the_same_export_is_refused(clock: ManualClock, state_path: Path) -> None:
    service = FakeWorkMail(clock, mailboxes=1)
    with OrgExport(make_spec(), service, state_path, clock=clock) as first:
        first.tick()
        second = OrgExport(make_spec(), service, state_path, clock=clock)
        with pytest.raises(ExportStateError, match="another wmtui is running this export"):
            second.tick()
    # Once the first lets go, the second may go on.
    assert second.tick().running == 1


def test_corrupt_state_file_is_never_overwritten(clock: ManualClock, state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_bytes(b'{"version": 1, "spec": {')
    service = FakeWorkMail(clock, mailboxes=1)
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    with pytest.raises(ExportStateError) as caught:
        export.tick()
    assert str(state_path) in str(caught.value)
    assert "move it aside" in str(caught.value)
    assert state_path.read_bytes() == b'{"version": 1, "spec": {'
    assert not service.calls


def test_state_of_another_destination_is_refused(clock: ManualClock, state_path: Path) -> None:
    service = FakeWorkMail(clock, mailboxes=1)
    OrgExport(make_spec(), service, state_path, clock=clock).tick()
    other = OrgExport(make_spec(prefix="elsewhere"), service, state_path, clock=clock)
    with pytest.raises(ExportStateError, match="another export"):
        other.tick()


def test_state_round_trips_and_is_found_by_organization(clock: ManualClock, tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = FakeWorkMail(clock, mailboxes=3)
    spec = make_spec(only=frozenset({"user000", "user001"}), description="Final export")
    export = OrgExport(spec, service, export_state_path(data, spec), clock=clock)
    export.tick()
    snapshot = read_export_state(export_state_path(data, spec))
    assert snapshot is not None
    assert snapshot.spec == spec
    assert [r.to_json() for r in snapshot.records] == [r.to_json() for r in export.records()]
    assert sorted(snapshot.job_keys()) == sorted(export.job_keys())
    assert [s.export_id for s in find_exports(data, organization_id=ORG)] == [spec.export_id]
    assert find_exports(data, organization_id="m-" + "b" * 32) == []
    assert read_export_state(data / "exports" / "none.json") is None


def test_mailbox_disabled_since_the_listing_is_skipped_not_fatal(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=2)
    service.refusals = [
        ServiceError(
            ErrorKind.INVALID_PARAMETER, "the mailbox is disabled", code="EntityStateException"
        )
    ]
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    drive(export, clock)
    first, second = export.records()
    assert first.status is MailboxStatus.SKIPPED and "disabled" in (first.reason or "")
    assert second.status is MailboxStatus.COMPLETED


def test_an_unexplained_refusal_again_and_again_is_left_to_a_person(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=1)
    service.refusals = [ServiceError(ErrorKind.OTHER, "HTTP 500")] * 10
    export = OrgExport(
        make_spec(), service, state_path, clock=clock, transient_backoff=timedelta(seconds=1)
    )
    drive(export, clock, step=600)
    record = export.records()[0]
    assert record.status is MailboxStatus.FAILED
    assert "refused 5 times" in (record.error or "")
    assert record.attempt == 1  # the same token: a later retry cannot make a second job
    assert service.starts == {}


def test_the_next_tick_comes_sooner_when_a_job_is_about_to_end(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=3, duration=timedelta(minutes=10))
    export = OrgExport(make_spec(max_running=2), service, state_path, clock=clock)
    first = export.tick()
    assert first.suggested_delay(15.0) == 15.0  # nothing known about the new jobs yet
    clock.advance(9 * 60 + 50)  # ten seconds before both end
    near_end = export.tick()
    assert near_end.next_event_in is not None and near_end.next_event_in < 15
    delay = near_end.suggested_delay(15.0, min_interval=2.0)
    assert 2.0 <= delay < 15.0
    clock.advance(max(delay, 10))
    assert len(export.tick().started) == 1


def test_a_mailbox_skipped_for_an_export_elsewhere_is_queued_if_that_one_fails(
    clock: ManualClock, state_path: Path
) -> None:
    service = FakeWorkMail(clock, mailboxes=2, duration=timedelta(minutes=10))
    elsewhere = service.add_foreign_job("ent-000", started_ago=timedelta(minutes=5))
    service.jobs[elsewhere].fails = True
    completes = service.add_foreign_job("ent-001", started_ago=timedelta(minutes=5))
    export = OrgExport(make_spec(), service, state_path, clock=clock)
    first = export.tick()
    assert (first.skipped, first.started) == (2, ())
    clock.advance(5 * 60)
    export.tick()  # the other export of ent-000 failed: ours starts at once
    drive(export, clock)
    assert service.starts == {"ent-000": 1}
    records = {r.entity_id: r for r in export.records()}
    assert records["ent-000"].status is MailboxStatus.COMPLETED
    assert records["ent-001"].status is MailboxStatus.SKIPPED
    assert records["ent-001"].reason == (
        f"exported in the last 24 hours by job {completes} (COMPLETED)"
    )


def test_round_events_tell_each_mailbox_change_once(clock: ManualClock, state_path: Path) -> None:
    service = FakeWorkMail(clock, mailboxes=3, duration=timedelta(minutes=10))
    service.fail_entities["ent-001"] = 1
    export = OrgExport(
        make_spec(max_running=2, only=frozenset({"user000", "user001", "nobody"})),
        service,
        state_path,
        clock=clock,
        max_retries=0,
    )
    known: dict[str, tuple[MailboxStatus, str | None, str | None]] = {}
    first = export.tick()
    assert round_events(known, export.records(), first, first=True) == [
        "Listed: 2 mailboxes, 0 done, 2 running, 0 queued, 0 failed, 0 skipped",
        "not found: nobody",
        "started User 000 (job job-0001)",
        "started User 001 (job job-0002)",
    ]
    clock.advance(10 * 60)
    later = export.tick()
    assert round_events(known, export.records(), later, first=False) == [
        "User 000 completed",
        "User 001 FAILED: attempt 1 failed: Access denied writing to the bucket",
    ]
    assert round_events(known, export.records(), export.tick(), first=False) == []
