"""The mailboxes screen's organization (picked or typed), cut-off date, sorts and filters.

The organization of test_mailboxes_screen: people 1-8 have the standard jobs (1, 2, 6 running;
3 completed 5 hours ago; 4 failed; 5 cancelled; 7 and 8 completed days ago), the others none.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from test_mailboxes_screen import DESTINATION, group_of, make_app, names, open_mailboxes
from test_ui_app import SIZE, settle, static_text
from test_ui_fakes import NOW, ORG, ORG2, REGION, FakeService, build_app
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from wmtui.core.coverage import Group
from wmtui.core.coverage_read import remembered_cutoff
from wmtui.core.destinations import remember_destination
from wmtui.core.models import JobState
from wmtui.ui.app import WmtuiApp
from wmtui.ui.screens.coverage_dialogs import (
    CutoffScreen,
    OrganizationPicker,
    parse_cutoff,
    parse_organization,
)
from wmtui.ui.screens.mailboxes import MailboxesScreen
from wmtui.ui.widgets.mailbox_table import MailboxTable


async def wait_complete(app: WmtuiApp, pilot: Pilot[Any]) -> MailboxesScreen:
    for _ in range(50):
        screen = app.screen
        if isinstance(screen, MailboxesScreen) and screen.complete:
            return screen
        await app.workers.wait_for_complete()
        await pilot.pause()
    raise AssertionError(f"no complete mailboxes screen: {app.screen!r}")


def test_an_organization_is_typed_with_or_without_its_region() -> None:
    assert parse_organization(ORG, REGION) == (REGION, ORG)
    assert parse_organization(f"{ORG} eu-west-1", REGION) == ("eu-west-1", ORG)
    assert parse_organization(f"eu-west-1 {ORG}", REGION) == ("eu-west-1", ORG)
    assert isinstance(parse_organization("m-nope", REGION), str)
    assert isinstance(parse_organization("", REGION), str)
    assert isinstance(parse_organization(f"{ORG} mars-1", REGION), str)


def test_a_cut_off_is_a_day_or_nothing() -> None:
    assert parse_cutoff("2027-01-15").day is not None  # type: ignore[union-attr]
    assert parse_cutoff("  ").day is None  # type: ignore[union-attr]
    assert "is not a date" in str(parse_cutoff("15/01/2027"))


async def test_without_a_job_or_destination_m_asks_for_an_organization(tmp_path: Path) -> None:
    service = FakeService([], mailboxes=[])
    app = build_app(tmp_path, service, [])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, OrganizationPicker)
        assert "No organization met yet" in static_text(app.screen, "#pick-org-none")
        await pilot.press(*"m-bad", "enter")
        await pilot.pause()
        assert "m-bad" in static_text(app.screen, "#pick-org-error")
        box = app.screen.query_one("#pick-org-input", Input)
        box.value = ""
        await pilot.press(*f"{ORG} eu-west-1", "enter")
        screen = await wait_complete(app, pilot)
        assert (screen.source.region, screen.source.organization_id) == ("eu-west-1", ORG)
        assert f"Mailboxes of {ORG} (eu-west-1)" in static_text(screen, "#mailboxes-title")


async def test_o_shows_another_known_organization_instead(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    remember_destination(tmp_path / "config", "eu-west-1", ORG2, DESTINATION)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_mailboxes(app, pilot)
        await pilot.press("o")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, OrganizationPicker)
        listed = [(k.organization_id, k.sources) for k in picker.known]
        assert listed[0][0] == ORG and "watch list" in listed[0][1]
        assert (ORG2, ["destination"]) in listed
        options = picker.query_one(OptionList)
        options.highlighted = [k.organization_id for k in picker.known].index(ORG2)
        await pilot.press("enter")
        screen = await wait_complete(app, pilot)
        assert screen.source.organization_id == ORG2
        # The screen was replaced, not stacked: Esc goes back to the jobs.
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.jobs_screen


async def test_the_cut_off_is_set_on_the_screen_and_remembered_for_the_organization(
    tmp_path: Path,
) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_mailboxes(app, pilot)
        assert group_of(screen, "cleo3") is Group.EXPORTED
        assert "no cut-off" in static_text(screen, "#mailboxes-title")
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, CutoffScreen)
        await pilot.press(*"tomorrow", "enter")
        await pilot.pause()
        assert "is not a date" in static_text(app.screen, "#cutoff-error")
        app.screen.query_one(Input).value = ""
        day = (NOW + timedelta(days=1)).date().isoformat()
        await pilot.press(*day, "enter")
        await pilot.pause()
        assert isinstance(app.screen, MailboxesScreen)
        # Every good export is older than the cut-off now: stale, to be redone.
        assert group_of(screen, "cleo3") is Group.STALE
        assert group_of(screen, "hal8") is Group.STALE
        assert f"cut-off: {day}" in static_text(screen, "#mailboxes-title")
        assert "0 exported" in static_text(screen, "#deadline")
        await pilot.press("escape", "m")
        screen = await wait_complete(app, pilot)
        assert group_of(screen, "cleo3") is Group.STALE  # kept for the organization
        assert remembered_cutoff(tmp_path / "config", REGION, ORG) == date.fromisoformat(day)
        await pilot.press("c")
        await pilot.pause()
        app.screen.query_one(Input).value = ""
        await pilot.press("enter")
        await pilot.pause()
        assert group_of(screen, "cleo3") is Group.EXPORTED
        assert remembered_cutoff(tmp_path / "config", REGION, ORG) is None


async def test_each_sort_reversed_and_the_filters(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_mailboxes(app, pilot)

        def title() -> str:
            return static_text(screen, "#mailboxes-title")

        assert "sort: group" in title()
        await pilot.press("s", "s")  # name, then size: none known, so by name within
        assert "sort: size" in title()
        assert names(screen)[:2] == ["ann1", "ann11"]
        await pilot.press("s")  # state: CANCELLED, COMPLETED..., FAILED, RUNNING, then none
        states = [row.job.state.value for row in screen.shown if row.job is not None]
        assert states == sorted(states) and states[0] == "CANCELLED"
        assert screen.shown[-1].job is None
        await pilot.press("s")  # age: never exported first, then the oldest job
        assert screen.shown[0].job is None
        aged = [row for row in screen.shown if row.job is not None]
        assert aged[-1].mailbox.name == "finn6"  # started 4 minutes ago: the youngest
        await pilot.press("S")
        assert screen.shown[0].mailbox.name == "finn6" and "(reversed)" in title()
        await pilot.press("S", "s")
        assert "sort: group" in title()
        # The filter matches the group's words as the jobs table's matches the state.
        await pilot.press("slash", *"failed")
        await pilot.pause()
        assert sorted(names(screen)) == ["dan4", "eve5"]
        await pilot.press("enter")
        await pilot.pause()
        assert "filter: failed" in title()
        await pilot.press("escape")  # as on the jobs screen: Esc clears a kept filter first
        await pilot.pause()
        assert len(screen.shown) == len(screen.rows) and "filter:" not in title()
        assert isinstance(app.screen, MailboxesScreen)
        present = [group for group in Group if any(row.group is group for row in screen.rows)]
        assert Group.STALE not in present  # no cut-off: no stale row, so g skips the group
        for group in present:  # g: each group that has a mailbox alone, then all again
            await pilot.press("g")
            assert screen.shown and {row.group for row in screen.shown} == {group}
            assert f"group: {group.value}" in title()
        await pilot.press("g")
        assert len(screen.shown) == len(screen.rows)


async def test_a_new_organization_without_names_says_it_is_reading(tmp_path: Path) -> None:
    service = FakeService([], mailboxes=[])
    app = build_app(tmp_path, service, [])
    remember_destination(tmp_path / "config", REGION, ORG2, DESTINATION)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("m")  # the last destination's organization
        screen = await wait_complete(app, pilot)
        assert screen.source.organization_id == ORG2
        assert "0 mailboxes" in static_text(screen, "#mailboxes-title")


async def test_the_rows_follow_the_app_s_refreshes(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_mailboxes(app, pilot)
        assert group_of(screen, "ann1") is Group.RUNNING
        board = app.jobs_screen.board
        key = next(k for k, job in board.jobs.items() if job.entity_id == "S-1-5-18-1001")
        board.jobs[key] = replace(
            board.jobs[key], state=JobState.COMPLETED, raw_state="COMPLETED", end_time=NOW
        )
        board.last_refresh = NOW + timedelta(seconds=30)  # as a refresh that saw it end
        screen.follow_jobs()
        await pilot.pause()
        assert group_of(screen, "ann1") is Group.EXPORTED
        seen = len(screen.jobs_seen)
        board.last_refresh = NOW + timedelta(seconds=60)
        screen.follow_jobs()
        assert len(screen.jobs_seen) == seen  # each job once, however often it is followed


async def test_rows_shown_again_unchanged_are_not_drawn_again(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_mailboxes(app, pilot)
        await pilot.pause()
        table = screen.query_one(MailboxTable)
        assert table.built  # the painted rows
        drawn: list[int] = []
        table.refresh_row = drawn.append  # type: ignore[method-assign,assignment]
        screen.show_rows()
        assert drawn == []
        screen.marked.add(screen.shown[2].entity_id)
        screen.show_rows()
        assert drawn == [2]


async def test_opening_reads_only_the_jobs_list_while_the_names_are_fresh(tmp_path: Path) -> None:
    app, service = make_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_mailboxes(app, pilot)  # the first open lists the names once
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        before = service.calls.copy()
        await open_mailboxes(app, pilot)
        made = service.calls - before
        # What the benchmark's yardstick counts: the job list; no names, no sizes. (The jobs
        # screen's own refresh may describe its running jobs meanwhile.)
        assert made["ListMailboxExportJobs"] == 1
        assert set(made) <= {"ListMailboxExportJobs", "DescribeMailboxExportJob"}
