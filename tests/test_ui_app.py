"""The TUI driven by keys, as a user would: what the screen, the files and the clipboard show."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from test_ui_fakes import (
    NOW,
    ORG,
    ORG2,
    REGION,
    FakeService,
    build_app,
    job_id,
    key,
    make_job,
    standard_jobs,
)
from textual.dom import DOMNode
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, SelectionList, Static, TextArea

from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.core.refresh import RefreshPlanner
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.core.watchlist import WatchList
from wmtui.ui.app import WmtuiApp
from wmtui.ui.keys import binding_table
from wmtui.ui.screens.add import AddJobsScreen, check_add_form, split_job_ids
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.help import HelpScreen
from wmtui.ui.screens.import_jobs import ImportScreen
from wmtui.ui.widgets.banner import Banner
from wmtui.ui.widgets.detail import DetailPane
from wmtui.ui.widgets.job_table import JobTable

SIZE = (120, 36)
HOSTILE = [
    "[/]",
    "[red]x",
    "[@click=app.quit]x[/]",
    "\x1b]0;pwned\x07title",
    "\x1b]52;c;ZXZpbA==\x07",
    "right\u202eleft",
]


async def settle(app: WmtuiApp, pilot: Pilot[Any]) -> None:
    """Wait until no refresh is running or queued and every message was handled."""
    for _ in range(100):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not app.refreshing and all(w.is_finished for w in app.workers):
            return
    raise AssertionError("the app did not settle")


def table(app: WmtuiApp) -> JobTable:
    return app.query_one(JobTable)


def cell(app: WmtuiApp, k: JobKey, column: str) -> str:
    value = table(app).get_cell(str(k), column)
    assert isinstance(value, Text), "cells must be Text, never markup strings"
    return value.plain


def rows(app: WmtuiApp) -> list[JobKey]:
    return [_key_of(row) for row in table(app).row_keys_in_order()]


def _key_of(row: str) -> JobKey:
    region, org, job = row.split("/")
    return JobKey(region, org, job)


def static_text(node: DOMNode, selector: str) -> str:
    content = node.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


def detail(app: WmtuiApp) -> str:
    return "\n".join(
        static_text(app, selector)
        for selector in ("#detail-title", "#detail-alert", "#detail-body")
    )


def rendered(widget: Widget) -> list[str]:
    """The lines the widget paints, as a user reads them."""
    region = Region(0, 0, widget.size.width, widget.size.height)
    return [strip.text for strip in widget.render_lines(region)]


def focus_of(app: WmtuiApp) -> Widget | None:
    return app.focused


def notices(app: WmtuiApp) -> list[str]:
    return [notification.message for notification in app._notifications]


def watchlist_keys(app: WmtuiApp) -> list[JobKey]:
    return WatchList(app.watchlist.path).load()


@pytest.fixture
def jobs() -> list[ExportJob]:
    return standard_jobs()


@pytest.fixture
def service(jobs: list[ExportJob]) -> FakeService:
    return FakeService(jobs)


# ---- start-up and refresh ----------------------------------------------------------------------


async def test_cached_jobs_show_before_the_first_refresh_answers(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    service.gate = threading.Event()
    old = [
        job if job.key != key(1) else make_job(1, progress=10, seen=NOW - timedelta(hours=3))
        for job in jobs
    ]
    app = build_app(tmp_path, service, [job.key for job in jobs], cached=old)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert len(rows(app)) == 8
        assert "10%" in cell(app, key(1), "progress")
        assert "refreshing" in static_text(app, "#status")
        table(app).select_key(str(key(1)))
        await pilot.pause()
        assert "3h ago" in detail(app) and "STALE" in detail(app)
        service.gate.set()
        await settle(app, pilot)
        assert "42%" in cell(app, key(1), "progress")
        assert "STALE" not in detail(app)
        assert "refreshed just now" in static_text(app, "#status")


async def test_empty_watch_list_says_what_to_do(tmp_path: Path) -> None:
    app = build_app(tmp_path, FakeService(), [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        empty = static_text(app, "#empty")
        assert "a " in empty and "add" in empty and "import" in empty and "wmtui --demo" in empty
        assert app.query_one("#empty").display and not table(app).display


async def test_state_shows_glyph_and_word(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert cell(app, key(1), "state") == "● RUNNING"
        assert cell(app, key(3), "state") == "✔ COMPLETED"
        assert cell(app, key(4), "state") == "✖ FAILED"
        assert cell(app, key(5), "state") == "⊘ CANCELLED"
        assert cell(app, key(1), "started") == "25m ago"
        assert cell(app, key(1), "time").startswith("ETA ")
        assert cell(app, key(3), "time") == "12m"
        assert cell(app, key(2), "progress").endswith("87%")


async def test_r_refreshes_and_keeps_the_cursor_on_the_same_job(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "j", "j")
        chosen = app.selected_key()
        assert chosen is not None
        index = table(app).cursor_row
        calls_before = sum(service.calls.values())
        # Job 1 moves on and a new job appears above in the order: the cursor stays on its job.
        service.set_job(make_job(1, progress=90, started_ago=timedelta(minutes=25)))
        await pilot.press("r")
        await settle(app, pilot)
        assert sum(service.calls.values()) > calls_before
        assert "90%" in cell(app, key(1), "progress")
        assert app.selected_key() == chosen
        assert table(app).cursor_row == index


async def test_refresh_updates_only_changed_cells(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        updates: list[tuple[str, str]] = []
        original = JobTable._set_cells

        # Where the table changes cell values (update_cell without its table-wide cache drop).
        def spy(self: JobTable, changes: Any) -> None:
            updates.extend((str(row), str(column)) for row, column, _ in changes)
            original(self, changes)

        monkeypatch.setattr(JobTable, "_set_cells", spy)
        cleared: list[bool] = []
        monkeypatch.setattr(JobTable, "clear", lambda self, columns=False: cleared.append(True))
        service.set_job(make_job(2, progress=95, started_ago=timedelta(hours=2)))
        await pilot.press("r")
        await settle(app, pilot)
        assert cleared == []
        changed_rows = {row for row, _ in updates}
        assert changed_rows == {str(key(2))}
        assert {column for _, column in updates} <= {"progress", "time"}


async def test_transition_to_completed_notifies_and_rings(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    bells: list[bool] = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(True))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert bells == []  # first sight of final jobs is no news
        service.set_job(make_job(1, state=JobState.COMPLETED, started_ago=timedelta(minutes=25)))
        service.set_job(
            make_job(
                2,
                state=JobState.FAILED,
                started_ago=timedelta(hours=2),
                error_info="[red]bucket policy[/] denied",
            )
        )
        await pilot.press("r")
        await settle(app, pilot)
        assert len(bells) == 2
        said = notices(app)
        assert any("Export completed" in n and "S-1-5-18-1001" in n for n in said)
        assert any("Export FAILED" in n and "[red]bucket policy[/] denied" in n for n in said)


async def test_an_organization_exports_endings_are_summarised_once_per_refresh(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wmtui.ui.messages import ExportJobsStarted

    app = build_app(tmp_path, service, [job.key for job in jobs])
    bells: list[bool] = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(True))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        # Jobs 1, 2 and 6 run; `E` started 1 and 2 (the app is told as the export's
        # worker tells it), job 6 was started otherwise.
        app.post_message(ExportJobsStarted([key(1), key(2)]))
        await pilot.pause()
        before = len(notices(app))
        service.set_job(make_job(1, state=JobState.COMPLETED, started_ago=timedelta(minutes=30)))
        service.set_job(make_job(2, state=JobState.FAILED, started_ago=timedelta(minutes=30)))
        service.set_job(make_job(6, state=JobState.COMPLETED, started_ago=timedelta(minutes=30)))
        await pilot.press("r")
        await settle(app, pilot)
        said = notices(app)[before:]
        summary = [n for n in said if "1 export completed, 1 failed: " in n]
        assert len(summary) == 1, said
        # A job started otherwise keeps its own notice.
        assert sum("Export completed" in n for n in said) == 1, said
        assert len(bells) == 2


async def test_many_endings_in_one_refresh_share_one_notice_and_one_bell(
    tmp_path: Path, jobs: list[ExportJob], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three more running jobs (9-11): six run, five of them end between two refreshes.
    more = [make_job(n, progress=20, started_ago=timedelta(minutes=n)) for n in (9, 10, 11)]
    service = FakeService([*jobs, *more])
    app = build_app(tmp_path, service, [job.key for job in [*jobs, *more]])
    bells: list[bool] = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(True))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        before = len(notices(app))
        for n in (1, 6, 9, 10):
            service.set_job(make_job(n, state=JobState.COMPLETED, started_ago=timedelta(hours=1)))
        service.set_job(
            make_job(11, state=JobState.FAILED, started_ago=timedelta(hours=1), error_info="x")
        )
        await pilot.press("r")
        await settle(app, pilot)
        said = notices(app)[before:]
        # One notice says it all, naming the failed mailbox; not five stacked over the table.
        assert len(said) == 1, said
        assert "4 exports completed, 1 failed: " in said[0]
        assert not any("Export completed" in n for n in said)
        assert len(bells) == 1


async def test_bell_can_be_turned_off(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs], bell=False)
    bells: list[bool] = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(True))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        service.set_job(make_job(1, state=JobState.COMPLETED, started_ago=timedelta(minutes=25)))
        await pilot.press("r")
        await settle(app, pilot)
        assert bells == []
        assert any("Export completed" in n for n in notices(app))


async def test_cache_is_saved_after_a_refresh(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
    saved = json.loads((tmp_path / "cache" / "jobs.json").read_text())
    assert len(saved["jobs"]) == 8


async def test_a_cache_that_cannot_be_saved_is_reported_once(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])

    def broken(saved: Any) -> bool:
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

    monkeypatch.setattr(app.cache, "save", broken)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        said = [n for n in notices(app) if "Could not save the job cache" in n]
        assert len(said) == 1 and "surrogates not allowed" in said[0]
        assert app.is_running


async def test_job_not_found_keeps_the_job(tmp_path: Path, jobs: list[ExportJob]) -> None:
    service = FakeService(jobs)
    missing = key(99)
    app = build_app(tmp_path, service, [*(job.key for job in jobs), missing])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert missing in rows(app)
        assert cell(app, missing, "state") == "! not found"
        table(app).select_key(str(missing))
        await pilot.pause()
        assert "Could not read this job" in detail(app)
        assert "was not found" in detail(app)
        assert "! 1 unreadable" in static_text(app, "#status")
        await pilot.press("r")
        await settle(app, pilot)
        assert missing in rows(app)
    assert missing in WatchList(tmp_path / "config" / "watchlist.json").load()


async def test_unreachable_service_shows_a_banner_keeps_cached_jobs_and_recovers(
    tmp_path: Path, jobs: list[ExportJob]
) -> None:
    service = FakeService(jobs)
    service.fail_with = ServiceError(
        ErrorKind.UNREACHABLE,
        "Could not reach the WorkMail endpoint",
        "Check the network or --endpoint-url",
    )
    app = build_app(tmp_path, service, [job.key for job in jobs], cached=jobs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        banner = app.query_one(Banner)
        assert banner.display
        assert "Could not reach the WorkMail endpoint" in static_text(app, "#banner")
        assert "Fix: Check the network" in static_text(app, "#banner")
        assert "backing off: every 1m (unreachable)" in static_text(app, "#status")
        assert len(rows(app)) == 8
        await pilot.press("j", "k", "j")
        assert app.selected_key() == rows(app)[1]
        assert "STALE" in detail(app)
        # It recovers by itself once the service answers again.
        service.fail_with = None
        await pilot.press("r")
        await settle(app, pilot)
        assert not banner.display
        assert "backing off" not in static_text(app, "#status")


async def test_a_random_exception_in_the_service_marks_jobs_and_the_app_lives(
    tmp_path: Path, jobs: list[ExportJob]
) -> None:
    service = FakeService(jobs)
    service.fail_with = RuntimeError("boom [/] in the backend")
    app = build_app(tmp_path, service, [job.key for job in jobs], cached=jobs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert app.is_running
        assert cell(app, key(1), "state").startswith("! ")
        assert cell(app, key(3), "state") == "✔ COMPLETED"  # final: not asked again
        table(app).select_key(str(key(1)))
        await pilot.pause()
        assert "boom [/] in the backend" in detail(app)
        assert "unreadable" in static_text(app, "#status")


async def test_a_crash_in_the_refresh_itself_becomes_a_banner(
    tmp_path: Path, jobs: list[ExportJob], monkeypatch: pytest.MonkeyPatch
) -> None:
    service = FakeService(jobs)
    app = build_app(tmp_path, service, [job.key for job in jobs], cached=jobs)

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("[bold]planner bug")

    monkeypatch.setattr(RefreshPlanner, "refresh", explode)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert app.is_running
        assert "ZeroDivisionError: [bold]planner bug" in static_text(app, "#banner")
        assert len(rows(app)) == 8
        assert "next in 30s" in static_text(app, "#status")  # still polling


async def test_throttling_backs_off_up_to_five_minutes(
    tmp_path: Path, jobs: list[ExportJob]
) -> None:
    service = FakeService(jobs)
    service.fail_with = ServiceError(ErrorKind.THROTTLED, "Rate exceeded", "wait")
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        shown = []
        for _ in range(5):
            await pilot.press("r")
            await settle(app, pilot)
            shown.append(static_text(app, "#status"))
        assert "backing off: every 2m (throttled)" in shown[0]
        assert "backing off: every 5m (throttled)" in shown[-1]
        assert "next in 5m" in shown[-1]


# ---- y: yank ---------------------------------------------------------------------------------


async def test_y_copies_the_s3_uri_and_says_how(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(key(3)))
        await pilot.press("y")
        await settle(app, pilot)
        uri = f"s3://wm-export/exports/{job_id(3)}.zip"
        assert app.clipboard == uri
        message = notices(app)[-1]
        assert uri in message and "OSC 52" in message and "not confirmed" in message


async def test_y_on_a_job_without_s3_path_says_so(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(key(6)))
        await pilot.press("y")
        await settle(app, pilot)
        assert app.clipboard == ""
        assert "has no S3 path yet" in notices(app)[-1]


async def test_y_refuses_an_s3_path_that_is_unsafe_to_paste(
    tmp_path: Path, jobs: list[ExportJob]
) -> None:
    bad = make_job(3, state=JobState.COMPLETED, started_ago=timedelta(hours=5))
    service = FakeService([*jobs[:2], replace(bad, s3_path="exports/x.zip\nrm -rf ~")])
    app = build_app(tmp_path, service, [key(1), key(2), key(3)])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(key(3)))
        await pilot.press("y")
        await settle(app, pilot)
        assert app.clipboard == ""
        said = notices(app)[-1]
        assert "not safe to paste" in said and "exports/x.zip⏎rm -rf ~" in said
        assert "\n" not in said


# ---- a: add ----------------------------------------------------------------------------------


async def test_a_adds_jobs_to_the_watch_list_file_and_the_table(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs[:3]])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        assert isinstance(app.screen, AddJobsScreen)
        # Region and organization come from the selected job; paste two IDs.
        app.screen.query_one("#add-ids", TextArea).insert(f"{job_id(4)},\n {job_id(5)}")
        await pilot.pause()
        assert "2 jobs to watch" in static_text(app.screen, "#add-summary")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, AddJobsScreen)
        assert key(4) in rows(app) and key(5) in rows(app)
        assert app.selected_key() == key(4)
        await settle(app, pilot)
        assert cell(app, key(4), "state") == "✖ FAILED"
        assert any("Watching 2 more jobs" in n for n in notices(app))
    data = json.loads((tmp_path / "config" / "watchlist.json").read_text())
    stored = {(j["region"], j["organization_id"], j["job_id"]) for j in data["jobs"]}
    assert (REGION, ORG, job_id(4)) in stored and (REGION, ORG, job_id(5)) in stored


async def test_add_form_validates_as_you_type(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        screen = app.screen
        assert isinstance(screen, AddJobsScreen)
        assert screen.query_one("#add-region", Input).value == REGION
        await pilot.press(*"m-12")
        await pilot.pause()
        error = screen.query_one("#add-organization-error", Static)
        assert error.display and "34 characters" in str(error.content)
        screen.query_one("#add-organization", Input).value = ORG
        screen.query_one("#add-ids", TextArea).insert("good-id bad/id")
        await pilot.pause()
        assert not error.display
        ids_error = screen.query_one("#add-ids-error", Static)
        assert ids_error.display and "bad/id" in str(ids_error.content)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, AddJobsScreen), "an invalid form is not submitted"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AddJobsScreen)
    assert not (tmp_path / "config" / "watchlist.json").exists()


def test_split_and_check_add_form() -> None:
    assert split_job_ids(" a, b;c\n\nd a ") == ["a", "b", "c", "d"]
    check = check_add_form(REGION, ORG, "a b")
    assert check.ok and check.keys == (JobKey(REGION, ORG, "a"), JobKey(REGION, ORG, "b"))
    assert check_add_form("mars-1", ORG, "a").region_error is not None
    assert check_add_form(REGION, ORG, "", require_all=True).ids_error is not None
    assert check_add_form(REGION, "", "", require_all=False).ok is False


# ---- d: remove ------------------------------------------------------------------------------


async def test_d_removes_after_confirmation(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(key(2)))
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert key(2) in rows(app) and key(2) in watchlist_keys(app)
        await pilot.press("delete")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
        assert key(2) not in rows(app)
        assert key(2) not in watchlist_keys(app)
        assert len(watchlist_keys(app)) == 7
        assert app.selected_key() is not None
        assert any("Stopped watching" in n for n in notices(app))


# ---- i: import ------------------------------------------------------------------------------


async def test_i_imports_an_organizations_recent_jobs(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [key(1)])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("i")
        screen = app.screen
        assert isinstance(screen, ImportScreen)
        await screen.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")  # the highlighted organization
        await screen.workers.wait_for_complete()
        await pilot.pause()
        listed = screen.listed_jobs
        # Job 8 started more than seven days ago: List does not return it.
        assert {job.key for job in listed} == {job.key for job in jobs} - {key(8)}
        selection = screen.query_one("#import-jobs", SelectionList)
        assert str(key(1)) not in selection.selected  # already watched
        selection.deselect(str(key(2)))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, ImportScreen)
        expected = {job.key for job in listed} - {key(2)}
        assert set(watchlist_keys(app)) == expected
        assert set(rows(app)) == expected
        await settle(app, pilot)


async def test_import_with_an_unreadable_organization_list_lets_you_type_it(
    tmp_path: Path, jobs: list[ExportJob]
) -> None:
    service = FakeService(jobs)
    service.fail_with = ServiceError(ErrorKind.ACCESS_DENIED, "not allowed: [/]")
    app = build_app(tmp_path, service, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("i")
        screen = app.screen
        assert isinstance(screen, ImportScreen)
        await screen.workers.wait_for_complete()
        await pilot.pause()
        assert "not allowed: [/]" in static_text(screen, "#import-status")
        assert screen.focused is screen.query_one("#import-organization", Input)
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, ImportScreen)


# ---- /, s, p -------------------------------------------------------------------------------


async def test_filter_matches_any_column_and_keeps_the_cursor(
    tmp_path: Path, service: FakeService
) -> None:
    jobs = [
        *standard_jobs()[:5],
        make_job(9, description="Legal hold for Ann", started_ago=timedelta(hours=3)),
    ]
    service = FakeService(jobs)
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(key(9)))
        await pilot.press("slash", *"legal")
        await pilot.pause()
        assert rows(app) == [key(9)]
        assert app.selected_key() == key(9)
        assert "1 of 6 jobs" in static_text(app, "#status")
        await pilot.press("enter")
        assert focus_of(app) is table(app)
        await pilot.press("escape")
        await pilot.pause()
        assert len(rows(app)) == 6
        assert app.selected_key() == key(9)
        assert not app.query_one("#filter", Input).display
        # Mailbox and state match too, words combine.
        await pilot.press("slash", *"1004 failed")
        await pilot.pause()
        assert rows(app) == [key(4)]
        await pilot.press("escape")


async def test_s_cycles_the_sort_and_keeps_the_cursor(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert rows(app) == [key(n) for n in (6, 1, 2, 3, 4, 5, 7, 8)]
        table(app).select_key(str(key(5)))
        await pilot.press("s")
        await pilot.pause()
        assert "sort: state" in static_text(app, "#status")
        assert rows(app) == [key(n) for n in (6, 1, 2, 4, 5, 3, 7, 8)]
        assert app.selected_key() == key(5)
        await pilot.press("s")
        await pilot.pause()
        assert rows(app)[:3] == [key(3), key(7), key(8)]  # 100% first
        assert rows(app)[-1] == key(6)
        assert app.selected_key() == key(5)
        await pilot.press("s")
        await pilot.pause()
        assert "sort: mailbox A→Z" in static_text(app, "#status")
        assert app.selected_key() == key(5)
        await pilot.press("s")
        await pilot.pause()
        assert "sort: started" in static_text(app, "#status")


async def test_p_pauses_and_resumes_auto_refresh(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert "next in 30s" in static_text(app, "#status")
        await pilot.press("p")
        await pilot.pause()
        assert "auto-refresh paused" in static_text(app, "#status")
        assert app.jobs_screen.loop.timer is None
        calls = sum(service.calls.values())
        await pilot.press("p")
        await settle(app, pilot)
        assert sum(service.calls.values()) > calls  # resuming refreshes at once
        assert "next in 30s" in static_text(app, "#status")


# ---- movement, focus, help, quit --------------------------------------------------------------


async def test_movement_keys(tmp_path: Path, jobs: list[ExportJob], service: FakeService) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        order = rows(app)
        await pilot.press("j")
        assert app.selected_key() == order[1]
        await pilot.press("down", "k")
        assert app.selected_key() == order[1]
        await pilot.press("G")
        assert app.selected_key() == order[-1]
        await pilot.press("g")
        assert app.selected_key() == order[0]
        await pilot.press("end")
        assert app.selected_key() == order[-1]
        await pilot.press("home")
        assert app.selected_key() == order[0]
        await pilot.press("pagedown")
        assert app.selected_key() == order[-1]
        await pilot.press("pageup")
        assert app.selected_key() == order[0]
        await pilot.press("enter")
        assert isinstance(focus_of(app), DetailPane)
        await pilot.press("escape")
        assert focus_of(app) is table(app)
        await pilot.press("tab")
        assert isinstance(focus_of(app), DetailPane)
        await pilot.press("tab")
        assert focus_of(app) is table(app)


async def test_detail_pane_shows_every_field(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(key(4)))
        await pilot.pause()
        text = detail(app)
        for expected in (
            "This export FAILED",
            "The KMS key policy does not allow",
            REGION,
            ORG,
            job_id(4),
            "S-1-5-18-1004",
            f"s3://wm-export/exports/{job_id(4)}.zip",
            "arn:aws:iam::111122223333:role/WorkMailExport",
            "arn:aws:kms:us-east-1:111122223333:key/abcd-1234",
            "wm-export",
            "2026-03-02 05:00:00 UTC",
            "Duration",
            "Last seen",
        ):
            assert expected in text, expected
        assert app.query_one("#detail-alert").display


async def test_help_lists_every_binding(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.pause()
        shown = rendered(app.screen.query_one("#help-keys"))
        for keys, description in binding_table():
            assert any(keys in line and description in line for line in shown), keys
        await pilot.press("q")  # closes help, does not quit
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, HelpScreen)


def test_binding_table_names_every_key() -> None:
    table_ = dict(binding_table())
    assert table_["j / ↓"] == "Next job"
    assert table_["k / ↑"] == "Previous job"
    assert table_["g / Home"] == "First job"
    assert table_["G / End"] == "Last job"
    assert table_["Enter / Tab"] == "Details"
    assert table_["r"] == "Refresh"
    assert table_["y"] == "Copy S3 URI"
    assert table_["a"] == "Add jobs"
    assert table_["d / Delete"] == "Remove"
    assert table_["i"] == "Import"
    assert table_["/"] == "Filter"
    assert table_["s"] == "Sort"
    assert table_["p"] == "Pause"
    assert table_["?"] == "Help"
    assert table_["Ctrl+P"] == "Commands"
    assert table_["q / Ctrl+C"] == "Quit"


async def test_command_palette_offers_the_same_actions(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for expected in ("Refresh (r)", "Copy S3 URI (y)", "Add jobs (a)", "Sort (s)", "Help (?)"):
            assert expected in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Sort (s)")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert "sort: state" in static_text(app, "#status")


@pytest.mark.parametrize("keys", [("q",), ("ctrl+c",)])
async def test_quit_keys_exit_cleanly_and_call_on_exit(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService, keys: tuple[str, ...]
) -> None:
    stopped: list[bool] = []
    app = build_app(
        tmp_path, service, [job.key for job in jobs], on_exit=lambda: stopped.append(True)
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press(*keys)
        await pilot.pause()
    assert app.return_code == 0
    assert stopped == [True]


async def test_ctrl_c_quits_from_a_dialog(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        assert isinstance(app.screen, AddJobsScreen)
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0


# ---- layout, theme, corrupt files --------------------------------------------------------------


async def test_narrow_terminal_puts_the_detail_pane_below(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(app, pilot)
        pane = app.query_one(DetailPane).region
        jobs_box = table(app).region
        assert pane.y >= jobs_box.bottom and pane.x == jobs_box.x
    wide = build_app(tmp_path / "wide", FakeService(jobs), [job.key for job in jobs])
    async with wide.run_test(size=SIZE) as pilot:
        await settle(wide, pilot)
        pane = wide.query_one(DetailPane).region
        assert pane.x >= table(wide).region.right and pane.y == table(wide).region.y


async def test_theme_choice_is_remembered(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.theme = "nord"
        await pilot.pause()
    state = json.loads((tmp_path / "config" / "ui-state.json").read_text())
    assert state["theme"] == "nord"
    again = build_app(tmp_path, FakeService(jobs), [])
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        assert again.theme == "nord"


async def test_corrupt_watch_list_shows_a_banner_and_is_never_written(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [], cached=jobs[:3])
    path = tmp_path / "config" / "watchlist.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        banner = static_text(app, "#banner")
        assert "watch list cannot be used" in banner and str(path) in banner
        assert "Press M" in banner
        assert len(rows(app)) == 3  # the cached jobs stay visible
        await pilot.press("a")
        app.screen.query_one("#add-ids", TextArea).insert(job_id(4))
        await pilot.press("enter")
        await pilot.pause()
        assert path.read_text() == "{not json"
        assert any("Nothing added" in n for n in notices(app))
        await pilot.press("M")
        await pilot.pause()
        assert not app.query_one(Banner).display
        assert set(WatchList(path).load()) == {job.key for job in jobs[:3]}
        assert [p.name for p in path.parent.glob("watchlist.json.corrupt-*")]


# ---- hostile text ------------------------------------------------------------------------------


async def test_hostile_text_is_shown_literally_everywhere(tmp_path: Path) -> None:
    jobs = [
        make_job(
            n + 1,
            description=text,
            started_ago=timedelta(minutes=10 * (n + 1)),
            entity=f"user{n}",
            state=JobState.FAILED,
            error_info=text,
        )
        for n, text in enumerate(HOSTILE)
    ]
    service = FakeService(jobs)
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert app.is_running
        assert cell(app, key(1), "description") == "[/]"
        assert cell(app, key(2), "description") == "[red]x"
        assert cell(app, key(3), "description") == "[@click=app.quit]x[/]"
        assert cell(app, key(4), "description") == "\\x1b]0;pwned\\x07title"
        assert cell(app, key(6), "description") == "right\\u202eleft"
        for n in range(len(HOSTILE)):
            assert "\x1b" not in cell(app, key(n + 1), "description")
        table(app).select_key(str(key(3)))
        await pilot.pause()
        assert "[@click=app.quit]x[/]" in detail(app)
        table(app).select_key(str(key(4)))
        await pilot.pause()
        assert "\x1b" not in detail(app) and "\\x1b]0;pwned" in detail(app)
        # Clicking on the detail pane runs nothing.
        await pilot.click(DetailPane)
        assert app.is_running
        svg = app.export_screenshot()
        assert "\x1b" not in svg
        # A hostile error message for the selected job (r reads it even though it is final).
        service.fail_with = ServiceError(ErrorKind.OTHER, "[/][@click=app.quit]x\x1b]52;c;x\x07")
        await pilot.press("r")
        await settle(app, pilot)
        assert app.is_running
        assert "[/][@click=app.quit]x\\x1b]52;c;x\\x07" in detail(app)
        assert "\x1b" not in app.export_screenshot()


async def test_second_organization_and_region_in_status(tmp_path: Path) -> None:
    jobs = [make_job(1), make_job(2, org=ORG2)]
    app = build_app(tmp_path, FakeService(jobs), [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        status = static_text(app, "#status")
        assert "profile test · fake endpoint" in status and REGION in status
        assert "2 jobs, 2 running" in status


async def test_running_count_follows_refreshes_additions_and_removals(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    """The count is kept up to date job by job (not recounted every refresh): it must follow
    a job that finishes, one that is removed from the watch list and one that is added."""
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "8 jobs, 3 running" in static_text(app, "#status")
        service.set_job(make_job(1, state=JobState.COMPLETED, started_ago=timedelta(minutes=25)))
        await pilot.press("r")
        await settle(app, pilot)
        assert "8 jobs, 2 running" in static_text(app, "#status")
        table(app).select_key(str(key(2)))
        await pilot.press("d")
        await pilot.press("y")
        await settle(app, pilot)
        assert "7 jobs, 1 running" in static_text(app, "#status")
        extra = make_job(9, started_ago=timedelta(minutes=2))
        service.set_job(extra)
        app.watch_jobs([extra.key], [extra])
        await settle(app, pilot)
        assert "8 jobs, 2 running" in static_text(app, "#status")


async def test_settings_warnings_are_shown(tmp_path: Path) -> None:
    warning = "config.toml: interval = 1 is below 5 seconds; using 5 [/]"
    app = build_app(tmp_path, FakeService(), [], warnings=(warning,))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert warning in notices(app)


async def test_relative_times_move_with_the_clock(tmp_path: Path, jobs: list[ExportJob]) -> None:
    now = [NOW]
    app = build_app(
        tmp_path,
        FakeService(jobs, clock=lambda: now[0]),
        [j.key for j in jobs],
        clock=lambda: now[0],
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert cell(app, key(1), "started") == "25m ago"
        assert cell(app, key(3), "started") == "5h ago"
        now[0] = NOW + timedelta(hours=2)
        app.jobs_screen.tick_relative_times()  # what the 30-second timer calls
        await pilot.pause()
        # Painted, not only stored: the tick only marks rows, the paint builds them.
        line = next(line for line in rendered(table(app)) if job_id(1)[:8] in line)
        assert "2h ago" in line and "25m ago" not in line
        assert cell(app, key(1), "started") == "2h ago"
        assert cell(app, key(3), "started") == "7h ago"
        assert "refreshed 2h ago" in static_text(app, "#status")


async def test_mailbox_names_replace_entity_ids_and_are_searchable(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.set_mailbox_names({(REGION, ORG, "S-1-5-18-1002"): "Ann [b]Lee"})
        await pilot.pause()
        assert cell(app, key(2), "mailbox") == "Ann [b]Lee"
        await pilot.press("slash", *"lee")
        await pilot.pause()
        assert rows(app) == [key(2)]
