"""Over SSH every byte counts (issue 17): a cursor move or a refresh repaints what changed.

What a terminal is sent is what Textual repaints: the regions widgets ask to refresh, or the
whole screen after a layout. These tests drive the app headless and watch both through public
API: every `Widget.refresh` call (with the regions it names, or none: the whole widget) and the
screen's `screen_layout_refresh_signal`, published at every layout of the screen. No timing.
The figures in bytes are benchmark item 9's (`uv run python -m benchmarks --items 9`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_ui_fakes import NOW, ORG, FakeService, build_app, key, people, standard_jobs
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Log, ProgressBar, Static

from wmtui.core.export import ExportSpec
from wmtui.core.models import JobState
from wmtui.ui.app import WmtuiApp
from wmtui.ui.screens.export_progress import ExportProgressScreen
from wmtui.ui.screens.mailboxes import MailboxesScreen
from wmtui.ui.widgets.detail import DetailPane, TextLines
from wmtui.ui.widgets.job_table import JobTable
from wmtui.ui.widgets.status import StatusLine

SIZE = (140, 40)


@dataclass
class Repaints:
    """What widgets asked to repaint, and how many times the screen was laid out."""

    layouts: int = 0
    # (widget, the regions it named: none means all of it, layout asked for)
    calls: list[tuple[Widget, tuple[Region, ...], bool]] = field(default_factory=list)

    def whole(self) -> list[Widget]:
        """Widgets repainted whole, taller than one line (a one-line widget is one line)."""
        return [w for w, regions, _ in self.calls if not regions and w.size.height > 1]

    def lines_of(self, widget: Widget) -> set[int]:
        return {
            y
            for w, regions, _ in self.calls
            if w is widget
            for region in regions
            for y in range(region.y, region.bottom)
        }

    def laid_out(self) -> list[Widget]:
        return [w for w, _, layout in self.calls if layout]


@contextmanager
def watching(app: WmtuiApp, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repaints]:
    seen = Repaints()
    original = Widget.refresh

    def refresh(self: Widget, *regions: Region, **options: Any) -> Widget:
        seen.calls.append((self, regions, bool(options.get("layout"))))
        return original(self, *regions, **options)

    def laid_out(screen: object) -> None:
        seen.layouts += 1

    app.screen.screen_layout_refresh_signal.subscribe(app.screen, laid_out)
    with monkeypatch.context() as patch:
        patch.setattr(Widget, "refresh", refresh)
        yield seen
    app.screen.screen_layout_refresh_signal.unsubscribe(app.screen)


async def settle(app: WmtuiApp, pilot: Pilot[Any]) -> None:
    """Until no refresh, worker or describe is left, and the screen is painted."""
    for _ in range(100):
        await app.workers.wait_for_complete()
        await pilot.pause()
        busy = app.refreshing or not all(w.is_finished for w in app.workers)
        if not busy and not app.jobs_screen.describer.pending:
            break
    await pilot.pause()


class Clock:
    """The app's and the service's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def standard_app(tmp_path: Path, clock: Clock | None = None) -> tuple[WmtuiApp, FakeService]:
    clock = clock or Clock()
    jobs = standard_jobs()
    service = FakeService(jobs, mailboxes=people(8), clock=clock)
    app = build_app(tmp_path, service, [job.key for job in jobs], clock=clock)
    app.describe_delay = 0
    return app, service


async def test_a_cursor_move_lays_nothing_out_and_repaints_only_lines_that_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = standard_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.query_one(JobTable)
        # Both jobs seen once (and described): the pane has shown them before.
        for press in ("down", "up"):
            await pilot.press(press)
            await settle(app, pilot)
        assert table.cursor_row == 0
        with watching(app, monkeypatch) as seen:
            await pilot.press("down")
            await settle(app, pilot)
        assert table.cursor_row == 1
        assert seen.layouts == 0, seen.laid_out()
        assert seen.whole() == []
        # The two rows the cursor left and entered (line 0 is the header).
        assert seen.lines_of(table) == {1, 2}
        pane = app.query_one(DetailPane)
        body = pane.query_one("#detail-body")
        repainted = seen.lines_of(body)
        assert repainted, "the new job's fields are on screen"
        assert len(repainted) < body.size.height  # not its blank or unchanged lines


