"""The jobs screen: the table of watched jobs, the detail pane, the status line and the banner.

It owns the jobs view (posting's `MainScreen`): what is watched and known lives in a `JobBoard`
(core), what the table shows of it in `JobRows`, the background refresh in `RefreshLoop`. Each
operation (start, cancel, export an organization, copy, watch-list edits) is a flow of its own
under `wmtui/ui/flows/`, called from the actions here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState

from wmtui.core import locations
from wmtui.core.board import JobBoard
from wmtui.core.cache import JobCache
from wmtui.core.models import ExportJob, JobKey, Mailbox
from wmtui.core.name_learning import NameLearner
from wmtui.core.names import NameDirectory
from wmtui.core.preflight import Preflight
from wmtui.core.service import ExportObjects, ExportService
from wmtui.core.settings import Settings
from wmtui.core.watchlist import WatchList, WatchListError
from wmtui.ui import announce
from wmtui.ui.cache_writer import CacheWriter
from wmtui.ui.flows.cancel import CancelFlow
from wmtui.ui.flows.copy import CopyFlow
from wmtui.ui.flows.describe import DescribeOnSelect
from wmtui.ui.flows.export_org import ExportOrgFlow, open_org_exports
from wmtui.ui.flows.mailboxes import MailboxesFlow, open_mailboxes
from wmtui.ui.flows.sorting import reverse_sort
from wmtui.ui.flows.start import StartFlow
from wmtui.ui.flows.verify import VerifyKeys
from wmtui.ui.flows.watching import WatchingFlow
from wmtui.ui.job_rows import JobRows, SortMode
from wmtui.ui.keys import JOBS_BINDINGS, WRITE_ACTIONS, help_rows, key_help
from wmtui.ui.messages import (
    CacheProblem,
    DownloadUrlFailed,
    ExportCancelled,
    ExportStarted,
    JobDescribed,
    NamesLearned,
    RefreshFinished,
    YankFinished,
)
from wmtui.ui.refresh_loop import RefreshLoop
from wmtui.ui.safe_text import sanitize
from wmtui.ui.screens.help import HelpScreen
from wmtui.ui.widgets.banner import Banner, problem_text
from wmtui.ui.widgets.covered import QuietWhileCovered
from wmtui.ui.widgets.detail import DetailPane
from wmtui.ui.widgets.job_table import JobTable
from wmtui.ui.widgets.status import StatusInfo, StatusLine, freshness, render_status
from wmtui.ui.widgets.verification_cells import VerificationCount

if TYPE_CHECKING:
    from wmtui.ui.widgets.cells import Palette

# The first refresh starts once the cached table is painted, or after this long at the latest.
FIRST_REFRESH_LATEST = 2.0
# Relative times ("3h ago", "ETA 12m") are recomputed this often even without a refresh: they
# read in minutes, and each change is a line sent to the terminal.
RELATIVE_TIME_TICK = 60.0
# The cursor rests this long on a job never described before one Describe fills it in.
DESCRIBE_DELAY = 0.5


@dataclass
class JobsContext:
    """What the jobs screen works with, handed down by the app (which got it from the door)."""

    service: ExportService
    watchlist: WatchList
    cache: JobCache
    settings: Settings
    clock: Callable[[], datetime]
    names: NameDirectory
    # The cursor rests this long on a job never described before one Describe fills it in.
    describe_delay: float = DESCRIBE_DELAY
    cursor_blink: bool = True
    objects: ExportObjects | None = None  # the export files in S3; None: no verification
    preflight: Preflight | None = None  # the doctor's checks; None: not against real AWS


class JobsScreen(VerifyKeys, QuietWhileCovered):
    """The app's main screen: the watched jobs, refreshed in the background."""

    BINDINGS: ClassVar[list[BindingType]] = JOBS_BINDINGS
    action_mailboxes = open_mailboxes  # m: the flow owns it (this class is at its size budget)
    action_org_exports = open_org_exports  # O: the same
    action_reverse_sort = reverse_sort  # S: the same

    paused: reactive[bool] = reactive(False, init=False)
    sort_mode: reactive[SortMode] = reactive(SortMode.STARTED, init=False)
    filter_text: reactive[str] = reactive("", init=False)

    def __init__(self, context: JobsContext, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.context = context
        self.service = context.service
        self.settings = context.settings
        self.clock = context.clock
        self.board = JobBoard(interval=context.settings.interval)
        self.rows = JobRows(self.board, context.clock)
        self.learner = NameLearner(context.names, clock=context.clock)
        self.loop = RefreshLoop(self, context.service, self.board, self.learner, context.clock)
        self.cache_writer = CacheWriter(self, context.cache, lambda: self.board.jobs)
        self.watching = WatchingFlow(self)
        self.start_flow = StartFlow(self)
        self.cancel_flow = CancelFlow(self)
        self.export_flow = ExportOrgFlow(self)
        self.copy_flow = CopyFlow(self)
        self.watchlist_error: WatchListError | None = None
        self.describer = DescribeOnSelect(self)
        self.verification_count = VerificationCount()
        self._names_problems_said: set[str] = set()
        self._cache_problem_said: str | None = None
        self._filter_open = False
        self._initial_selection: JobKey | None = None
        self.closed = False

    # ---- layout and start --------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield Banner(id="banner")
        yield Input(
            id="filter",
            placeholder="Filter: job, mailbox, state, description… (Enter keeps it, Esc clears)",
        )
        with Horizontal(id="body"):
            with Vertical(id="table-box"):
                yield JobTable(id="jobs")
                yield Static(announce.empty_text(), id="empty")
            yield DetailPane(id="detail")
        yield Footer()

    @property
    def palette(self) -> Palette:
        return self.rows.palette

    def set_palette(self, palette: Palette) -> None:
        self.rows.palette = palette
        if self.is_mounted:
            self.sync_table(None)
            self.update_status()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).cursor_blink = self.context.cursor_blink
        self._make_cache_dir()
        watched = self.watching.load()
        cache = self.context.cache
        cached = cache.load()
        if cache.last_problem:
            self.notify(sanitize(cache.last_problem), severity="warning", markup=False)
        if self.watchlist_error is not None:
            # Show what the cache remembers; the unreadable file is left alone.
            watched = sorted(cached)
        self.board.jobs.update({key: cached[key] for key in watched if key in cached})
        self.set_watched(watched)
        self.sync_table(None)
        # Until the first refresh reorders the rows, the cursor is where the app put it.
        self._initial_selection = self.selected_key()
        self.update_banner()
        self.update_status()
        self.query_one(JobTable).focus()
        self.set_interval(1.0, self._tick_status)
        self.set_interval(RELATIVE_TIME_TICK, self.tick_relative_times)
        self.loop.load_cached_names(self.board.entity_ids())
        # Once the cached table is on screen (the refresh worker imports botocore, which
        # would hold up the first paint), or after a moment whatever happens.
        self.loop.first_pending = True
        if self.board.watched:
            self.query_one(JobTable).call_when_painted(self._first_refresh)
            self.set_timer(FIRST_REFRESH_LATEST, self._first_refresh)
        else:
            self._first_refresh()

    def _first_refresh(self) -> None:
        if not self.loop.first_pending or self.closed:
            return
        settle = getattr(self.app, "settle_heap", None)
        if settle is not None:
            settle()
        self.start_refresh()

    def _make_cache_dir(self) -> None:
        """Make the cache folder before any worker does: the job cache's and the names
        cache's writers, in two threads, could otherwise race to make it, and
        ensure_private_dir then takes the folder the other just made for a file in the way."""
        cache_dir = self.context.cache.path.parent  # per endpoint (factory)
        if cache_dir.is_dir():
            return
        with contextlib.suppress(OSError):  # a save says what is wrong, once, if it matters
            locations.ensure_private_dir(cache_dir)

    def shutdown(self) -> None:
        """The app is ending: save what a timer held back, stop the exports and timers."""
        if self.closed:
            return
        self.closed = True
        self.cache_writer.flush()
        self.export_flow.stop_all()
        self.describer.stop()
        self.loop.stop_timer()

    # ---- state ---------------------------------------------------------------------------------

    def set_watched(self, keys: Iterable[JobKey]) -> None:
        self.board.set_watched(keys)
        self.rows.watched_changed()

    def selected_key(self) -> JobKey | None:
        """The job under the cursor, if any."""
        return self.rows.key_of(self.query_one(JobTable).selected_key)

    def show_names(self, names: Mapping[tuple[str, str, str], Mailbox | str]) -> None:
        """Show names instead of EntityIds: (region, organization, entity id) -> who."""
        self.rows.mailboxes.update(
            {
                triple: who if isinstance(who, Mailbox) else Mailbox(triple[2], display_name=who)
                for triple, who in names.items()
            }
        )
        self.sync_table(None)

    def name_for(self, key: JobKey, job: ExportJob | None) -> str | None:
        return self.rows.name_for(key, job)

    def widgets_alive(self) -> bool:
        """False while the app shuts down: timers may still fire after the widgets are gone."""
        return not self.closed and self.is_mounted and bool(self.query(StatusLine))

    def sync_table(
        self, dirty: Collection[JobKey] | None, settled: Collection[JobKey] = ()
    ) -> None:
        """Show the watched jobs; `dirty` names the rows that may have changed (None: all),
        `settled` those of them whose place in the order cannot have changed."""
        table = self.query_one(JobTable)
        rows = self.rows.touch(dirty, settled)
        self.verification_count.forget()
        table.set_columns(self.rows.columns)  # the Account column: several profiles watched
        table.sync(self.rows.order(), self.rows.cells, rows)
        self.board.count(dirty)
        nothing_watched = not self.board.watched
        table.display = not nothing_watched
        self.query_one("#empty", Static).display = nothing_watched
        self.query_one(DetailPane).display = not nothing_watched
        self.update_detail()

    def tick_relative_times(self) -> None:
        """Redraw "3h ago" and "ETA 12m" as the clock moves: the table builds the rows on
        screen again when it paints them, and only cells that read differently change."""
        if not self.widgets_alive():
            return
        self.query_one(JobTable).invalidate()
        self.update_detail()
        self.update_status()

    def _tick_status(self) -> None:
        if self.widgets_alive():
            self.update_status()

    def update_detail(self) -> None:
        view = self.rows.view(self.selected_key())  # JobRows builds what the pane shows
        self.query_one(DetailPane).show(view, self.clock(), self.palette)

    def on_job_table_row_highlighted(self) -> None:
        self.update_detail()
        self.describer.schedule()

    # ---- status line and banner --------------------------------------------------------------

    def _target(self) -> str:
        try:
            return str(self.service.target)
        except Exception:  # a status line must never take the app down
            return "?"

    def update_status(self) -> None:
        board, loop = self.board, self.loop
        info = StatusInfo(
            target=self._target(),
            regions=board.regions or [self.settings.region or "no region set"],
            jobs=len(board.watched),
            running=len(board.running),
            shown=self.query_one(JobTable).row_count if board.watched else 0,
            last_refresh=board.last_refresh,
            next_refresh=loop.next_refresh,
            refreshing=loop.running,
            paused=self.paused,
            backoff=board.backoff,
            backoff_reason=board.backoff_reason,
            unreadable=board.unreadable,
            sort_label=self.sort_mode.label_for(reverse=self.rows.reverse),
            filter_text=self.filter_text,
            now=self.clock(),
            deadline=MailboxesFlow.of(self).status_text(),
            **freshness(board, read_only=self.settings.read_only),
            verification=self.verification_count.words(board.jobs.values()),
        )
        self.query_one(StatusLine).show(render_status(info, self.palette))

    def update_banner(self) -> None:
        board = self.board
        text = problem_text(
            self.watchlist_error, board.global_error, board.last_refresh, self.clock(),
            profile_errors=board.profile_errors,
        )  # fmt: skip
        self.query_one(Banner).show_problem(text)

    # ---- refresh -------------------------------------------------------------------------------

    @property
    def refreshing(self) -> bool:
        """A refresh is running, or the first one waits for the first paint."""
        return self.loop.running or self.loop.first_pending

    def start_refresh(self, force: Collection[JobKey] = ()) -> None:
        """Start a refresh now, or right after the one running (never two at once)."""
        self.loop.start(force)
        self.update_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "refresh" and event.state is WorkerState.ERROR and self.loop.running:
            # Only reachable through a bug: report it and keep polling.
            self.post_message(RefreshFinished(self.loop.failed(worker.error)))

    def on_refresh_finished(self, message: RefreshFinished) -> None:
        pending = self.loop.finished()
        if not self.widgets_alive():
            return
        change = self.board.apply(message.result, by_progress=self.sort_mode is SortMode.PROGRESS)
        self.sync_table(change.changed, change.settled)
        initial, self._initial_selection = self._initial_selection, None
        if initial is not None and initial == self.selected_key():
            # Nobody moved the cursor yet: start at the top of the sorted table.
            self.query_one(JobTable).move_cursor(row=0, animate=False)
        self.update_banner()
        announce.refreshed(self, change)
        if change.changed:
            self.cache_writer.save()
        # A job under the cursor that the refresh has just read from a list: fill it in.
        self.describer.schedule()
        if pending is not None:
            self.start_refresh(pending)
        else:
            self.loop.schedule_next()
            self.update_status()

    def on_names_learned(self, message: NamesLearned) -> None:
        if not self.widgets_alive():
            return
        dirty = self.rows.learn_names(message.names)
        if dirty:
            self.sync_table(dirty)
        for problem in message.problems:
            # Said once: a listing refused is refused the same way every round.
            if problem not in self._names_problems_said:
                self._names_problems_said.add(problem)
                self.notify(sanitize(problem, limit=400), severity="warning", markup=False)
        if message.requested is not None and not message.problems:
            region, organization_id = message.requested
            count = len(self.context.names.mailboxes(region, organization_id))
            self.notify(
                f"Read the mailbox names of {sanitize(organization_id)} again:"
                f" {count} mailboxes known.",
                markup=False,
            )

    def on_cache_problem(self, message: CacheProblem) -> None:
        # Said once per problem: a cache that cannot be written fails the same way every tick.
        if message.problem != self._cache_problem_said:
            self._cache_problem_said = message.problem
            self.notify(sanitize(message.problem), severity="warning", markup=False, timeout=12)

    def on_job_described(self, message: JobDescribed) -> None:
        if message.job is None or not self.widgets_alive():
            return
        changed, finished = self.board.apply_described(message.job)
        if not changed:
            return
        self.sync_table([message.key])
        if finished is not None:
            announce.described(self, finished)
        # Not saved on its own: the next save (any refresh that changes something) carries it,
        # and a lost one costs one Describe next session.

    # ---- reactive state ------------------------------------------------------------------------

    def watch_paused(self, paused: bool) -> None:
        self.loop.pause(paused)
        if paused:
            self.notify("Auto-refresh paused (p resumes; r still refreshes).", markup=False)
        else:
            self.notify("Auto-refresh resumed.", markup=False)
            self.start_refresh()
        self.update_status()

    def watch_sort_mode(self, mode: SortMode) -> None:
        self.rows.sort_mode = mode
        self.rows.reorder(sort=True)
        self.sync_table(())
        self.update_status()

    def watch_filter_text(self, text: str) -> None:
        self.rows.filter_text = text
        self.rows.reorder()
        self.sync_table(())
        self.update_status()

    # ---- actions -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in WRITE_ACTIONS and self.settings.read_only:
            return False  # hidden from the footer and help; the palette says why
        if action == "move_watchlist_aside":
            error = self.watchlist_error
            return error is not None and error.can_move_aside
        if action == "clear_filter":
            return bool(self.filter_text) or self._filter_open
        return True

    def action_focus_detail(self) -> None:
        if self.selected_key() is not None:
            self.query_one(DetailPane).focus()

    def action_focus_table(self) -> None:
        self.query_one(JobTable).focus()

    def action_refresh(self) -> None:
        if not self.board.watched:
            self.notify("Nothing to refresh: no jobs watched yet (a adds some).", markup=False)
            return
        force = self.board.unfinished()
        selected = self.selected_key()
        if selected is not None:
            force.add(selected)
        self.describer.forget()
        self.start_refresh(force)

    def action_yank(self) -> None:
        self.copy_flow.yank()

    def action_yank_download_url(self) -> None:
        self.copy_flow.presign()

    def on_yank_finished(self, message: YankFinished) -> None:
        self.copy_flow.finished(message)

    def on_download_url_failed(self, message: DownloadUrlFailed) -> None:
        self.copy_flow.failed(message)

    def action_start_export(self) -> None:
        self.start_flow.open()

    def on_export_started(self, message: ExportStarted) -> None:
        self.start_flow.started(message)

    def action_cancel_export(self) -> None:
        self.cancel_flow.ask()

    def on_export_cancelled(self, message: ExportCancelled) -> None:
        self.cancel_flow.done(message)

    def action_export_org(self) -> None:
        self.export_flow.open()

    def action_add(self) -> None:
        self.watching.add()

    def action_import(self) -> None:
        self.watching.import_jobs()

    def action_remove(self) -> None:
        self.watching.remove()

    def action_move_watchlist_aside(self) -> None:
        self.watching.move_aside()

    def watch_jobs(
        self, keys: Sequence[JobKey], records: Sequence[ExportJob] = (), *, announce: bool = True
    ) -> None:
        """Add to the watch list file and show at once; the next refresh reads them."""
        self.watching.watch(keys, records, announce=announce)

    def action_reload_names(self) -> None:
        key = self.selected_key()
        if key is None:
            self.notify("No job selected: N reads the names of its organization.", markup=False)
            return
        org = (key.region, key.organization_id)
        entity_ids = self.board.entity_ids().get(org, set())
        self.notify(f"Reading the mailbox names of {sanitize(key.organization_id)}…", markup=False)
        self.loop.reload_names(org, entity_ids)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        self._filter_open = True
        box.focus()
        self.refresh_bindings()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_text = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.stop()
            if not event.value:
                event.input.display = False
                self._filter_open = False
            self.query_one(JobTable).focus()
            self.refresh_bindings()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self._filter_open = False
        self.filter_text = ""
        self.query_one(JobTable).focus()
        self.refresh_bindings()

    def action_cycle_sort(self) -> None:
        self.sort_mode = self.sort_mode.next()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused

    def action_help(self) -> None:
        note = "Esc, q or ? closes. Ctrl+P runs any of these by name."
        rows = help_rows()
        if self.settings.read_only:
            # What read-only refuses is not offered.
            hidden = {row.description for row in key_help() if row.action in WRITE_ACTIONS}
            rows = [row for row in rows if row[1] not in hidden]
            note += " Read-only: starting and cancelling exports is off."
        self.app.push_screen(HelpScreen(rows, note))

    def refuse_read_only(self, action: str) -> None:
        what = {
            "start_export": "Starting an export",
            "cancel_export": "Cancelling an export",
            "export_org": "Exporting an organization",
        }.get(action, "That")
        self.notify(
            f"{what} is not allowed: wmtui runs read-only (--read-only or read_only = true"
            " in config.toml).",
            severity="warning",
            markup=False,
        )

    def system_commands(self) -> Iterable[tuple[str, str, Callable[[], Any]]]:
        """(title, help, callback) for the command palette: every key's action by name."""
        for row in key_help():
            if row.action in ("quit", "command_palette", "clear_filter") or ":" in row.action:
                continue
            if row.action.startswith(("cursor_", "scroll_", "page_", "focus_")):
                continue
            title = f"{row.description} ({row.keys_label})"
            if row.action in WRITE_ACTIONS and self.settings.read_only:
                # Still findable by name, so that asking for it says why it is off.
                callback = partial(self.refuse_read_only, row.action)
                yield title, "Not available: wmtui runs read-only", callback
                continue
            if self.check_action(row.action, ()) is not True:
                continue
            yield title, row.tooltip, partial(self.run_action, row.action)
