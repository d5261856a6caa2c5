"""Name learning, the one service the app and `wmtui status` share: organizations in parallel,
failures handed back per organization, a failed one left alone for a while."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from test_names import REGION, Clock, Directory

from wmtui.core.models import Mailbox
from wmtui.core.name_learning import NameLearner
from wmtui.core.names import NameDirectory
from wmtui.core.service import ErrorKind, ServiceError

ORGS = [f"m-{n}" + "0" * 31 for n in range(3)]


class Gathering(Directory):
    """Lists only once every organization's listing has started: a sequential reader waits in
    vain (the barrier breaks), a parallel one passes."""

    def __init__(self, parties: int, failing: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=5)
        self.failing = failing

    def list_mailboxes(self, region: str, organization_id: str) -> list[Mailbox]:
        self.calls[f"list:{organization_id}"] += 1
        self.barrier.wait()
        if organization_id in self.failing:
            raise ServiceError(ErrorKind.ACCESS_DENIED, "not allowed to list users")
        return super().list_mailboxes(region, organization_id)


def test_organizations_are_read_in_parallel(tmp_path: Path) -> None:
    clock = Clock()
    service = Gathering(len(ORGS))
    learner = NameLearner(NameDirectory(tmp_path / "names.json", clock=clock), clock=clock)
    outcome = learner.learn(service, {(REGION, org): {"u-1", "u-9"} for org in ORGS})
    assert outcome.failures == {}
    for org in ORGS:
        assert outcome.names[(REGION, org, "u-1")].display_name == "Alice Example"
        assert outcome.names[(REGION, org, "u-9")].display_name == "Zoe Late"  # Described
        assert service.calls[f"list:{org}"] == 1


def test_a_failed_organization_is_handed_back_and_left_alone_for_a_while(tmp_path: Path) -> None:
    clock = Clock()
    service = Gathering(2, failing=frozenset({ORGS[1]}))
    learner = NameLearner(NameDirectory(tmp_path / "names.json", clock=clock), clock=clock)
    wanted = {(REGION, ORGS[0]): {"u-1"}, (REGION, ORGS[1]): {"u-1"}}
    outcome = learner.learn(service, wanted)
    assert set(outcome.failures) == {(REGION, ORGS[1])}
    assert "not allowed" in str(outcome.failures[(REGION, ORGS[1])])
    assert (REGION, ORGS[0], "u-1") in outcome.names
    # The next rounds do not ask the failed organization again (nor the fresh one) ...
    service.barrier = threading.Barrier(1)
    learner.learn(service, wanted)
    clock.now += timedelta(minutes=59)
    learner.learn(service, wanted)
    assert service.calls[f"list:{ORGS[1]}"] == 1
    # ... unless asked for by name (N), or an hour has passed.
    learner.learn(service, wanted, force=(REGION, ORGS[1]))
    assert service.calls[f"list:{ORGS[1]}"] == 2
    clock.now += timedelta(hours=2)
    learner.learn(service, wanted)
    assert service.calls[f"list:{ORGS[1]}"] == 3


def test_skipped_organizations_are_not_asked_and_news_is_told_once(tmp_path: Path) -> None:
    clock = Clock()
    service = Gathering(1)
    learner = NameLearner(NameDirectory(tmp_path / "names.json", clock=clock), clock=clock)
    wanted = {(REGION, ORGS[0]): {"u-1"}, (REGION, ORGS[1]): {"u-1"}}
    outcome = learner.learn(service, wanted, skip={(REGION, ORGS[1])})
    assert service.calls[f"list:{ORGS[1]}"] == 0
    assert set(learner.news(outcome.names)) == {(REGION, ORGS[0], "u-1")}
    assert learner.news(outcome.names) == {}


def test_names_of_several_organizations_over_the_wire(
    emulator: Any, emulator_service: Any, tmp_path: Path
) -> None:
    state = emulator.state
    first = state.organization_ids[0]
    second = state.add_organization("second-corp")
    state.add_mailbox(second, "dora", display_name="Dora Second")
    wanted = {
        (REGION, first): {m.entity_id for m in state.mailboxes(first)},
        (REGION, second): {m.entity_id for m in state.mailboxes(second)},
    }
    learner = NameLearner(NameDirectory(tmp_path / "names.json"))
    state.reset_counters()
    outcome = learner.learn(emulator_service, wanted)
    assert outcome.failures == {}
    labels = {mailbox.label for mailbox in outcome.names.values()}
    assert {"Alice Example", "Dora Second"} <= labels
    counts = state.counters_snapshot()
    assert counts["ListUsers"] == 2 and counts["ListResources"] == 2
    assert counts.get("DescribeUser", 0) == 0  # every entity was in the listings
    # Fresh now: a second round makes no call.
    state.reset_counters()
    learner.learn(emulator_service, wanted)
    assert sum(state.counters_snapshot().values()) == 0
