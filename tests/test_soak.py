"""A soak: the app, headless, refreshing hundreds of times against an emulator that throttles
20% of requests, fails 5% with a 5xx and hangs 1% past the read timeout.

Refreshes are driven one after another as the interval timer drives them (and now and then by
`r`, twice in a row, as an impatient user does), each waited for to the end: no wall-clock
intervals, no sleeps. Along the way: the app never dies, never runs two refreshes at once,
shows every error while it lasts, and recovers by itself. At the end the faults stop and
everything reads clean; the watch list is byte for byte what it was.

SOAK_REFRESHES scales it (default 300, about 30 s here). The counts are printed (pytest -s).
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from test_faults_support import (
    ORG,
    OTHER_ORG,
    REGION,
    SIZE,
    banner,
    botocore_backoff_tiny,
    cell,
    make_app,
    running_world,
    settle,
    status,
    watchlist_file,
)

from wmtui.core.models import JobKey, JobState
from wmtui.ui.app import WmtuiApp

REFRESHES = int(os.environ.get("SOAK_REFRESHES", "300"))


def refresh_workers(app: WmtuiApp) -> int:
    return sum(1 for w in app.workers if w.group == "refresh" and not w.is_finished)


def add_second_organization(world_state: object) -> list[JobKey]:
    from wmtui.emulator.state import EmulatorState

    assert isinstance(world_state, EmulatorState)
    world_state.add_organization("second", OTHER_ORG)
    keys = []
    for n in range(6):
        mailbox = world_state.add_mailbox(OTHER_ORG, f"user{n}")
        job_id = world_state.add_job(
            OTHER_ORG,
            mailbox,
            state="RUNNING",
            progress=5 * n,
            duration=timedelta(minutes=20 + 5 * n),
            outcome="FAILED" if n == 3 else "COMPLETED",
            job_id=f"second-{n}",
        )
        keys.append(JobKey(REGION, OTHER_ORG, job_id))
    return keys


@pytest.mark.timeout(300)
async def test_soak_under_throttling_5xx_and_hangs(
    tmp_path: Path, aws_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    botocore_backoff_tiny(monkeypatch)
    counts: Counter[str] = Counter()
    gone = JobKey(REGION, ORG, "job-gone")
    with running_world(
        throttle_rate=0.20, error_rate=0.05, hang_rate=0.01, hang_seconds=1.0, seed=6
    ) as world:
        keys = [
            *world.keys("running", "running2", "done", "failed"),
            gone,
            *add_second_organization(world.state),
        ]
        service = world.service(read_timeout=0.25, connect_timeout=1.0, max_attempts=2)
        app = make_app(tmp_path, service, keys, interval=3600.0)
        before = watchlist_file(app).read_bytes()
        threads_at_start = threading.active_count()
        in_error = False
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(app, pilot)
            for tick in range(REFRESHES):
                world.state.clock.advance(timedelta(seconds=6))
                if tick % 10 == 9:
                    await pilot.press("r", "r")  # the second one waits for the first
                    counts["r pressed twice"] += 1
                else:
                    app.jobs_screen.loop.on_timer()  # what the interval timer does
                assert refresh_workers(app) <= 1
                await settle(app, pilot)
                assert app.is_running
                assert refresh_workers(app) == 0
                counts["refreshes"] += 1

                problem = app.jobs_screen.board.global_error
                job_errors = {
                    k: e for k, e in app.jobs_screen.board.job_errors.items() if k != gone
                }
                org_errors = app.jobs_screen.board.org_errors
                if problem is not None:
                    counts[f"global: {problem.kind.value}"] += 1
                    # Visible while it lasts, with its fix.
                    shown = banner(app)
                    assert problem.message[:40] in shown and "Fix:" in shown
                for error in job_errors.values():
                    counts[f"job: {error.kind.value}"] += 1
                for error in org_errors.values():
                    counts[f"organization: {error.kind.value}"] += 1
                for key in job_errors:
                    assert cell(app, key, "state").startswith("! ")
                # What the status line counts as unreadable is what the table marks.
                marked = sum(1 for key in keys if cell(app, key, "state").startswith("! "))
                assert (f"! {marked} unreadable" in status(app)) == (marked > 0), status(app)
                if problem is not None or job_errors or org_errors:
                    if "backing off" in status(app):
                        counts["backing off shown"] += 1
                    in_error = True
                else:
                    assert banner(app) == ""
                    if in_error:
                        counts["recoveries"] += 1
                    in_error = False
                # The job the service never knew is kept and marked (or not read yet), always.
                gone_cell = cell(app, gone, "state")
                assert gone_cell.startswith("! ") or gone_cell == "… waiting", gone_cell

            # The faults stop: one refresh (two if a hang is still being timed out) and all
            # is clean.
            world.server.throttle_rate = world.server.error_rate = world.server.hang_rate = 0
            for _ in range(2):
                await pilot.press("r")
                await settle(app, pilot)
            assert banner(app) == ""
            assert "backing off" not in status(app)
            assert "! 1 unreadable" in status(app)  # job-gone, and only it
            for key in keys:
                if key == gone:
                    assert cell(app, key, "state") == "! not found"
                    continue
                truth = world.state.job(key.organization_id, key.job_id)
                assert app.jobs[key].state is JobState(truth.state), key
            counts["final: completed"] = sum(
                1 for job in app.jobs.values() if job.state is JobState.COMPLETED
            )
            counts["final: failed"] = sum(
                1 for job in app.jobs.values() if job.state is JobState.FAILED
            )
            counts["notifications"] = sum(
                1 for n in app._notifications if str(n.message).startswith("Export ")
            )
        assert watchlist_file(app).read_bytes() == before
        assert world.server.internal_errors == []
        requests = world.state.counters_snapshot()
        counts["requests"] = requests.total()
        counts["describe requests"] = requests["DescribeMailboxExportJob"]
        counts["list requests"] = requests["ListMailboxExportJobs"]
    # Hung calls do not pile up threads: at most a pool's worth may still be timing out.
    counts["threads left"] = threading.active_count() - threads_at_start
    assert counts["threads left"] <= 16
    assert counts["refreshes"] == REFRESHES
    if REFRESHES >= 50:
        assert counts["recoveries"] >= 1, "errors came and went by themselves along the way"
    print("\nSOAK", REFRESHES, "refreshes:")
    for name, value in sorted(counts.items()):
        print(f"  {name}: {value}")
