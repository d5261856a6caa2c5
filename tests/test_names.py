"""EntityId -> mailbox names: listed once per organization, cached with its age, misses kept."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from wmtui.core.models import ExportJob, JobKey, Mailbox, Organization, StartRequest
from wmtui.core.names import NameDirectory
from wmtui.core.service import ErrorKind, ServiceError

REGION = "us-east-1"
ORG = "m-" + "1" * 32
OTHER_ORG = "m-" + "2" * 32


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Directory:
    """The name calls of an ExportService, counted; the job calls are never used here."""

    def __init__(self) -> None:
        self.users = {
            "u-1": Mailbox("u-1", "alice", "Alice@Example.com", "Alice Example", "USER", "ENABLED"),
            "u-2": Mailbox("u-2", "bob", "bob@example.com", None, "USER", "DISABLED"),
            "r-1": Mailbox("r-1", "boardroom", "boardroom@example.com", None, "RESOURCE"),
        }
        self.hidden = {"u-9": Mailbox("u-9", "zoe", "zoe@example.com", "Zoe Late", "USER")}
        self.calls: Counter[str] = Counter()
        self.describe_error: ServiceError | None = None

    @property
    def target(self) -> str:
        return "directory"

    def list_mailboxes(self, region: str, organization_id: str) -> list[Mailbox]:
        self.calls["list_mailboxes"] += 1
        return list(self.users.values())

    def describe_mailbox(self, region: str, organization_id: str, entity_id: str) -> Mailbox:
        self.calls["describe_mailbox"] += 1
        self.calls[f"describe:{entity_id}"] += 1
        if self.describe_error is not None:
            raise self.describe_error
        for mailbox in self.hidden.values():
            if entity_id in (mailbox.entity_id, mailbox.email, mailbox.name):
                return mailbox
        raise ServiceError(ErrorKind.JOB_NOT_FOUND, f"{entity_id} not found")

    def describe_job(self, key: JobKey) -> ExportJob:
        raise AssertionError("not a name call")

    def list_jobs(self, region: str, organization_id: str) -> list[ExportJob]:
        raise AssertionError("not a name call")

    def start_job(self, region: str, organization_id: str, request: StartRequest) -> JobKey:
        raise AssertionError("not a name call")

    def cancel_job(self, key: JobKey, client_token: str | None = None) -> None:
        raise AssertionError("not a name call")

    def list_organizations(self, region: str) -> list[Organization]:
        raise AssertionError("not a name call")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "names.json"


def test_listed_once_then_read_from_the_cache_file(clock: Clock, cache_path: Path) -> None:
    service = Directory()
    names = NameDirectory(cache_path, clock=clock)
    assert names.lookup(REGION, ORG, "u-1") is None  # memory only: no call
    assert not service.calls
    found = names.refresh_org(service, REGION, ORG)
    assert set(found) == {"u-1", "u-2", "r-1"}
    names.refresh_org(service, REGION, ORG)
    assert service.calls["list_mailboxes"] == 1
    assert names.fetched_at(REGION, ORG) == clock.now

    # The next start of wmtui reads the file and makes no call while it is fresh.
    again = NameDirectory(cache_path, clock=clock)
    alice = again.lookup(REGION, ORG, "u-1")
    assert alice is not None and alice.label == "Alice Example"
    again.refresh_org(service, REGION, ORG)
    assert service.calls["list_mailboxes"] == 1
    # A job's EntityId may be the email or the user name.
    assert again.lookup(REGION, ORG, "alice@example.com") == alice
    assert again.lookup(REGION, ORG, "boardroom") == service.users["r-1"]
    assert again.lookup(REGION, OTHER_ORG, "u-1") is None  # organizations are separate
    assert json.loads(cache_path.read_text())["version"] == 1
    assert cache_path.stat().st_mode & 0o777 == 0o600


def test_a_stale_list_is_fetched_again_and_force_always_fetches(
    clock: Clock, cache_path: Path
) -> None:
    service = Directory()
    names = NameDirectory(cache_path, clock=clock, max_age=timedelta(hours=12))
    names.refresh_org(service, REGION, ORG)
    clock.now += timedelta(hours=11)
    names.refresh_org(service, REGION, ORG)
    assert service.calls["list_mailboxes"] == 1
    names.refresh_org(service, REGION, ORG, force=True)
    assert service.calls["list_mailboxes"] == 2
    clock.now += timedelta(hours=12, seconds=1)
    service.users["u-3"] = Mailbox("u-3", "carol", "carol@example.com")
    assert "u-3" in names.refresh_org(service, REGION, ORG)
    assert service.calls["list_mailboxes"] == 3


def test_misses_are_described_once_and_not_found_is_remembered(
    clock: Clock, cache_path: Path
) -> None:
    service = Directory()
    names = NameDirectory(cache_path, clock=clock, max_age=timedelta(hours=1))
    names.refresh_org(service, REGION, ORG)
    found = names.resolve_missing(service, REGION, ORG, ["u-1", "u-9", "gone", "gone"])
    assert found == {"u-9": service.hidden["u-9"]}
    assert service.calls["describe:u-1"] == 0  # known already
    assert service.calls["describe:gone"] == 1
    assert names.lookup(REGION, ORG, "u-9") == service.hidden["u-9"]
    # The next refresh tick asks nothing: the miss is remembered (in the file too).
    later = NameDirectory(cache_path, clock=clock, max_age=timedelta(hours=1))
    assert later.resolve_missing(service, REGION, ORG, ["u-9", "gone"]) == {}
    assert service.calls["describe_mailbox"] == 2
    clock.now += timedelta(hours=2)
    later.resolve_missing(service, REGION, ORG, ["gone"])
    assert service.calls["describe:gone"] == 2  # asked again once the memory is old


def test_a_problem_for_every_call_stops_the_round_and_is_raised(
    clock: Clock, cache_path: Path
) -> None:
    service = Directory()
    service.describe_error = ServiceError(ErrorKind.ACCESS_DENIED, "no workmail:DescribeUser")
    names = NameDirectory(cache_path, clock=clock)
    with pytest.raises(ServiceError) as caught:
        names.resolve_missing(service, REGION, ORG, ["a", "b", "c"])
    assert caught.value.kind is ErrorKind.ACCESS_DENIED
    assert service.calls["describe_mailbox"] == 1
    # Not remembered as missing: asked again once the problem is fixed.
    service.describe_error = None
    names.resolve_missing(service, REGION, ORG, ["a"])
    assert service.calls["describe:a"] == 2


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"version": 99}', b'{"version": 1, "organizations": {"x": {"mailboxes": 5}}}'],
)
def test_a_corrupt_cache_is_moved_aside_not_a_crash(
    clock: Clock, cache_path: Path, content: bytes
) -> None:
    cache_path.parent.mkdir(parents=True)
    cache_path.write_bytes(content)
    service = Directory()
    names = NameDirectory(cache_path, clock=clock)
    assert names.lookup(REGION, ORG, "u-1") is None
    assert names.last_problem is not None and "moved aside" in names.last_problem
    backups = list(cache_path.parent.glob("names.json.corrupt-*"))
    assert [b.read_bytes() for b in backups] == [content]
    names.refresh_org(service, REGION, ORG)
    assert names.lookup(REGION, ORG, "u-1") is not None
    assert json.loads(cache_path.read_text())["version"] == 1


def test_a_cache_that_cannot_be_written_still_works_in_memory(clock: Clock, tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder should be")
    names = NameDirectory(blocker / "names.json", clock=clock)
    names.refresh_org(Directory(), REGION, ORG)
    assert names.lookup(REGION, ORG, "u-1") is not None
    assert names.last_problem is not None and "not saved" in names.last_problem


def test_safe_from_several_threads(clock: Clock, cache_path: Path) -> None:
    service = Directory()
    names = NameDirectory(cache_path, clock=clock)
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def work(i: int) -> None:
        try:
            barrier.wait()
            for _ in range(30):
                names.refresh_org(service, REGION, ORG, force=i % 2 == 0)
                names.resolve_missing(service, REGION, ORG, ["u-9", f"nobody-{i}"])
                assert names.lookup(REGION, ORG, "u-1") is not None
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    reloaded = NameDirectory(cache_path, clock=clock)
    assert reloaded.lookup(REGION, ORG, "u-9") == service.hidden["u-9"]
    assert set(reloaded.mailboxes(REGION, ORG)) == {"u-1", "u-2", "r-1", "u-9"}


def test_names_from_the_emulator_over_the_wire(
    emulator: Any, emulator_service: Any, tmp_path: Path
) -> None:
    org = emulator.state.organization_ids[0]
    names = NameDirectory(tmp_path / "names.json")
    mailboxes = names.refresh_org(emulator_service, REGION, org)
    by_name = {m.name: m for m in mailboxes.values()}
    assert by_name["alice"].display_name == "Alice Example"
    assert by_name["boardroom"].kind == "RESOURCE"
    assert by_name["carol"].state == "DISABLED"
    counts = emulator.state.counters_snapshot()
    assert counts["ListUsers"] == 1 and counts["ListResources"] == 1
    emulator.state.reset_counters()
    assert names.resolve_missing(emulator_service, REGION, org, ["nobody-here"]) == {}
    names.resolve_missing(emulator_service, REGION, org, ["nobody-here"])
    counts = emulator.state.counters_snapshot()
    assert counts["DescribeUser"] == 1 and counts["DescribeResource"] == 1