async def test_a_refresh_repaints_the_rows_that_changed_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    app, service = standard_app(tmp_path, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        table = app.query_one(JobTable)
        selected = table.cursor_row
        order = table.row_keys_in_order()
        # One running job, not under the cursor, moves on.
        moved = next(k for k in (key(1), key(2), key(6)) if order.index(str(k)) != selected)
        service.set_job(replace(service.jobs[moved], estimated_progress=95))
        # A second on: every job read is seen anew (its record changes), one shows otherwise.
        clock.now += timedelta(seconds=1)
        with watching(app, monkeypatch) as seen:
            await pilot.press("r")
            await settle(app, pilot)
        assert "95%" in table.get_cell(str(moved), "progress").plain
        assert seen.layouts == 0, seen.laid_out()
        assert seen.whole() == []
        assert seen.lines_of(table) == {order.index(str(moved)) + 1}
        # The status line said "refreshing…" and then how fresh: one line, repainted whole.
        assert {w for w, regions, _ in seen.calls if not regions} <= {app.query_one(StatusLine)}


async def test_a_minute_without_a_refresh_due_changes_the_status_line_once_at_most(
    tmp_path: Path,
) -> None:
    """The app looks at the status line every second; its text (and so the terminal) changes
    once a minute at most while nothing is due."""
    clock = Clock()
    app, _ = standard_app(tmp_path, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = app.jobs_screen
        screen.paused = True  # nothing due: no countdown either
        await settle(app, pilot)
        status = app.query_one(StatusLine)
        shown = []
        start = clock.now
        for second in range(120):
            clock.now = start + timedelta(seconds=second)
            screen.update_status()
            shown.append(str(status.content))
        assert len(set(shown)) <= 2, sorted(set(shown))


async def test_under_the_mailboxes_screen_the_jobs_view_waits_and_then_shows_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh while the mailboxes screen covers the jobs view repaints nothing of it (its
    repaints would be sent as the mailboxes screen again); back on it, the news is there."""
    clock = Clock()
    app, service = standard_app(tmp_path, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("m")
        await settle(app, pilot)
        jobs_screen = app.jobs_screen
        assert app.screen is not jobs_screen
        service.set_job(replace(service.jobs[key(1)], estimated_progress=96))
        clock.now += timedelta(minutes=3)
        with watching(app, monkeypatch) as seen:
            jobs_screen.start_refresh()
            await settle(app, pilot)
        held = (JobTable, StatusLine, TextLines)
        assert [w for w, _, _ in seen.calls if isinstance(w, held)] == []
        table = jobs_screen.query_one(JobTable)
        assert "96%" in table.get_cell(str(key(1)), "progress").plain
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is jobs_screen
        shown = app.export_screenshot()
        assert "96%" in shown
        assert "refreshed" in shown and "just" in shown


async def test_a_refresh_under_the_mailboxes_screen_sends_nothing_of_the_jobs_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Textual repaints a screen whole when another is pushed over it and passes the repaints of
    the screen under the top one on to the top one: each message the covered jobs screen handled
    (a refresh's worker, its result) sent the mailboxes screen to the terminal again, whole.
    Those repaints reach the screen on top as `refresh(*regions)` on it: none may come."""
    clock = Clock()
    app, service = standard_app(tmp_path, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        jobs_screen = app.jobs_screen
        await pilot.press("m")
        await settle(app, pilot)
        top = app.screen
        assert top is not jobs_screen
        jobs_laid_out: list[object] = []
        jobs_screen.screen_layout_refresh_signal.subscribe(jobs_screen, jobs_laid_out.append)
        for percent in (91, 92):
            service.set_job(replace(service.jobs[key(1)], estimated_progress=percent))
            clock.now += timedelta(minutes=3)
            with watching(app, monkeypatch) as seen:
                jobs_screen.start_refresh()
                await settle(app, pilot)
            assert [regions for w, regions, _ in seen.calls if w is top] == []
            assert seen.layouts == 0, seen.laid_out()
        assert jobs_laid_out == []
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is jobs_screen
        assert "92%" in app.export_screenshot()


async def test_the_mailboxes_screen_following_a_refresh_repaints_nothing_that_stayed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mailboxes screen groups its rows again after each of the app's refreshes. A job that
    only moved on changes none of its lines: nothing of it may be repainted, and the screen not
    laid out (its header and deadline lines were set again each time: a layout, and its top
    lines and more sent again, 4.6 KB over SSH for each refresh)."""
    app, service = standard_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("m")
        await settle(app, pilot)
        top = app.screen
        assert isinstance(top, MailboxesScreen)
        header = top.query_one("#mailboxes-title", Static)
        assert "Mailboxes of" in str(header.content)
        for percent in (91, 92):
            service.set_job(replace(service.jobs[key(1)], estimated_progress=percent))
            app.jobs_screen.start_refresh()
            await settle(app, pilot)
            with watching(app, monkeypatch) as seen:
                top.refresh_rows()
                await pilot.pause()
            assert [w for w, _, _ in seen.calls if w is top or top in w.ancestors] == []
            assert seen.layouts == 0, seen.laid_out()
        # What does change is shown: a mark changes the header's count.
        with watching(app, monkeypatch) as seen:
            await pilot.press("space")
            await pilot.pause()
        assert header in {w for w, _, _ in seen.calls}
        assert "1 marked" in str(header.content)


ROLE = "arn:aws:iam::111122223333:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:111122223333:key/abcd-1234"


async def shown(pilot: Pilot[Any], view: ExportProgressScreen, words: str) -> None:
    """Until the export's counts say `words` (the worker posts its rounds from its thread)."""
    for _ in range(400):
        if view.is_mounted and words in str(view.query_one("#export-counts", Static).content):
            break
        await pilot.pause(0.01)
    assert words in str(view.query_one("#export-counts", Static).content)
    for _ in range(5):
        await pilot.pause()


async def test_a_round_of_an_organization_export_lays_out_only_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round's news redraws the counts, the bar and the timing line where they are (their
    height stays: no layout for them) and adds the log's new lines; the bar's own
    once-a-second ETA update (no ETA shown) repaints nothing."""
    clock = Clock()
    app, service = standard_app(tmp_path, clock)
    rounds = threading.Semaphore(0)

    def wait(seconds: float, stop: threading.Event) -> None:
        """Each round waits for the test; the export's jobs end meanwhile."""
        while not rounds.acquire(timeout=0.05):
            if stop.is_set():
                return
        clock.now += timedelta(minutes=10)
        with service.lock:
            for job_key, job in list(service.jobs.items()):
                if job.state is JobState.RUNNING and "export-org" in (job.description or ""):
                    service.jobs[job_key] = replace(
                        job, state=JobState.COMPLETED, estimated_progress=100, end_time=clock.now
                    )

    app.export_wait = wait
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        spec = ExportSpec("us-east-1", ORG, "wm-export", "org", ROLE, KMS, max_running=5)
        view = app.open_export(spec)
        await shown(pilot, view, "2 running")
        counts, timing = view.query_one("#export-counts", Static), view.query_one("#export-timing")
        bar, log = view.query_one(ProgressBar), view.query_one(Log)
        with watching(app, monkeypatch) as seen:
            rounds.release()
            await shown(pilot, view, "2 done")
        assert "completed" in "\n".join(log.lines)
        assert set(seen.laid_out()) <= {log}
        repainted = {w for w, _, _ in seen.calls}
        assert {counts, timing, bar} <= repainted
        assert [w for w in seen.whole() if w is not log] == []
        with watching(app, monkeypatch) as seen:
            bar.update()  # what ProgressBar's own timer calls, once a second
            await pilot.pause()
        assert [w for w, _, _ in seen.calls if w is bar or bar in w.ancestors] == []
