"""Coverage: the groups an admin acts on, the 24-hour rule, the 10 slots and the deadline.

The grouping rules are checked as properties over random histories of jobs per mailbox; the
deadline arithmetic with an injected `now`.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wmtui.core.coverage import (
    DISABLED_WHY,
    Group,
    Proof,
    SortKey,
    all_covered,
    classify,
    coverage_rows,
    cutoff_instant,
    eligible_at,
    eligible_words,
    filter_rows,
    group_counts,
    plan_starts,
    sort_rows,
)
from wmtui.core.deadline import project_deadline
from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox
from wmtui.core.verification import Outcome, Verification

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
ORG = "m-" + "0" * 32
REGION = "us-east-1"


def verified(job: ExportJob, proof: bool = True, problem: bool = False) -> ExportJob:
    """The job with a check in S3: VERIFIED, MISSING (a problem) or ERROR (said nothing)."""
    outcome = Outcome.VERIFIED if proof else Outcome.MISSING if problem else Outcome.ERROR
    return replace(job, verification=Verification(outcome, NOW, object_size=1024))


_counter = iter(range(1_000_000))


def job(
    entity: str,
    state: JobState,
    started_ago: timedelta,
    took: timedelta | None = timedelta(minutes=30),
) -> ExportJob:
    start = NOW - started_ago
    end = None if state is JobState.RUNNING or took is None else start + took
    return ExportJob(
        key=JobKey(REGION, ORG, f"job-{next(_counter)}"),
        state=state,
        entity_id=entity,
        start_time=start,
        end_time=end,
        s3_bucket_name="bucket",
        s3_path="bucket/x.zip",
    )


def mailbox(name: str, state: str = "ENABLED", kind: str = "USER") -> Mailbox:
    return Mailbox(
        entity_id=f"id-{name}", name=name, email=f"{name}@example.com", state=state, kind=kind
    )


# ---- the rules, by example -------------------------------------------------------------------


def test_each_group_by_example() -> None:
    cutoff = NOW - timedelta(days=30)
    alice = mailbox("alice")
    cases = {
        Group.NOT_EXPORTED: [],
        Group.RUNNING: [job("id-alice", JobState.RUNNING, timedelta(hours=1))],
        Group.EXPORTED: [job("id-alice", JobState.COMPLETED, timedelta(days=2))],
        Group.VERIFIED: [verified(job("id-alice", JobState.COMPLETED, timedelta(days=2)))],
        Group.FAILED: [job("id-alice", JobState.FAILED, timedelta(days=1))],
        Group.STALE: [job("id-alice", JobState.COMPLETED, timedelta(days=40))],
    }
    for expected, jobs in cases.items():
        group, _, _, _ = classify(alice, jobs, cutoff=cutoff)
        assert group is expected, (expected, group)


def test_a_job_named_by_email_or_user_name_counts_for_its_mailbox() -> None:
    alice = mailbox("alice")
    rows = coverage_rows(
        [alice], [job("ALICE@example.com", JobState.COMPLETED, timedelta(days=1))], now=NOW
    )
    assert rows[0].group is Group.EXPORTED
    rows = coverage_rows([alice], [job("alice", JobState.RUNNING, timedelta(hours=1))], now=NOW)
    assert rows[0].group is Group.RUNNING


def test_a_failed_retry_after_a_good_export_keeps_it_out() -> None:
    jobs = [
        job("id-a", JobState.COMPLETED, timedelta(days=3)),
        job("id-a", JobState.FAILED, timedelta(days=1)),
    ]
    group, shown, _, _ = classify(mailbox("a"), jobs)
    assert group is Group.EXPORTED and shown is not None and shown.state is JobState.COMPLETED


def test_an_export_missing_in_s3_is_failed_and_an_older_good_one_stays_stale() -> None:
    cutoff = NOW - timedelta(days=10)
    old_good = job("id-a", JobState.COMPLETED, timedelta(days=20))
    missing = verified(job("id-a", JobState.COMPLETED, timedelta(days=2)), False, True)
    group, shown, proof, _ = classify(mailbox("a"), [old_good, missing], cutoff=cutoff)
    assert group is Group.FAILED and shown == missing and proof is Proof.PROBLEM


def test_disabled_mailbox_without_an_export_says_why() -> None:
    rows = coverage_rows([mailbox("carol", state="DISABLED")], [], now=NOW)
    assert rows[0].group is Group.DISABLED and not rows[0].enabled
    plan = plan_starts(rows, running=0, now=NOW)
    assert plan.refused and DISABLED_WHY in plan.refused[0][1]
    # A disabled mailbox never holds back "every enabled mailbox is out".
    assert all_covered(rows)


def test_all_covered_needs_every_enabled_mailbox_out_after_the_cutoff() -> None:
    cutoff = NOW - timedelta(days=5)
    boxes = [mailbox("a"), mailbox("b")]
    fresh = [job("id-a", JobState.COMPLETED, timedelta(days=1))]
    assert not all_covered(coverage_rows(boxes, fresh, now=NOW, cutoff=cutoff))
    both = [*fresh, job("id-b", JobState.COMPLETED, timedelta(days=2))]
    assert all_covered(coverage_rows(boxes, both, now=NOW, cutoff=cutoff))
    old = [*fresh, job("id-b", JobState.COMPLETED, timedelta(days=9))]
    rows = coverage_rows(boxes, old, now=NOW, cutoff=cutoff)
    assert not all_covered(rows) and group_counts(rows)[Group.STALE] == 1


# ---- the rules, as properties over random histories ----------------------------------------

_STATES = [JobState.RUNNING, JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED]
history = st.lists(
    st.tuples(
        st.sampled_from(_STATES),
        st.integers(min_value=0, max_value=60 * 24 * 60),  # minutes ago, up to 60 days
        st.sampled_from(["none", "proof", "problem"]),
    ),
    max_size=6,
)


def _jobs_of(entity: str, spec: list[tuple[JobState, int, str]]) -> list[ExportJob]:
    out: list[ExportJob] = []
    for state, minutes, proof in spec:
        made = job(entity, state, timedelta(minutes=minutes))
        if state is JobState.COMPLETED and proof != "none":
            made = verified(made, proof == "proof", proof == "problem")
        out.append(made)
    return out


@settings(max_examples=300, deadline=None)
@given(
    histories=st.lists(history, min_size=1, max_size=8),
    disabled=st.lists(st.booleans(), min_size=8, max_size=8),
    cutoff_days=st.one_of(st.none(), st.integers(min_value=0, max_value=60)),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_grouping_rules_hold_for_any_history(
    histories: list[list[tuple[JobState, int, str]]],
    disabled: list[bool],
    cutoff_days: int | None,
    seed: int,
) -> None:
    cutoff = NOW - timedelta(days=cutoff_days) if cutoff_days is not None else None
    boxes = [
        mailbox(f"u{i}", state="DISABLED" if disabled[i] else "ENABLED")
        for i in range(len(histories))
    ]
    jobs_of = {
        box.entity_id: _jobs_of(box.entity_id, h) for box, h in zip(boxes, histories, strict=True)
    }
    every = [j for listed in jobs_of.values() for j in listed]
    rows = coverage_rows(boxes, every, now=NOW, cutoff=cutoff)
    # One row per mailbox, whatever the order the jobs came in.
    assert sorted(r.entity_id for r in rows) == sorted(b.entity_id for b in boxes)
    random.Random(seed).shuffle(every)
    again = {r.entity_id: r.group for r in coverage_rows(boxes, every, now=NOW, cutoff=cutoff)}
    assert again == {r.entity_id: r.group for r in rows}
    # Rows kept from an earlier grouping (the first paint's, with fewer jobs) change nothing.
    earlier = coverage_rows(boxes, every[: seed % (len(every) + 1)], now=NOW, cutoff=cutoff)
    assert coverage_rows(boxes, every, now=NOW, cutoff=cutoff, previous=earlier) == rows
    for row in rows:
        own = jobs_of[row.entity_id]
        states = {j.state for j in own}
        good_after = [
            j
            for j in own
            if j.state is JobState.COMPLETED
            and (cutoff is None or (j.start_time is not None and j.start_time >= cutoff))
            and row.proof is not Proof.PROBLEM
        ]
        # Running wins over everything; nothing runs outside the running group.
        assert (row.group is Group.RUNNING) == (JobState.RUNNING in states)
        # No job at all: not exported, or disabled.
        if not own:
            assert row.group is (Group.NOT_EXPORTED if row.enabled else Group.DISABLED)
        # Out (verified or exported) only with a COMPLETED job after the cut-off, shown.
        if row.group.is_out:
            assert row.job is not None and row.job.state is JobState.COMPLETED
            started = row.job.start_time
            assert cutoff is None or (started is not None and started >= cutoff)
            assert good_after
        # Verified only when S3 proved the shown job.
        if row.group is Group.VERIFIED:
            assert row.proof is Proof.VERIFIED
        # Failed shows a job that failed, was cancelled, or whose file is gone.
        if row.group is Group.FAILED:
            assert row.job is not None
            assert row.job.state in (JobState.FAILED, JobState.CANCELLED) or (
                row.proof is Proof.PROBLEM
            )
        # Stale: a COMPLETED export exists, but before the cut-off.
        if row.group is Group.STALE:
            assert cutoff is not None and row.job is not None
            assert row.job.start_time is not None and row.job.start_time < cutoff
        # The 24-hour rule: eligible_at is 24 hours after the newest RUNNING/COMPLETED start.
        recent = [
            j.start_time
            for j in own
            if j.state in (JobState.RUNNING, JobState.COMPLETED)
            and j.start_time is not None
            and NOW - j.start_time < timedelta(hours=24)
        ]
        assert row.eligible_at == (max(recent) + timedelta(hours=24) if recent else None)


# ---- the 24-hour queue and the 10 slots ------------------------------------------------------


def test_eligible_words_round_up_to_the_minute() -> None:
    assert eligible_words(NOW + timedelta(hours=3, minutes=9, seconds=5), NOW) == (
        "eligible in 3h 10m"
    )
    assert eligible_words(NOW + timedelta(seconds=20), NOW) == "eligible in 1m"


def test_a_mailbox_exported_20_hours_ago_waits_4_hours() -> None:
    jobs = [job("id-a", JobState.COMPLETED, timedelta(hours=20))]
    when = eligible_at(jobs, NOW)
    assert when == NOW + timedelta(hours=4)
    rows = coverage_rows([mailbox("a")], jobs, now=NOW)
    plan = plan_starts(rows, running=0, now=NOW)
    assert not plan.now and plan.queued == [(rows[0], when)]
    # A failed export does not count against the 24 hours.
    assert eligible_at([job("id-a", JobState.FAILED, timedelta(hours=2))], NOW) is None


def test_starts_fill_the_free_slots_and_queue_the_rest() -> None:
    boxes = [mailbox(f"u{i:02d}") for i in range(15)]
    rows = coverage_rows(boxes, [], now=NOW)
    plan = plan_starts(rows, running=7, now=NOW)
    assert len(plan.now) == 3
    assert len(plan.queued) == 12 and all(when is None for _, when in plan.queued)
    running = coverage_rows(
        [mailbox("r")], [job("id-r", JobState.RUNNING, timedelta(minutes=5))], now=NOW
    )
    assert plan_starts(running, running=0, now=NOW).refused


# ---- sorting and filtering -------------------------------------------------------------------


def test_sort_and_filter() -> None:
    boxes = [mailbox("zed"), mailbox("amy"), mailbox("bob")]
    jobs = [
        job("id-zed", JobState.COMPLETED, timedelta(days=3)),
        job("id-bob", JobState.FAILED, timedelta(days=1)),
    ]
    rows = coverage_rows(boxes, jobs, now=NOW, sizes={"id-amy": 10.0, "id-zed": 900.0})
    assert [r.mailbox.name for r in rows] == ["amy", "bob", "zed"]  # by group order
    by = {key: [r.mailbox.name for r in sort_rows(rows, key, NOW)] for key in SortKey}
    assert by[SortKey.NAME] == ["amy", "bob", "zed"]
    assert by[SortKey.SIZE] == ["zed", "amy", "bob"]
    assert by[SortKey.AGE] == ["amy", "zed", "bob"]  # never exported is the oldest
    assert [r.mailbox.name for r in filter_rows(rows, "FAILED")] == ["bob"]
    assert [r.mailbox.name for r in filter_rows(rows, "", [Group.EXPORTED])] == ["zed"]
    assert SortKey.AGE.next() is SortKey.GROUP


# ---- the deadline ----------------------------------------------------------------------------


def test_deadline_counts_and_pace() -> None:
    boxes = [mailbox(f"u{i}") for i in range(10)] + [mailbox("off", state="DISABLED")]
    jobs = [
        verified(job("id-u0", JobState.COMPLETED, timedelta(days=1), timedelta(minutes=60))),
        job("id-u1", JobState.COMPLETED, timedelta(days=2), timedelta(minutes=60)),
        job("id-u2", JobState.RUNNING, timedelta(minutes=10)),
    ]
    rows = coverage_rows(boxes, jobs, now=NOW)
    deadline = project_deadline(rows, jobs, now=NOW, end_of_support=date(2027, 3, 31))
    assert deadline.days_left == (date(2027, 3, 31) - NOW.date()).days == 80
    assert (deadline.total, deadline.verified, deadline.exported) == (10, 1, 2)
    assert (deadline.left, deadline.running) == (8, 1)
    # Two exports in the last 7 days: 2/7 a day, 8 left -> 28 days.
    assert deadline.pace_per_day is not None and abs(deadline.pace_per_day - 2 / 7) < 1e-9
    assert deadline.finish_at_pace == NOW + timedelta(days=28)
    # 8 left, 60 minutes each (the running one 50), 10 slots: one round of an hour.
    assert deadline.finish_full_slots == NOW + timedelta(minutes=60)
    assert not deadline.late and not deadline.warning
    assert deadline.short() == "80d to 31 Mar 2027 · 2/10 out · on track"


def test_deadline_warns_when_the_pace_passes_it_or_fewer_than_14_days_are_left() -> None:
    boxes = [mailbox(f"u{i}") for i in range(100)]
    jobs = [job("id-u0", JobState.COMPLETED, timedelta(days=6))]
    rows = coverage_rows(boxes, jobs, now=NOW)
    late = project_deadline(rows, jobs, now=NOW, end_of_support=date(2027, 3, 31))
    # 1 export a week, 99 left: two years.
    assert late.late and late.warning and late.short().endswith("LATE")
    assert any("passes the end of support" in line for line in late.lines())
    out = [row for row in rows if row.group.is_out]
    soon = project_deadline(out, jobs, now=NOW, end_of_support=NOW.date() + timedelta(days=5))
    assert soon.left == 0 and not soon.warning  # nothing left: nothing to warn about
    near = project_deadline(rows[:2], [], now=NOW, end_of_support=NOW.date() + timedelta(days=5))
    assert near.warning and not near.late and near.short().endswith("no pace yet")


def test_sizes_shape_the_full_slots_projection() -> None:
    boxes = [mailbox("small"), mailbox("big"), mailbox("done")]
    finished = job("id-done", JobState.COMPLETED, timedelta(days=1), timedelta(minutes=100))
    sizes = {"id-done": 100.0, "id-small": 10.0, "id-big": 500.0}
    rows = coverage_rows(boxes, [finished], now=NOW, sizes=sizes)
    deadline = project_deadline(rows, [finished], now=NOW)
    # 1 minute per MB observed; the big one, 500 minutes, is the makespan.
    assert deadline.finish_full_slots == NOW + timedelta(minutes=500)


def test_cutoff_instant() -> None:
    assert cutoff_instant(date(2027, 1, 2)) == datetime(2027, 1, 2, tzinfo=UTC)
    assert cutoff_instant(None) is None


def test_end_of_support_is_a_setting(tmp_path: Path) -> None:
    from wmtui.core.settings import load_settings

    assert load_settings({"config_dir": tmp_path}, environ={}).end_of_support == date(2027, 3, 31)
    (tmp_path / "config.toml").write_text("end_of_support = 2027-06-30\n")
    assert load_settings({"config_dir": tmp_path}, environ={}).end_of_support == date(2027, 6, 30)
    env = {"WMTUI_END_OF_SUPPORT": "2027-04-15"}
    assert load_settings({"config_dir": tmp_path}, environ=env).end_of_support == date(2027, 4, 15)
    bad = load_settings({"config_dir": tmp_path}, environ={"WMTUI_END_OF_SUPPORT": "soon"})
    assert bad.end_of_support == date(2027, 6, 30)
    assert bad.warnings == (
        'environment variable WMTUI_END_OF_SUPPORT = "soon": expected a date such as'
        " 2027-03-31; using 2027-06-30 instead",
    )


# ---- where the jobs come from ------------------------------------------------------------------


def test_read_coverage_merges_saved_exports_known_jobs_and_the_listing(tmp_path: Path) -> None:
    from test_ui_fakes import ORG as FAKE_ORG
    from test_ui_fakes import FakeService, make_job, people

    from wmtui.core.coverage_read import jobs_from_exports, read_coverage
    from wmtui.core.export import ExportSnapshot, ExportSpec, MailboxRecord, MailboxStatus
    from wmtui.core.names import NameDirectory
    from wmtui.core.service import ErrorKind, ServiceError

    listed = make_job(1, state=JobState.COMPLETED, started_ago=timedelta(hours=3))
    service = FakeService([listed], mailboxes=people(4))
    spec = ExportSpec(REGION, FAKE_ORG, "b", "p", "arn:aws:iam::1:role/r", "arn:aws:kms:x:1:key/k")
    # An export's record of a job nine days old: only its state file knows it now.
    old = MailboxRecord(
        entity_id="S-1-5-18-1002",
        status=MailboxStatus.COMPLETED,
        job_id="old-job",
        job_ids=["old-job"],
        job_state="COMPLETED",
        start_time=NOW - timedelta(days=9),
    )
    running = MailboxRecord(entity_id="S-1-5-18-1003", status=MailboxStatus.RUNNING, job_id="r1")
    snapshot = ExportSnapshot(tmp_path / "x.json", spec.export_id, spec, None, None, (old, running))
    from_exports = jobs_from_exports([snapshot])
    assert [(j.job_id, j.state) for j in from_exports] == [
        ("old-job", JobState.COMPLETED),
        ("r1", JobState.RUNNING),
    ]
    names = NameDirectory(tmp_path / "names.json")
    data = read_coverage(service, names, REGION, FAKE_ORG, snapshots=[snapshot])
    assert len(data.mailboxes) == 4 and data.jobs_error is None
    rows = {r.mailbox.name: r for r in coverage_rows(data.mailboxes, data.jobs, now=NOW)}
    assert rows["ann1"].group is Group.EXPORTED
    assert rows["bob2"].group is Group.EXPORTED and rows["bob2"].job is not None
    assert rows["cleo3"].group is Group.RUNNING
    assert rows["dan4"].group is Group.NOT_EXPORTED
    # The listing fails: the saved jobs still count and the error is kept for the caller.
    service.fail_with = ServiceError(ErrorKind.THROTTLED, "slow down")
    data = read_coverage(service, names, REGION, FAKE_ORG, snapshots=[snapshot])
    assert data.jobs_error is not None and len(data.jobs) == 2 and len(data.mailboxes) == 4
    # Nothing cached and nothing listed: the caller hears why.
    with pytest.raises(ServiceError):
        read_coverage(service, NameDirectory(tmp_path / "other.json"), REGION, FAKE_ORG)
