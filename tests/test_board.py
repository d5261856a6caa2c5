"""The board: one model of the watched jobs, shared by the app and `wmtui status`."""

from __future__ import annotations

from dataclasses import replace

from test_ui_fakes import make_job

from wmtui.core.board import MAX_BACKOFF_SECONDS, JobBoard
from wmtui.core.models import ExportJob, JobState
from wmtui.core.refresh import RefreshResult
from wmtui.core.service import ErrorKind, ServiceError

REGION = "us-east-1"
OTHER_ORG = "m-fedcba9876543210fedcba9876543210"
THROTTLED = ServiceError(ErrorKind.THROTTLED, "Rate exceeded")
DENIED = ServiceError(ErrorKind.ACCESS_DENIED, "not allowed")


def board_of(*jobs: ExportJob, interval: float = 30.0) -> JobBoard:
    """A board watching `jobs`, known from the cache (not read in this session)."""
    board = JobBoard(interval=interval)
    board.set_watched([job.key for job in jobs])
    board.jobs.update({job.key: job for job in jobs})
    return board


def test_a_refresh_never_drops_a_watched_job_and_says_what_changed() -> None:
    running, done = make_job(1), make_job(2, state=JobState.COMPLETED)
    board = board_of(running, done)
    board.fresh.add(running.key)
    moved = replace(running, estimated_progress=80)
    change = board.apply(RefreshResult(jobs={moved.key: moved}))
    assert board.watched == [running.key, done.key]
    assert board.jobs[done.key] == done  # not read this time: kept as it was
    assert change.changed == {running.key}
    assert change.settled == {running.key}  # same state and start: its place holds
    assert change.finished == []
    finished = replace(moved, state=JobState.COMPLETED, raw_state="COMPLETED")
    change = board.apply(RefreshResult(jobs={finished.key: finished}))
    assert change.finished == [finished] and change.settled == set()
    assert board.running == set()


def test_a_job_read_from_the_cache_only_is_not_announced_when_it_finishes() -> None:
    running = make_job(1)
    board = board_of(running)  # from the cache: never read in this session
    done = replace(running, state=JobState.FAILED, raw_state="FAILED")
    assert board.apply(RefreshResult(jobs={done.key: done})).finished == []


def test_progress_moves_a_row_only_when_sorting_by_progress() -> None:
    running = make_job(1)
    board = board_of(running)
    moved = replace(running, estimated_progress=90)
    assert board.apply(RefreshResult(jobs={moved.key: moved}), by_progress=True).settled == set()


def test_an_organization_error_blocks_its_unfinished_jobs_only() -> None:
    running, done = make_job(1), make_job(2, state=JobState.COMPLETED)
    elsewhere = make_job(3, org=OTHER_ORG)
    read_anyway = make_job(4)
    board = board_of(running, done, elsewhere, read_anyway)
    result = RefreshResult(
        jobs={read_anyway.key: read_anyway},
        org_errors={(REGION, running.key.organization_id): DENIED},
    )
    board.apply(result)
    assert board.org_blocked == {running.key}
    assert board.error_for(running.key) is DENIED
    assert board.error_for(done.key) is None and board.error_for(read_anyway.key) is None
    assert board.unreadable == 1
    # The same error for the CLI: a final job is not hurt by it.
    assert board.unread_errors(read={read_anyway.key}) == {running.key: DENIED}
    # All clear again: nothing blocked, every row of that organization redrawn.
    change = board.apply(RefreshResult())
    assert board.org_blocked == set()
    assert {running.key, done.key, read_anyway.key} <= change.changed
    assert elsewhere.key not in change.changed
    # A global error hits every job not known to be final.
    board.apply(RefreshResult(global_error=DENIED))
    assert set(board.unread_errors(read=set())) == {running.key, elsewhere.key, read_anyway.key}


def test_a_job_error_wins_over_its_organizations() -> None:
    job = make_job(1)
    board = board_of(job)
    gone = ServiceError(ErrorKind.JOB_NOT_FOUND, "no such job")
    board.apply(
        RefreshResult(
            job_errors={job.key: gone}, org_errors={(REGION, job.key.organization_id): DENIED}
        )
    )
    assert board.error_for(job.key) is gone
    assert board.jobs[job.key] == job  # still watched, still known


def test_back_off_doubles_on_trouble_up_to_a_ceiling_and_resets() -> None:
    board = board_of(make_job(1), interval=100.0)
    assert board.next_delay == 100.0
    board.apply(RefreshResult(global_error=THROTTLED))
    assert board.next_delay == 200.0 and board.backoff_reason == "throttled"
    for _ in range(5):
        board.apply(RefreshResult(global_error=THROTTLED))
    assert board.next_delay == MAX_BACKOFF_SECONDS
    board.apply(RefreshResult(global_error=DENIED))  # not transient: no back-off
    assert board.next_delay == 100.0 and board.backoff is None


def test_a_describe_fills_in_a_job_and_says_when_it_finished() -> None:
    job = replace(make_job(1), described=False, error_info=None)
    board = board_of(job)
    failed = replace(job, state=JobState.FAILED, raw_state="FAILED", error_info="Role denied")
    changed, finished = board.apply_described(failed)
    assert changed and finished is not None and finished.error_info == "Role denied"
    assert board.apply_described(failed) == (False, None)
    stranger = make_job(9)
    assert board.apply_described(stranger) == (False, None)
    assert stranger.key not in board.jobs


def test_unwatching_forgets_a_job_and_a_late_result_for_it_is_ignored() -> None:
    first, second = make_job(1), make_job(2)
    board = board_of(first, second)
    gone = board.set_watched([first.key])
    assert gone == {second.key}
    board.apply(RefreshResult(jobs={second.key: second}))
    assert second.key not in board.jobs and board.watched == [first.key]
