"""One watch list, many sessions (issue 19): each app shows what the file holds.

Two apps on one config folder, and `wmtui add`/`remove` from elsewhere (WatchList itself, what
the CLI runs), take turns adding and removing. After each look at the file (what the app's
one-second tick does: `notice_outside_changes`) each app shows the file's content, the cursor
stays on its job, and the user is told what another wmtui changed. A property test runs any
interleaving of two sessions' edits on the file level.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_faults_support import World, make_app, notices, running_world, settle, table

from wmtui.core.cache import JobCache
from wmtui.core.models import JobKey, JobState
from wmtui.core.watchlist import WatchList, outside_change
from wmtui.ui.app import WmtuiApp

ORG = "m-0123456789abcdef0123456789abcdef"


@pytest.fixture
def world(aws_credentials: None) -> Iterator[World]:
    with running_world() as started:
        yield started


def shown(app: WmtuiApp) -> set[JobKey]:
    return set(app.watched)


def on_file(app: WmtuiApp) -> set[JobKey]:
    return set(app.watchlist.load())


async def test_the_app_and_the_cli_take_turns(tmp_path: Path, world: World) -> None:
    # (Two apps in one test process share Textual's notion of the active app, so a notice of
    # one would land on the other: the other session is the CLI's WatchList, and the file
    # level below runs two sessions through any interleaving.)
    app = make_app(tmp_path, world.service(), world.keys("running", "done"))
    cli = WatchList(app.watchlist.path)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        watching = app.jobs_screen.watching

        # The CLI adds one; the app, cursor on "done", shows it and keeps the cursor.
        table(app).select_key(str(world.key("done")))
        cli.add(world.keys("failed"))
        watching.notice_outside_changes()
        await pilot.pause()
        assert shown(app) == on_file(app) == set(world.keys("running", "done", "failed"))
        assert app.selected_key() == world.key("done")
        assert "1 job added by another wmtui." in notices(app)

        # The app removes one (d, y); then the CLI removes the one under the cursor.
        table(app).select_key(str(world.key("running")))
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert shown(app) == on_file(app) == set(world.keys("done", "failed"))
        table(app).select_key(str(world.key("failed")))
        cli.remove(world.keys("failed"))
        watching.notice_outside_changes()
        await pilot.pause()
        assert shown(app) == on_file(app) == set(world.keys("done"))
        assert "1 job removed by another wmtui." in notices(app)

        # Nothing changed: a look costs a stat and says nothing.
        said = len(notices(app))
        watching.notice_outside_changes()
        await pilot.pause()
        assert len(notices(app)) == said

        # Both add at once: the app's own write reads the file back, the CLI's job with it.
        cli.add(world.keys("running2"))
        app.watch_jobs(world.keys("running"))
        await pilot.pause()
        assert shown(app) == on_file(app) == set(world.keys("running", "running2", "done"))
        assert notices(app).count("1 job added by another wmtui.") == 2
        await settle(app, pilot)
        assert table(app).row_count == 3


async def test_a_change_made_while_a_dialog_is_open_is_merged_and_told(
    tmp_path: Path, world: World
) -> None:
    app = make_app(tmp_path, world.service(), world.keys("running"))
    cli = WatchList(app.watchlist.path)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")  # the add dialog opens on the list as it was
        await pilot.pause()
        cli.add(world.keys("done", "failed"))  # another wmtui, meanwhile
        await pilot.press("escape")
        await pilot.pause()
        app.watch_jobs(world.keys("running2"))  # what the dialog hands back
        await pilot.pause()
        assert (
            shown(app) == on_file(app) == set(world.keys("running", "running2", "done", "failed"))
        )
        assert "2 jobs added by another wmtui." in notices(app)


# ---- any interleaving, on the file level ---------------------------------------------------

KEYS = [JobKey("us-east-1", ORG, f"job-{index:02d}-sessions") for index in range(6)]
# (session 0 or 1, add or remove, which job)
EDIT = st.tuples(st.integers(0, 1), st.booleans(), st.integers(0, len(KEYS) - 1))


@settings(max_examples=60, deadline=None)
@given(st.lists(EDIT, max_size=25))
def test_any_interleaving_of_two_sessions_ends_on_the_file(
    tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[int, bool, int]]
) -> None:
    path = tmp_path_factory.mktemp("sessions") / "watchlist.json"
    sessions = [WatchList(path), WatchList(path)]
    views: list[list[JobKey]] = [[], []]
    expected: set[JobKey] = set()
    for who, add, index in edits:
        key = KEYS[index]
        # A session edits as the app does: through the file, then looks at it again.
        if add:
            sessions[who].add([key])
            expected.add(key)
        else:
            sessions[who].remove([key])
            expected.discard(key)
        for view in (who, 1 - who):
            change = outside_change(views[view], sessions[view].load())
            # What the session is told covers exactly what it did not yet show.
            assert set(change.added).isdisjoint(views[view])
            assert set(change.removed) <= set(views[view])
            views[view] = change.keys
            assert len(views[view]) == len(set(views[view]))
    # Nothing lost, nothing resurrected: the file is every edit applied in order.
    assert set(sessions[0].load()) == expected
    assert set(views[0]) == set(views[1]) == expected


async def test_newer_states_another_process_cached_are_shown(tmp_path: Path, world: World) -> None:
    app = make_app(tmp_path, world.service(), world.keys("running", "running2"))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        running, running2 = world.keys("running", "running2")
        mine = app.jobs[running]
        assert mine.last_seen is not None and mine.state is JobState.RUNNING
        # Another wmtui read "running" later, finished, and "running2" earlier than this one.
        later = replace(
            mine,
            state=JobState.COMPLETED,
            raw_state="COMPLETED",
            estimated_progress=100,
            end_time=mine.last_seen + timedelta(minutes=1),
            last_seen=mine.last_seen + timedelta(minutes=1),
        )
        older = replace(
            app.jobs[running2],
            state=JobState.FAILED,
            raw_state="FAILED",
            last_seen=mine.last_seen - timedelta(minutes=1),
        )
        JobCache(app.cache.path).save({running: later, running2: older})
        app.jobs_screen.watching.notice_cache_changes()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.jobs[running].state is JobState.COMPLETED
        assert app.jobs[running2].state is JobState.RUNNING
        # This app's own save is not read back as if another process had made it.
        said = len(notices(app))
        app.cache.save(app.jobs)
        app.jobs_screen.watching.notice_cache_changes()
        assert not [w for w in app.workers if w.group == "outside-cache" and not w.is_finished]
        await pilot.pause()
        assert len(notices(app)) == said
