"""WmtuiApp: the job table, the detail pane, the background refresh and the keys.

The app is given its service and store (harlequin's `Harlequin(adapter=...)`), so it never
learns there is a boto3. Blocking calls run in thread workers that post typed messages; every
widget is touched on the UI thread only. The next refresh is scheduled when the last one has
finished (dolphie's WorkerManager), so slow calls never pile up.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from wmtui.core import locations
from wmtui.core.cache import JobCache
from wmtui.core.export_org import (
    ExportSpec,
    ExportStateError,
    export_state_path,
    read_export_state,
)
from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox, StartRequest, now_utc
from wmtui.core.names import NameDirectory
from wmtui.core.refresh import RefreshPlanner, RefreshResult
from wmtui.core.service import ErrorKind, ExportService, ServiceError
from wmtui.core.settings import Settings, load_ui_state, save_ui_state
from wmtui.core.watchlist import WatchList, WatchListError
from wmtui.ui.clipboard import yank
from wmtui.ui.destinations import (
    Destination,
    last_organization,
    remember_destination,
    remembered_destination,
)
from wmtui.ui.messages import (
    CacheProblem,
    DownloadUrlFailed,
    ExportCancelled,
    ExportJobsStarted,
    ExportStarted,
    JobDescribed,
    NamesLearned,
    RefreshFinished,
    YankFinished,
)
from wmtui.ui.safe_text import safe_text, sanitize
from wmtui.ui.screens.add import AddJobsScreen
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.export_org import (
    ExportFormScreen,
    ExportProgressScreen,
    ExportWait,
    wait_or_stop,
)
from wmtui.ui.screens.help import HelpRow, HelpScreen
from wmtui.ui.screens.import_jobs import ImportScreen
from wmtui.ui.screens.jobs import JobsScreen
from wmtui.ui.screens.start import StartExportScreen, StartPlan
from wmtui.ui.widgets.banner import Banner
from wmtui.ui.widgets.cells import (
    DESCRIPTION_WIDTH,
    Palette,
    cell_text,
    duration_or_eta,
    mailbox_label,
    progress_cell,
    relative_time,
    search_text,
    short_span,
    state_cell,
)
from wmtui.ui.widgets.detail import DetailPane, JobView
from wmtui.ui.widgets.job_table import JobIdCell, JobTable, RowCells
from wmtui.ui.widgets.status import StatusInfo, StatusLine, render_status

# The first refresh starts once the cached table is painted, or after this long at the latest.
FIRST_REFRESH_LATEST = 2.0
# The job cache is saved at most this often (seconds) while the app runs, and at exit.
CACHE_SAVE_INTERVAL = 10.0
# Objects the garbage collector's young generation holds before a collection (Python: 700).
YOUNG_GENERATION = 7_000
# An organization export's summary names at most this many failed mailboxes.
SUMMARY_NAMES = 3
# Back-off ceiling for throttling and network trouble.
MAX_BACKOFF_SECONDS = 300.0
# Relative times ("3h ago", "ETA 12m") are recomputed this often even without a refresh.
RELATIVE_TIME_TICK = 30.0
DEFAULT_REGION = "us-east-1"
# Applied to the whole table only when it is this small; bigger tables wait for the tick.
_NOTIFY_TIMEOUT = 8.0
# The cursor rests this long on a job never described before one Describe fills it in.
DESCRIBE_DELAY = 0.5
# After mailbox names could not be read for an organization, wait this long to try again
# by itself (N asks at once).
NAMES_RETRY_AFTER = timedelta(hours=1)
# Actions that change something in WorkMail: hidden and refused with --read-only.
WRITE_ACTIONS = frozenset({"start_export", "cancel_export", "export_org"})
# What an export needs from the service's limits, said where a start is refused for them.
LIMITS_NOTE = (
    "WorkMail runs at most 10 exports at once per organization and one export per mailbox"
    " per 24 hours"
)

OrgKey = tuple[str, str]
NameKey = tuple[str, str, str]


class SortMode(StrEnum):
    STARTED = "started"
    STATE = "state"
    PROGRESS = "progress"

    @property
    def label(self) -> str:
        return {
            SortMode.STARTED: "started ▼",
            SortMode.STATE: "state",
            SortMode.PROGRESS: "progress ▼",
        }[self]

    def next(self) -> SortMode:
        modes = list(SortMode)
        return modes[(modes.index(self) + 1) % len(modes)]


# Running first, then what needs attention, then what is done.
_STATE_ORDER = {
    JobState.RUNNING: 0,
    JobState.UNKNOWN: 1,
    JobState.FAILED: 2,
    JobState.CANCELLED: 3,
    JobState.COMPLETED: 4,
}

# The keys, once: the footer, the help screen, the command palette and the README come from here.
APP_BINDINGS: list[BindingType] = [
    Binding(
        "r",
        "refresh",
        "Refresh",
        tooltip="Refresh now: every job not finished, and the selected one",
    ),
    Binding(
        "y", "yank", "Copy S3 URI", tooltip="Copy the selected job's s3:// URI to the clipboard"
    ),
    Binding(
        "Y",
        "yank_download_url",
        "Copy download URL",
        show=False,
        tooltip="Copy a presigned HTTPS link to the selected COMPLETED export (no AWS keys"
        " needed to fetch it)",
    ),
    Binding("n", "start_export", "Start", tooltip="Start one mailbox export (asks first)"),
    Binding(
        "c", "cancel_export", "Cancel", tooltip="Cancel the selected RUNNING export (asks first)"
    ),
    Binding(
        "E",
        "export_org",
        "Export org",
        tooltip="Export every mailbox of an organization within WorkMail's limits, resumably",
    ),
    Binding("a", "add", "Add jobs", tooltip="Watch jobs by region, organization and job IDs"),
    Binding(
        "d,delete",
        "remove",
        "Remove",
        tooltip="Stop watching the selected job (asks first; the export is not touched)",
    ),
    Binding(
        "i",
        "import",
        "Import",
        show=False,
        tooltip="Import an organization's jobs of the last 7 days",
    ),
    Binding(
        "slash", "filter", "Filter", tooltip="Filter on every column (Enter keeps it, Esc clears)"
    ),
    Binding(
        "escape", "clear_filter", "Clear filter", show=False, tooltip="Clear and hide the filter"
    ),
    Binding(
        "s",
        "cycle_sort",
        "Sort",
        show=False,
        tooltip="Cycle the sort: start time, state, progress",
    ),
    Binding(
        "p",
        "toggle_pause",
        "Pause",
        show=False,
        tooltip="Pause or resume the automatic refresh",
    ),
    Binding(
        "N",
        "reload_names",
        "Reload names",
        show=False,
        tooltip="Read the mailbox names of the selected job's organization again",
    ),
    Binding(
        "M",
        "move_watchlist_aside",
        "Move watch list aside",
        tooltip="Rename an unreadable watch list to a backup and start a new one",
    ),
    Binding("question_mark", "help", "Help", tooltip="Show every key"),
    Binding("q", "quit", "Quit", tooltip="Quit wmtui"),
    Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
]

_KEY_LABELS = {
    "up": "↑",
    "down": "↓",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "home": "Home",
    "end": "End",
    "enter": "Enter",
    "tab": "Tab",
    "shift+tab": "Shift+Tab",
    "escape": "Esc",
    "delete": "Delete",
    "slash": "/",
    "question_mark": "?",
}


def key_label(key: str) -> str:
    """How a key is written for people: '↓', 'PgDn', 'Ctrl+C', '?'."""
    if key in _KEY_LABELS:
        return _KEY_LABELS[key]
    if key.startswith("ctrl+"):
        return "Ctrl+" + key_label(key[5:]).upper()
    return key


@dataclass(frozen=True)
class KeyHelp:
    keys: tuple[str, ...]
    action: str
    description: str
    tooltip: str

    @property
    def keys_label(self) -> str:
        return " / ".join(key_label(key) for key in self.keys)


def _bindings(source: Iterable[BindingType]) -> Iterator[Binding]:
    for item in source:
        if isinstance(item, Binding):
            yield item
        else:
            yield from Binding.make_bindings([item])


def key_help() -> list[KeyHelp]:
    """Every key wmtui defines, grouped by action, in the order people meet them."""
    groups: dict[str, KeyHelp] = {}
    sources: list[tuple[str, Iterable[BindingType]]] = [
        ("table", JobTable.BINDINGS),
        ("detail", DetailPane.BINDINGS),
        ("app", APP_BINDINGS),
    ]
    for scope, source in sources:
        for binding in _bindings(source):
            action = binding.action.removeprefix("app.")
            group = f"{scope}:{action}" if scope != "app" else action
            keys = tuple(key.strip() for key in binding.key.split(","))
            if group in groups:
                known = groups[group]
                merged = known.keys + tuple(k for k in keys if k not in known.keys)
                groups[group] = KeyHelp(merged, action, known.description, known.tooltip)
            else:
                description = binding.description or action
                groups[group] = KeyHelp(keys, action, description, binding.tooltip or description)
    rows = list(groups.values())
    palette = KeyHelp(("ctrl+p",), "command_palette", "Commands", "Open the command palette")
    quit_at = next((i for i, row in enumerate(rows) if row.action == "quit"), len(rows))
    rows.insert(quit_at, palette)
    return rows


def binding_table() -> list[tuple[str, str]]:
    """(keys, description) for every key, as the help screen and the README show them."""
    return [(row.keys_label, row.description) for row in key_help()]


def help_rows() -> list[HelpRow]:
    return [(row.keys_label, row.description, row.tooltip) for row in key_help()]


class WmtuiApp(App[None]):
    """Watch WorkMail mailbox export jobs."""

    CSS_PATH = "app.tcss"
    TITLE = "wmtui"
    BINDINGS: ClassVar[list[BindingType]] = APP_BINDINGS
    # Below 100 columns the detail pane moves under the table.
    # (App declares it as an instance-level ClassVar mypy will not let us repeat.)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012

    paused: reactive[bool] = reactive(False, init=False)
    sort_mode: reactive[SortMode] = reactive(SortMode.STARTED, init=False)
    filter_text: reactive[str] = reactive("", init=False)

    def __init__(
        self,
        service: ExportService,
        watchlist: WatchList,
        cache: JobCache,
        settings: Settings,
        *,
        clock: Callable[[], datetime] | None = None,
        on_exit: Callable[[], None] | None = None,
        names: NameDirectory | None = None,
    ) -> None:
        self._service = service
        self._watchlist = watchlist
        self._cache = cache
        self._settings = settings
        self._clock: Callable[[], datetime] = clock or now_utc
        self._on_exit = on_exit
        self._exited = False
        self._planner = RefreshPlanner(clock=self._clock)
        # Snapshot tests turn this off: a blinking cursor makes screenshots differ.
        self.cursor_blink = True
        self._palette = Palette()
        self._theme_ready = False

        self._watched: list[JobKey] = []
        self._watched_set: set[JobKey] = set()
        self._by_row: dict[str, JobKey] = {}
        self._jobs: dict[JobKey, ExportJob] = {}
        self._job_errors: dict[JobKey, ServiceError] = {}
        self._org_errors: dict[OrgKey, ServiceError] = {}
        # Jobs an organization's error kept from being read in the last refresh: a job the
        # Describe fallback did read is not among them.
        self._org_blocked: set[JobKey] = set()
        self._global_error: ServiceError | None = None
        self._watchlist_error: WatchListError | None = None
        # Keys read from the service in this session (not only from the cache).
        self._fresh: set[JobKey] = set()
        # Who each mailbox is: read from the cache dir, refreshed from the refresh worker.
        self._names = names or NameDirectory(
            locations.names_cache_path(settings.cache_dir), clock=self._clock
        )
        # What the table shows, by (region, organization, entity id): UI thread only.
        self._mailboxes: dict[NameKey, Mailbox] = {}
        self._names_problems_said: set[str] = set()
        # Organizations whose names could not be read, and when to try by itself again.
        self._names_retry_at: dict[OrgKey, datetime] = {}
        self._names_lock = threading.Lock()
        # What the workers have sent the UI thread (under _names_lock): only news is posted.
        self._names_sent: dict[NameKey, Mailbox] = {}
        # Describe-on-select: the keys already described this session (r forgets them).
        self._described: set[JobKey] = set()
        self._describe_timer: Timer | None = None
        self.describe_delay = DESCRIBE_DELAY
        # The organization-wide export: how its worker waits between rounds (tests move an
        # emulator's clock instead), its stop switches, and the last run's "let go" event.
        self.export_wait: ExportWait = wait_or_stop
        self.export_poll_interval = 15.0
        self.export_min_interval = 2.0
        self._export_stops: set[threading.Event] = set()
        self._export_runs: dict[Path, threading.Event] = {}
        # Jobs an organization export started this session: their endings are summarised.
        self._org_export_jobs: set[JobKey] = set()
        self._search: dict[JobKey, str] = {}
        # Per-row caches, so a refresh of a few rows in 10,000 costs a few rows.
        self._row_of: dict[JobKey, str] = {}
        self._sort_keys: dict[JobKey, tuple[Any, ...]] = {}
        self._settled: set[JobKey] = set()
        # The visible rows in order; None when a change may have reordered them.
        self._order: list[str] | None = None
        # The watched jobs last seen running (see `_count`), and the regions of all of them.
        self._running_jobs: set[JobKey] = set()
        self._regions: list[str] = []
        self._unreadable = 0
        self._filter_open = False
        self._initial_selection: JobKey | None = None

        self._refreshing = False
        self._first_refresh_pending = False
        # The collector's thresholds before the app tuned it (see `_settle_heap`).
        self._gc_thresholds: tuple[int, int, int] | None = None
        self._pending_force: set[JobKey] | None = None
        self._refresh_timer: Timer | None = None
        self._last_refresh: datetime | None = None
        self._next_refresh: datetime | None = None
        self._backoff: float | None = None
        self._backoff_reason = ""
        self._refresh_count = 0

        self._cache_lock = threading.Lock()
        # The newest jobs to save and their generation, until a cache writer takes them (a
        # lock of its own: the UI thread must not wait while a writer saves).
        self._snapshot_lock = threading.Lock()
        self._cache_snapshot: tuple[dict[JobKey, ExportJob], int] | None = None
        self._cache_generation = 0
        self._cache_saved_generation = 0
        self._cache_problem_said: str | None = None
        self._cache_saved_at = float("-inf")
        self._cache_timer: Timer | None = None
        super().__init__()

    # ---- layout ------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        return JobsScreen(id="_default")

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
                yield Static(self._empty_text(), id="empty")
            yield DetailPane(id="detail")
        yield Footer()

    @staticmethod
    def _empty_text() -> Text:
        text = Text()
        text.append("No jobs watched yet.\n\n", style="bold")
        text.append("  a  ", style="reverse")
        text.append("  add export jobs by region, organization and job ID\n")
        text.append("  i  ", style="reverse")
        text.append("  import an organization's jobs of the last 7 days\n\n")
        text.append("Or look around first: ")
        text.append("wmtui --demo", style="bold")
        return text

    # ---- start -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        state = load_ui_state(self._settings.config_dir)
        theme = state.get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        self._theme_ready = True
        self._palette = self._palette_from_theme()
        for warning in self._settings.warnings:
            self.notify(sanitize(warning), severity="warning", markup=False, timeout=12)

        self.query_one("#filter", Input).cursor_blink = self.cursor_blink
        self._make_cache_dir()
        watched = self._load_watchlist()
        cached = self._cache.load()
        if self._cache.last_problem:
            self.notify(sanitize(self._cache.last_problem), severity="warning", markup=False)
        if self._watchlist_error is not None:
            # Show what the cache remembers; the unreadable file is left alone.
            watched = sorted(cached)
        self._jobs = {key: cached[key] for key in watched if key in cached}
        self._set_watched(watched)
        self._sync_table(None)
        # Until the first refresh reorders the rows, the cursor is where the app put it.
        self._initial_selection = self.selected_key()
        self._update_banner()
        self._update_status()
        self.query_one(JobTable).focus()
        self.set_interval(1.0, self._tick_status)
        self.set_interval(RELATIVE_TIME_TICK, self._tick_relative_times)
        self._load_cached_names(self._entity_ids())
        # Once the cached table is on screen (the refresh worker imports botocore, which
        # would hold up the first paint), or after a moment whatever happens.
        self._first_refresh_pending = True
        if self._watched:
            table = self.query_one(JobTable)
            table.call_when_painted(self._first_refresh)
            self.set_timer(FIRST_REFRESH_LATEST, self._first_refresh)
        else:
            self._first_refresh()

    def _first_refresh(self) -> None:
        if not self._first_refresh_pending or self._exited:
            return
        self._settle_heap()
        self._start_refresh()

    def _settle_heap(self) -> None:
        """Fit the garbage collector to the app, once its table is loaded.

        - What is loaded by now (the jobs, the table's rows, the widgets) lives as long as the
          app: frozen, full collections no longer walk its half a million objects each time
          (pauses of up to 0.7 s with 10,000 jobs, keys waiting behind them).
        - A screen update makes thousands of short-lived objects (rendered lines and their
          caches). With Python's default young generation of 700, many live just long enough
          to be moved to the old ones, which then need full collections: 25 to 45 ms each,
          during one key press in ten under refreshes (benchmarks/, item 3). With a young
          generation of YOUNG_GENERATION they die young; each young collection walks at most
          that many objects.
        Both are undone when the app ends (tests run many apps in one process).
        """
        if self._gc_thresholds is not None:
            return
        self._gc_thresholds = thresholds = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(max(thresholds[0], YOUNG_GENERATION), *thresholds[1:])

    def _make_cache_dir(self) -> None:
        """Make the cache folder before any worker does: the job cache's and the names
        cache's writers, in two threads, could otherwise race to make it, and
        ensure_private_dir then takes the folder the other just made for a file in the way."""
        cache_dir = self._settings.cache_dir
        if cache_dir.is_dir():
            return
        with contextlib.suppress(OSError):  # a save says what is wrong, once, if it matters
            locations.ensure_private_dir(cache_dir)

    def _load_watchlist(self) -> list[JobKey]:
        try:
            keys = self._watchlist.load()
        except WatchListError as exc:
            self._watchlist_error = exc
            self.refresh_bindings()
            return []
        self._watchlist_error = None
        return list(keys)

    def on_unmount(self) -> None:
        if self._exited:
            return
        self._exited = True
        self._flush_cache()
        if self._gc_thresholds is not None:
            # Collectable again once the app is gone (tests run many apps in one process).
            gc.unfreeze()
            gc.set_threshold(*self._gc_thresholds)
        for stop in self._export_stops:
            stop.set()
        if self._describe_timer is not None:
            self._describe_timer.stop()
        self.workers.cancel_all()
        if self._on_exit is not None:
            self._on_exit()

    # ---- state helpers -------------------------------------------------------------------------

    def _set_watched(self, keys: Iterable[JobKey]) -> None:
        self._watched = list(dict.fromkeys(keys))
        self._watched_set = set(self._watched)
        self._order = None
        self._row_of = {key: self._row_of.get(key) or str(key) for key in self._watched}
        self._by_row = {row: key for key, row in self._row_of.items()}
        mappings: list[dict[JobKey, Any]] = [
            self._jobs,
            self._job_errors,
            self._search,
            self._sort_keys,
        ]
        for mapping in mappings:
            for stale in [key for key in mapping if key not in self._watched_set]:
                del mapping[stale]
        self._fresh &= self._watched_set
        self._org_blocked &= self._watched_set
        self._running_jobs &= self._watched_set
        self._regions = sorted({key.region for key in self._watched})

    def selected_key(self) -> JobKey | None:
        """The job under the cursor, if any."""
        row = self.query_one(JobTable).selected_key
        return self._by_row.get(row) if row is not None else None

    @property
    def jobs(self) -> dict[JobKey, ExportJob]:
        """Last-known records of the watched jobs (a copy)."""
        return dict(self._jobs)

    @property
    def watched(self) -> list[JobKey]:
        return list(self._watched)

    @property
    def names(self) -> NameDirectory:
        return self._names

    def set_mailbox_names(self, names: Mapping[NameKey, Mailbox | str]) -> None:
        """Show names instead of EntityIds: (region, organization, entity id) -> who."""
        self._mailboxes.update(
            {
                triple: who if isinstance(who, Mailbox) else Mailbox(triple[2], display_name=who)
                for triple, who in names.items()
            }
        )
        self._search.clear()
        self._sync_table(None)

    def _mailbox_for(self, key: JobKey, job: ExportJob | None) -> Mailbox | None:
        if job is None or not job.entity_id or not self._mailboxes:
            return None
        return self._mailboxes.get((key.region, key.organization_id, job.entity_id))

    def _name_for(self, key: JobKey, job: ExportJob | None) -> str | None:
        mailbox = self._mailbox_for(key, job)
        return mailbox.label if mailbox is not None else None

    def _entity_ids(self) -> dict[OrgKey, set[str]]:
        """The watched jobs' mailboxes, by organization (what names are wanted for)."""
        wanted: dict[OrgKey, set[str]] = {}
        for key in self._watched:
            job = self._jobs.get(key)
            if job is not None and job.entity_id:
                wanted.setdefault((key.region, key.organization_id), set()).add(job.entity_id)
        return wanted

    def _error_for(self, key: JobKey) -> ServiceError | None:
        """Why the job could not be read, if it could not."""
        return self._error_given(key, self._jobs.get(key))

    def _error_given(self, key: JobKey, job: ExportJob | None) -> ServiceError | None:
        """Its own error, else its organization's when that kept it from being read."""
        if self._job_errors:
            error = self._job_errors.get(key)
            if error is not None:
                return error
        if not self._org_blocked or key not in self._org_blocked:
            return None
        return self._org_errors.get((key.region, key.organization_id))

    def _count(self, dirty: Collection[JobKey] | None) -> None:
        """Running and unreadable jobs, for the status line (kept, not counted every second).

        Every change to a job's record is synced with that job among `dirty` (None: all), and
        a job that is no longer watched leaves `_running_jobs` in `_set_watched`."""
        jobs = self._jobs
        if dirty is None:
            dirty = jobs.keys()
            self._running_jobs.clear()
        running = self._running_jobs
        for key in dirty:
            job = jobs.get(key)
            if job is not None and job.state is JobState.RUNNING:
                running.add(key)
            else:
                running.discard(key)
        self._unreadable = len(self._job_errors) + len(self._org_blocked - set(self._job_errors))

    # ---- the table -----------------------------------------------------------------------------

    def _palette_from_theme(self) -> Palette:
        variables = self.get_css_variables()

        def color(name: str, fallback: Style) -> Style:
            try:
                return Style(color=Color.parse(variables[name]).rich_color)
            except Exception:  # a theme without the variable keeps the plain colour
                return fallback

        base = Palette()
        try:
            track = Style(bgcolor=Color.parse(variables["panel"]).rich_color)
        except Exception:  # same: a theme without a panel colour
            track = base.track
        return Palette(
            success=color("success", base.success),
            error=color("error", base.error),
            warning=color("warning", base.warning),
            accent=color("accent", base.accent),
            muted=base.muted,
            bold=base.bold,
            track=track,
        )

    def _row_cells(self, row_key: str) -> RowCells:
        key = self._by_row[row_key]
        job = self._jobs.get(key)
        now = self._clock()
        palette = self._palette
        state = job.state if job is not None else JobState.UNKNOWN
        times = self._times(job, now)
        job_id = key.job_id
        if not (job_id.isascii() and job_id.isprintable() and len(job_id) <= 64):
            job_id = cell_text(job_id, limit=64).plain
        return (
            # Carries its row key: the table needs no copy of the cell to sort by it.
            JobIdCell(job_id, row_key),
            mailbox_label(job, self._mailbox_for(key, job)),
            state_cell(job, self._error_given(key, job), palette),
            progress_cell(job.progress if job is not None else None, palette, state),
            Text(times[0]),
            Text(times[1]),
            cell_text(job.description if job is not None else None, limit=DESCRIPTION_WIDTH),
        )

    @staticmethod
    def _times(job: ExportJob | None, now: datetime) -> tuple[str, str]:
        """The two columns that change with the clock alone: started, duration or ETA."""
        return (
            relative_time(job.start_time if job is not None else None, now),
            duration_or_eta(job, now),
        )

    def _search_text(self, key: JobKey) -> str:
        text = self._search.get(key)
        if text is None:
            job = self._jobs.get(key)
            text = search_text(job, key, self._mailbox_for(key, job))
            self._search[key] = text
        return text

    def _sort_key(self, key: JobKey) -> tuple[Any, ...]:
        job = self._jobs.get(key)
        started = job.start_time.timestamp() if job is not None and job.start_time else None
        # Jobs not read yet (just added) come first: that is where the user looks.
        newest_first = (0, 0.0) if started is None else (1, -started)
        if self.sort_mode is SortMode.STATE:
            rank = -1 if self._error_given(key, job) is not None else 1
            if job is not None and job.last_seen is not None:
                rank = _STATE_ORDER[job.state]
            return (rank, *newest_first, str(key))
        if self.sort_mode is SortMode.PROGRESS:
            progress = job.progress if job is not None else None
            return (progress is None, -(progress or 0), *newest_first, str(key))
        return (*newest_first, str(key))

    def _cached_sort_key(self, key: JobKey) -> tuple[Any, ...]:
        value = self._sort_keys.get(key)
        if value is None:
            value = self._sort_keys[key] = self._sort_key(key)
        return value

    def _visible_order(self) -> list[str]:
        keys: Iterable[JobKey] = self._watched
        words = self.filter_text.casefold().split()
        if words:
            keys = [k for k in keys if all(word in self._search_text(k) for word in words)]
        row_of = self._row_of
        return [row_of[key] for key in sorted(keys, key=self._cached_sort_key)]

    def _sync_table(
        self, dirty: Collection[JobKey] | None, settled: Collection[JobKey] = ()
    ) -> None:
        """Show the watched jobs; `dirty` names the rows that may have changed (None: all),
        `settled` those of them whose place in the order cannot have changed."""
        table = self.query_one(JobTable)
        if dirty is None:
            self._search.clear()
            self._sort_keys.clear()
            self._order = None
            rows = None
        else:
            filtering = bool(self.filter_text.strip())
            for key in dirty:
                self._search.pop(key, None)
                if key in settled:
                    continue
                before = self._sort_keys.pop(key, None)
                # Re-sort only when a changed row would move (or may now match the filter).
                if self._order is not None and (
                    filtering or before is None or before != self._cached_sort_key(key)
                ):
                    self._order = None
            rows = {self._row_of[key] for key in dirty if key in self._row_of}
        if self._order is None:
            self._order = self._visible_order()
        table.sync(self._order, self._row_cells, rows)
        self._count(dirty)
        nothing_watched = not self._watched
        table.display = not nothing_watched
        self.query_one("#empty", Static).display = nothing_watched
        self.query_one(DetailPane).display = not nothing_watched
        self._update_detail()

    def _tick_relative_times(self) -> None:
        """Redraw "3h ago" and "ETA 12m" as the clock moves: the table builds the rows on
        screen again when it paints them, and only cells that read differently change."""
        if not self._widgets_alive():
            return
        self.query_one(JobTable).invalidate()
        self._update_detail()
        self._update_status()

    def _tick_status(self) -> None:
        if self._widgets_alive():
            self._update_status()

    def _widgets_alive(self) -> bool:
        """False while the app shuts down: timers may still fire after the widgets are gone."""
        return not self._exited and bool(self.screen_stack) and bool(self.query(StatusLine))

    def _update_detail(self) -> None:
        pane = self.query_one(DetailPane)
        key = self.selected_key()
        if key is None:
            pane.show(None, self._clock(), self._palette)
            return
        job = self._jobs.get(key)
        view = JobView(
            key=key,
            job=job,
            error=self._job_errors.get(key),
            org_error=(
                self._org_errors.get((key.region, key.organization_id))
                if key in self._org_blocked
                else None
            ),
            mailbox=self._mailbox_for(key, job),
            from_cache=key not in self._fresh,
            offline=self._global_error is not None,
        )
        pane.show(view, self._clock(), self._palette)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._update_detail()
        self._schedule_describe()

    # ---- status line and banner --------------------------------------------------------------

    def _target(self) -> str:
        try:
            return str(self._service.target)
        except Exception:  # a status line must never take the app down
            return "?"

    def _update_status(self) -> None:
        regions = self._regions or [self._settings.region or "no region set"]
        info = StatusInfo(
            target=self._target(),
            regions=regions,
            jobs=len(self._watched),
            running=len(self._running_jobs),
            shown=self.query_one(JobTable).row_count if self._watched else 0,
            last_refresh=self._last_refresh,
            next_refresh=self._next_refresh,
            refreshing=self._refreshing,
            paused=self.paused,
            backoff=self._backoff,
            backoff_reason=self._backoff_reason,
            unreadable=self._unreadable,
            sort_label=self.sort_mode.label,
            filter_text=self.filter_text,
            now=self._clock(),
        )
        self.query_one(StatusLine).show(render_status(info, self._palette))

    def _update_banner(self) -> None:
        parts: list[Text] = []
        error = self._watchlist_error
        if error is not None:
            text = Text("✖ The watch list cannot be used: ", style="bold")
            text.append(safe_text(error.problem, single_line=False))
            text.append("\n  File: ")
            text.append(safe_text(str(error.path)))
            if error.fix:
                text.append("\n  Fix: ")
                text.append(safe_text(error.fix, single_line=False))
            if error.can_move_aside:
                text.append("\n  Press ")
                text.append("M", style="bold reverse")
                text.append(" to move it aside (it is kept as a backup) and start a new one.")
            text.append("\n  Showing the jobs from the cache; nothing is written to that file.")
            parts.append(text)
        problem = self._global_error
        if problem is not None:
            text = Text("✖ ", style="bold")
            text.append(safe_text(problem.message, style="bold", single_line=False))
            if problem.fix:
                text.append("\n  Fix: ")
                text.append(safe_text(problem.fix, single_line=False))
            when = relative_time(self._last_refresh, self._clock()) if self._last_refresh else "now"
            text.append(
                f"\n  The jobs below are the last known states (from cache). Tried {when};"
                " trying again by itself, or press r."
            )
            parts.append(text)
        banner = self.query_one(Banner)
        banner.show_problem(Text("\n").join(parts) if parts else None)

    # ---- refresh -------------------------------------------------------------------------------

    @property
    def refreshing(self) -> bool:
        """A refresh is running, or the first one waits for the first paint."""
        return self._refreshing or self._first_refresh_pending

    def _start_refresh(self, force: Collection[JobKey] = ()) -> None:
        """Start a refresh now, or right after the one running (never two at once)."""
        self._first_refresh_pending = False
        if self._refreshing:
            self._pending_force = (self._pending_force or set()) | set(force)
            return
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
            self._refresh_timer = None
        self._next_refresh = None
        if not self._watched:
            self._update_status()
            return
        self._refreshing = True
        self._update_status()
        self._run_refresh(tuple(self._watched), dict(self._jobs), frozenset(force))

    # An explicit description: Textual would otherwise repr() every argument (10,000 jobs).
    @work(
        thread=True,
        exclusive=True,
        group="refresh",
        exit_on_error=False,
        description="refresh the watched jobs",
    )
    def _run_refresh(
        self,
        watched: tuple[JobKey, ...],
        known: dict[JobKey, ExportJob],
        force: frozenset[JobKey],
    ) -> None:
        worker = get_current_worker()
        try:
            result = self._planner.refresh(
                self._service, watched, known, force, is_cancelled=lambda: worker.is_cancelled
            )
        except Exception as exc:  # the planner never raises; this guards the UI all the same
            result = RefreshResult(
                global_error=ServiceError(
                    ErrorKind.OTHER, f"The refresh failed: {type(exc).__name__}: {exc}"
                ),
                finished_at=self._clock(),
            )
        if worker.is_cancelled:
            return
        self.post_message(RefreshFinished(result, force))
        if result.global_error is not None or result.cancelled:
            return  # nothing can be read now: names neither
        # Then who the mailboxes are: after the states, so names never hold them up.
        jobs = {**known, **result.jobs}
        wanted: dict[OrgKey, set[str]] = {}
        for key in watched:
            job = jobs.get(key)
            if job is not None and job.entity_id:
                wanted.setdefault((key.region, key.organization_id), set()).add(job.entity_id)
        learned = self._learn_names(
            wanted, skip=set(result.org_errors), is_cancelled=lambda: worker.is_cancelled
        )
        if learned is not None:
            # Even when cancelled: what it learned is marked as sent.
            self.post_message(learned)

    # ---- names ---------------------------------------------------------------------------------

    def _learn_names(
        self,
        wanted: Mapping[OrgKey, Collection[str]],
        *,
        skip: Collection[OrgKey] = (),
        is_cancelled: Callable[[], bool] = lambda: False,
        force: OrgKey | None = None,
    ) -> NamesLearned | None:
        """From a worker thread: list each organization's mailboxes when the directory is
        stale (or `force`), Describe the ones it does not know. Never raises."""
        names = self._names
        problems: list[str] = []
        for org, entity_ids in wanted.items():
            if is_cancelled():
                return None
            now = self._clock()
            with self._names_lock:
                retry_at = self._names_retry_at.get(org)
            if org != force and (org in skip or (retry_at is not None and now < retry_at)):
                continue
            region, organization_id = org
            try:
                if org == force or not names.is_fresh(region, organization_id):
                    names.refresh_org(self._service, region, organization_id, force=org == force)
                missing = [
                    e for e in entity_ids if names.lookup(region, organization_id, e) is None
                ]
                if missing:
                    names.resolve_missing(self._service, region, organization_id, missing)
            except Exception as exc:  # names are a nicety: they never fail a refresh
                transient = isinstance(exc, ServiceError) and exc.kind.is_transient
                wait = timedelta(minutes=5) if transient else NAMES_RETRY_AFTER
                with self._names_lock:
                    self._names_retry_at[org] = now + wait
                detail = (
                    str(exc) if isinstance(exc, ServiceError) else f"{type(exc).__name__}: {exc}"
                )
                problems.append(
                    f"Mailbox names of {organization_id} could not be read: {detail}."
                    " Showing mailbox IDs; N tries again."
                )
            else:
                with self._names_lock:
                    self._names_retry_at.pop(org, None)
        if names.last_problem:
            problems.append(names.last_problem)
        news = self._new_names(self._known_names(wanted))
        if not news and not problems and force is None:
            return None  # the usual round: nothing new, nothing for the UI thread to do
        return NamesLearned(news, tuple(problems), requested=force)

    def _new_names(self, found: Mapping[NameKey, Mailbox]) -> dict[NameKey, Mailbox]:
        """What the UI has not been sent yet (workers only; the UI keeps what it was sent)."""
        with self._names_lock:
            news = {k: m for k, m in found.items() if self._names_sent.get(k) != m}
            self._names_sent.update(news)
        return news

    def _known_names(self, wanted: Mapping[OrgKey, Collection[str]]) -> dict[NameKey, Mailbox]:
        found: dict[NameKey, Mailbox] = {}
        for (region, organization_id), entity_ids in wanted.items():
            for entity_id in entity_ids:
                mailbox = self._names.lookup(region, organization_id, entity_id)
                if mailbox is not None:
                    found[(region, organization_id, entity_id)] = mailbox
        return found

    @work(thread=True, group="names-cache", exit_on_error=False, description="read names cache")
    def _load_cached_names(self, wanted: dict[OrgKey, set[str]]) -> None:
        # Names from the cache file show before the first call answers.
        try:
            found = self._known_names(wanted)
        except Exception as exc:  # the cache is disposable
            self.post_message(NamesLearned({}, (f"The names cache could not be read: {exc}",)))
            return
        problem = self._names.last_problem
        news = self._new_names(found)
        if news or problem:
            self.post_message(NamesLearned(news, (problem,) if problem else ()))

    @work(thread=True, exclusive=True, group="names", exit_on_error=False, description="names")
    def _reload_names(self, org: OrgKey, entity_ids: set[str]) -> None:
        learned = self._learn_names({org: entity_ids}, force=org)
        if learned is not None:
            self.post_message(learned)

    def on_names_learned(self, message: NamesLearned) -> None:
        if not self._widgets_alive():
            return
        changed = {
            triple: mailbox
            for triple, mailbox in message.names.items()
            if self._mailboxes.get(triple) != mailbox
        }
        if changed:
            self._mailboxes.update(changed)
            dirty = [
                key
                for key in self._watched
                if (job := self._jobs.get(key)) is not None
                and job.entity_id
                and (key.region, key.organization_id, job.entity_id) in changed
            ]
            if dirty:
                self._sync_table(dirty)
        for problem in message.problems:
            # Said once: a listing refused is refused the same way every round.
            if problem not in self._names_problems_said:
                self._names_problems_said.add(problem)
                self.notify(sanitize(problem, limit=400), severity="warning", markup=False)
        if message.requested is not None and not message.problems:
            region, organization_id = message.requested
            count = len(self._names.mailboxes(region, organization_id))
            self.notify(
                f"Read the mailbox names of {sanitize(organization_id)} again:"
                f" {count} mailboxes known.",
                markup=False,
            )

    # ---- describe on select --------------------------------------------------------------------

    def _schedule_describe(self) -> None:
        """Once the cursor rests on a job List alone has read, Describe it (once a session)."""
        if self._describe_timer is not None:
            self._describe_timer.stop()
            self._describe_timer = None
        key = self.selected_key()
        if key is None or key in self._described:
            return
        job = self._jobs.get(key)
        if job is None or job.described or job.last_seen is None:
            return
        if self.describe_delay <= 0:
            # No debounce (screenshots): the same picture every time.
            self._describe_selected(key)
            return
        self._describe_timer = self.set_timer(
            self.describe_delay, partial(self._describe_selected, key)
        )

    def _describe_selected(self, key: JobKey) -> None:
        self._describe_timer = None
        if self._exited or self.selected_key() != key or key in self._described:
            return
        self._described.add(key)
        self._run_describe(key)

    @work(thread=True, group="describe", exit_on_error=False, description="describe a job")
    def _run_describe(self, key: JobKey) -> None:
        try:
            message = JobDescribed(key, job=self._service.describe_job(key))
        except ServiceError as exc:
            message = JobDescribed(key, error=exc)
        except Exception as exc:  # quietly: the refresh reports what is really wrong
            message = JobDescribed(key, error=ServiceError(ErrorKind.OTHER, str(exc)))
        self.post_message(message)

    def on_job_described(self, message: JobDescribed) -> None:
        key, described = message.key, message.job
        if described is None or key not in self._watched_set or not self._widgets_alive():
            return
        old = self._jobs.get(key)
        job = old.merged_with(described) if old is not None else described
        if job == old:
            return
        self._jobs[key] = job
        self._fresh.add(key)
        self._sync_table([key])
        if (
            old is not None
            and not old.state.is_final
            and job.state in (JobState.COMPLETED, JobState.FAILED)
        ):
            self._announce(job)
        # Not saved on its own: the next save (any refresh that changes something) carries it,
        # and a lost one costs one Describe next session.

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "refresh" and event.state is WorkerState.ERROR and self._refreshing:
            # Only reachable through a bug: report it and keep polling.
            error = worker.error
            failed = RefreshResult(
                global_error=ServiceError(
                    ErrorKind.OTHER, f"The refresh failed: {type(error).__name__}: {error}"
                ),
                finished_at=self._clock(),
            )
            self.post_message(RefreshFinished(failed))

    def on_refresh_finished(self, message: RefreshFinished) -> None:
        result = message.result
        self._refreshing = False
        if not self._widgets_alive():
            return
        self._refresh_count += 1
        changed, transitions = self._merge(result)
        self._sync_table(changed, self._settled)
        initial, self._initial_selection = self._initial_selection, None
        if initial is not None and initial == self.selected_key():
            # Nobody moved the cursor yet: start at the top of the sorted table.
            self.query_one(JobTable).move_cursor(row=0, animate=False)
        self._update_banner()
        self._update_status()
        self._announce_all(transitions)
        if changed:
            self._save_cache()
        # A job under the cursor that the refresh has just read from a list: fill it in.
        self._schedule_describe()
        pending = self._pending_force
        self._pending_force = None
        if pending is not None:
            self._start_refresh(pending)
        else:
            self._schedule_next()

    def _merge(self, result: RefreshResult) -> tuple[set[JobKey], list[ExportJob]]:
        """Fold a result into the app's state; returns the keys whose rows may have changed
        and the jobs that just finished. A watched job is never dropped."""
        watched = self._watched_set
        changed: set[JobKey] = set()
        finished: list[ExportJob] = []
        # Changed jobs that keep their place in the order (see `_sort_key`): most refreshes
        # only move running jobs' progress on, and re-sorting 10,000 rows is not free.
        by_progress = self.sort_mode is SortMode.PROGRESS
        settled: set[JobKey] = set()
        self._settled = settled
        row_of = self._row_of
        by_row = self._by_row
        for read_key, job in result.jobs.items():
            row = row_of.get(read_key)
            if row is None:
                continue  # removed while the refresh ran
            # The app's own key object: the look-ups below then match it without comparing.
            key = by_row[row]
            old = self._jobs.get(key)
            if old != job:
                changed.add(key)
                if (
                    old is not None
                    and old.state is job.state
                    and old.start_time == job.start_time
                    and (old.last_seen is None) == (job.last_seen is None)
                    and (not by_progress or old.progress == job.progress)
                    and key not in self._job_errors
                ):
                    settled.add(key)
                if (
                    old is not None
                    and key in self._fresh
                    and not old.state.is_final
                    and job.state in (JobState.COMPLETED, JobState.FAILED)
                ):
                    finished.append(job)
                self._jobs[key] = job
            self._fresh.add(key)
            if self._job_errors.pop(key, None) is not None:
                changed.add(key)
        for key, error in result.job_errors.items():
            if key in watched:
                self._job_errors[key] = error
                changed.add(key)
                settled.discard(key)
        touched_orgs = set(self._org_errors) | set(result.org_errors)
        self._org_errors = dict(result.org_errors)
        blocked: set[JobKey] = set()
        if touched_orgs:
            for k in self._watched:
                org = (k.region, k.organization_id)
                if org not in touched_orgs:
                    continue
                changed.add(k)
                settled.discard(k)
                known = self._jobs.get(k)
                if (
                    org in self._org_errors
                    and k not in result.jobs
                    and (known is None or not known.state.is_final)
                ):
                    blocked.add(k)
        self._org_blocked = blocked
        self._global_error = result.global_error
        if not result.cancelled:
            self._last_refresh = result.finished_at
        self._set_backoff(result)
        return changed, finished

    def _set_backoff(self, result: RefreshResult) -> None:
        transient = [
            error
            for error in (result.global_error, *result.org_errors.values())
            if error is not None and error.kind.is_transient
        ]
        if not transient:
            self._backoff = None
            self._backoff_reason = ""
            return
        base = self._backoff if self._backoff is not None else self._settings.interval
        self._backoff = min(base * 2, MAX_BACKOFF_SECONDS)
        self._backoff_reason = transient[0].kind.value.replace("-", " ")

    def _schedule_next(self) -> None:
        if self.paused or not self._watched:
            self._next_refresh = None
            self._update_status()
            return
        delay = self._backoff if self._backoff is not None else self._settings.interval
        self._next_refresh = self._clock() + timedelta(seconds=delay)
        self._refresh_timer = self.set_timer(delay, self._on_refresh_timer)
        self._update_status()

    def _on_refresh_timer(self) -> None:
        self._refresh_timer = None
        if not self.paused:
            self._start_refresh()

    def _announce_all(self, finished: Sequence[ExportJob]) -> None:
        """Tell what a refresh saw finish: a notice (and bell) per job, except the jobs an
        organization export started, which share one summary and one bell."""
        from_exports = [job for job in finished if job.key in self._org_export_jobs]
        for job in finished:
            if job.key not in self._org_export_jobs:
                self._announce(job)
        if from_exports:
            self._announce_summary(from_exports)
            if self._settings.bell:
                self.bell()

    def _announce_summary(self, jobs: Sequence[ExportJob]) -> None:
        """'12 exports completed, 1 failed: Carol Danvers' for an organization export's jobs."""
        completed = sum(1 for job in jobs if job.state is JobState.COMPLETED)
        failed = [job for job in jobs if job.state is not JobState.COMPLETED]
        parts: list[str] = []
        if completed:
            parts.append(f"{completed} export{'s' if completed != 1 else ''} completed")
        if failed:
            who = [self._name_for(job.key, job) or job.entity_id or "?" for job in failed]
            shown = ", ".join(who[:SUMMARY_NAMES])
            if len(who) > SUMMARY_NAMES:
                shown += f" and {len(who) - SUMMARY_NAMES} more"
            noun = "" if completed else f" export{'s' if len(failed) != 1 else ''}"
            parts.append(f"{len(failed)}{noun} failed: {shown}")
        self.notify(
            sanitize(", ".join(parts), limit=300),
            title="Organization export",
            severity="error" if failed else "information",
            markup=False,
            timeout=12,
        )

    def _announce(self, job: ExportJob) -> None:
        key = job.key
        who = self._name_for(key, job) or job.entity_id or "?"
        if job.state is JobState.COMPLETED:
            message = f"Export completed: {who} (job {key.job_id})"
            severity = "information"
        else:
            message = f"Export FAILED: {who} (job {key.job_id})"
            if job.error_info:
                message += f": {job.error_info}"
            severity = "error"
        self.notify(
            sanitize(message, limit=300),
            severity=severity,  # type: ignore[arg-type]
            markup=False,
            timeout=12,
        )
        if self._settings.bell:
            self.bell()

    def _save_cache(self) -> None:
        """Save the jobs now, or, when the last save is recent, once CACHE_SAVE_INTERVAL is up.

        A save of 10,000 jobs after every refresh would compete with the UI thread for the
        interpreter each time; the cache only has to be close, and is written at exit."""
        self._cache_generation += 1
        wait = self._cache_saved_at + CACHE_SAVE_INTERVAL - time.monotonic()
        if wait > 0:
            if self._cache_timer is None:
                self._cache_timer = self.set_timer(wait, self._save_cache_now)
            return
        self._save_cache_now()

    def _save_cache_now(self) -> None:
        self._cache_timer = None
        if self._exited:
            return
        self._cache_saved_at = time.monotonic()
        # Handed over through an attribute, not the worker's arguments: a finished worker
        # keeps its arguments until the garbage collector gets to it, and a snapshot of
        # 10,000 jobs would stay with it, for every full collection to walk.
        with self._snapshot_lock:
            self._cache_snapshot = (dict(self._jobs), self._cache_generation)
        self._write_cache()

    def _flush_cache(self) -> None:
        """At exit: the save a timer was still holding back, written before the app ends."""
        if self._cache_timer is None:
            return
        self._cache_timer.stop()
        self._cache_timer = None
        with self._cache_lock:
            try:
                self._cache.save(dict(self._jobs))
            except Exception:  # the cache is disposable; an exit must not fail for it
                return
            self._cache_saved_generation = self._cache_generation

    @work(thread=True, group="cache", exit_on_error=False, description="save the job cache")
    def _write_cache(self) -> None:
        with self._snapshot_lock:
            snapshot, self._cache_snapshot = self._cache_snapshot, None
        if snapshot is None:
            return  # an earlier writer took the newest one
        jobs, generation = snapshot
        del snapshot
        with self._cache_lock:
            # A newer snapshot already written: this one would put old states back.
            if generation < self._cache_saved_generation:
                return
            try:
                saved = self._cache.save(jobs)
                problem = None if saved else self._cache.last_problem
            except Exception as exc:  # the cache is disposable; losing it must not go unsaid
                problem = f"Could not save the job cache: {type(exc).__name__}: {exc}"
            self._cache_saved_generation = generation
        if problem:
            self.post_message(CacheProblem(problem))

    # ---- reactive state ------------------------------------------------------------------------

    def watch_paused(self, paused: bool) -> None:
        if paused:
            if self._refresh_timer is not None:
                self._refresh_timer.stop()
                self._refresh_timer = None
            self._next_refresh = None
            self.notify("Auto-refresh paused (p resumes; r still refreshes).", markup=False)
        else:
            self.notify("Auto-refresh resumed.", markup=False)
            self._start_refresh()
        self._update_status()

    def watch_sort_mode(self, mode: SortMode) -> None:
        self._sort_keys.clear()
        self._order = None
        self._sync_table(())
        self._update_status()

    def watch_filter_text(self, text: str) -> None:
        self._order = None
        self._sync_table(())
        self._update_status()

    def watch_theme(self, theme: str) -> None:
        if not self._theme_ready:
            return
        self._palette = self._palette_from_theme()
        self._sync_table(None)
        self._update_status()
        state = load_ui_state(self._settings.config_dir)
        state["theme"] = theme
        if not save_ui_state(self._settings.config_dir, state):
            self.notify("Could not save the theme choice.", severity="warning", markup=False)

    # ---- actions -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in WRITE_ACTIONS and self._settings.read_only:
            return False  # hidden from the footer and help; the palette says why
        if action == "move_watchlist_aside":
            return self._watchlist_error is not None and self._watchlist_error.can_move_aside
        if action == "clear_filter":
            return bool(self.filter_text) or self._filter_open
        return True

    def action_focus_detail(self) -> None:
        if self.selected_key() is not None:
            self.query_one(DetailPane).focus()

    def action_focus_table(self) -> None:
        self.query_one(JobTable).focus()

    def action_refresh(self) -> None:
        force = {
            key
            for key in self._watched
            if (job := self._jobs.get(key)) is None or not job.state.is_final
        }
        selected = self.selected_key()
        if selected is not None:
            force.add(selected)
        if not self._watched:
            self.notify("Nothing to refresh: no jobs watched yet (a adds some).", markup=False)
            return
        # r asks again: the job under the cursor may be described once more.
        self._described.clear()
        self._start_refresh(force)

    def action_yank(self) -> None:
        key = self.selected_key()
        if key is None:
            self.notify("No job selected.", severity="warning", markup=False)
            return
        job = self._jobs.get(key)
        uri = job.s3_uri if job is not None else None
        if not uri and job is not None and job.s3_path:
            # The service gave a path, but not one that is safe to paste into a shell.
            self.notify(
                f"Not copied: the S3 path of job {sanitize(key.job_id)} holds characters an S3"
                f" path may not hold, so it is not safe to paste: {sanitize(job.s3_path)}"
                f" (bucket {sanitize(job.s3_bucket_name or '?')})",
                severity="error",
                markup=False,
                timeout=12,
            )
            return
        if not uri:
            state = job.state.value if job is not None and job.last_seen else "not read yet"
            self.notify(
                f"Job {sanitize(key.job_id)} has no S3 path yet ({state}): nothing to copy.",
                severity="warning",
                markup=False,
            )
            return
        self._run_yank(uri, key)

    @work(thread=True, group="yank", exit_on_error=False, description="yank an S3 URI")
    def _run_yank(self, uri: str, key: JobKey) -> None:
        # tmux and clipboard tools are subprocesses: a stuck one must not freeze the UI.
        report = yank(uri, osc52=self._osc52_from_thread, mode=self._settings.clipboard)
        self.post_message(YankFinished(report, key))

    def _osc52_from_thread(self, text: str) -> None:
        self.call_from_thread(self.copy_to_clipboard, text)

    def on_cache_problem(self, message: CacheProblem) -> None:
        # Said once per problem: a cache that cannot be written fails the same way every tick.
        if message.problem != self._cache_problem_said:
            self._cache_problem_said = message.problem
            self.notify(sanitize(message.problem), severity="warning", markup=False, timeout=12)

    def on_yank_finished(self, message: YankFinished) -> None:
        report = message.report
        text = report.message
        if report.text.startswith("https://"):
            expiry = short_span(self._presign_expiry())
            text = f"Download URL (presigned, valid for {expiry}). {text}"
        self.notify(text, severity=report.severity, markup=False, timeout=_NOTIFY_TIMEOUT)

    # ---- Y: a presigned download URL -----------------------------------------------------------

    def _presign_expiry(self) -> int:
        return int(getattr(self._settings, "presign_expiry", 3600) or 3600)

    def action_yank_download_url(self) -> None:
        key = self.selected_key()
        if key is None:
            self.notify("No job selected.", severity="warning", markup=False)
            return
        job = self._jobs.get(key)
        job_id = sanitize(key.job_id)
        why_not: str | None = None
        if job is None or job.last_seen is None:
            why_not = f"Job {job_id} has not been read yet: nothing to download."
        elif job.state is JobState.RUNNING:
            progress = f" ({job.progress}%)" if job.progress is not None else ""
            why_not = (
                f"Job {job_id} is still RUNNING{progress}: its export file can be downloaded"
                " once it is COMPLETED."
            )
        elif job.state is JobState.FAILED:
            why_not = f"Job {job_id} FAILED: it wrote no export file to download."
        elif job.state is JobState.CANCELLED:
            why_not = f"Job {job_id} was CANCELLED: there is no complete export file."
        elif job.state is not JobState.COMPLETED:
            why_not = f"Job {job_id} is not COMPLETED: nothing to download."
        elif not job.s3_uri:
            why_not = f"Job {job_id} has no usable S3 path: no URL can be made."
        if why_not is not None or job is None:
            self.notify(why_not or "", severity="warning", markup=False)
            return
        self._run_presign(job)

    @work(thread=True, group="yank", exit_on_error=False, description="presign a download URL")
    def _run_presign(self, job: ExportJob) -> None:
        # Signed locally, but the first call builds an S3 client: not on the UI thread.
        try:
            url = self._service.presign_url(job, self._presign_expiry())
        except ServiceError as exc:
            self.post_message(DownloadUrlFailed(job.key, str(exc)))
            return
        except Exception as exc:  # a backend without presigning, or a bug: said, not raised
            self.post_message(DownloadUrlFailed(job.key, f"{type(exc).__name__}: {exc}"))
            return
        problem = https_url_problem(url)
        if problem is not None:
            self.post_message(DownloadUrlFailed(job.key, problem))
            return
        report = yank(url, osc52=self._osc52_from_thread, mode=self._settings.clipboard)
        self.post_message(YankFinished(report, job.key))

    def on_download_url_failed(self, message: DownloadUrlFailed) -> None:
        self.notify(
            f"No download URL for job {sanitize(message.key.job_id)}: "
            + sanitize(message.problem, limit=400),
            severity="error",
            markup=False,
            timeout=12,
        )

    def action_add(self) -> None:
        selected = self.selected_key()
        region = selected.region if selected else (self._settings.region or DEFAULT_REGION)
        screen = AddJobsScreen(
            region=region,
            organization_id=selected.organization_id if selected else "",
            endpoint_url=self._settings.endpoint_url,
            watched=self._watched_set,
            cursor_blink=self.cursor_blink,
        )
        self.push_screen(screen, self._added)

    def _added(self, keys: tuple[JobKey, ...] | None) -> None:
        if keys:
            self.watch_jobs(keys)

    # ---- n: start one export ------------------------------------------------------------------

    def _where_to_start(self) -> tuple[str, str]:
        """(region, organization) a form opens with: the selected job's, else the last used."""
        selected = self.selected_key()
        if selected is not None:
            return selected.region, selected.organization_id
        last = last_organization(self._settings.config_dir)
        if last is not None:
            return last
        return self._settings.region or DEFAULT_REGION, ""

    def _destination_for(self, organization_id: str) -> Destination | None:
        return remembered_destination(self._settings.config_dir, organization_id)

    def _mailboxes_of(self, region: str, organization_id: str) -> list[Mailbox]:
        """From a worker: the organization's mailboxes, listed again only when stale."""
        mailboxes = self._names.refresh_org(self._service, region, organization_id)
        return list(mailboxes.values())

    def _mailbox_count(self, region: str, organization_id: str) -> int | None:
        known = self._names.mailboxes(region, organization_id)
        return sum(1 for m in known.values() if (m.state or "ENABLED") == "ENABLED") or None

    def _refuse_read_only(self, action: str) -> None:
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

    def action_start_export(self, initial: StartPlan | None = None) -> None:
        if self._settings.read_only:
            self._refuse_read_only("start_export")
            return
        region, organization_id = self._where_to_start()
        screen = StartExportScreen(
            region=region,
            organization_id=organization_id,
            list_mailboxes=self._mailboxes_of,
            destination_for=self._destination_for,
            endpoint_url=self._settings.endpoint_url,
            initial=initial,
            cursor_blink=self.cursor_blink,
        )
        self.push_screen(screen, self._start_planned)

    def _start_planned(self, plan: StartPlan | None) -> None:
        if plan is None:
            return
        request = plan.request
        summary = Text()

        def line(label: str, value: Text | str) -> None:
            summary.append(f"{label:<14}", style="dim")
            summary.append(value if isinstance(value, Text) else safe_text(value))
            summary.append("\n")

        who = safe_text(plan.label, style="bold")
        if plan.mailbox.email:
            who.append("  ")
            who.append(safe_text(plan.mailbox.email))
        line("Mailbox", who)
        if plan.mailbox.entity_id != plan.label:
            line("Entity ID", plan.mailbox.entity_id)
        line("Organization", f"{plan.organization_id} ({plan.region})")
        line("Goes to", f"s3://{request.s3_bucket_name}/{request.s3_prefix}")
        line("Role ARN", request.role_arn)
        line("KMS key ARN", request.kms_key_arn)
        line("Description", request.description or "—")
        summary.append("\n" + LIMITS_NOTE + ". The new job joins the watch list.", style="dim")
        self.push_screen(
            ConfirmScreen("Start this export?", summary, yes_label="Start", wide=True),
            partial(self._start_confirmed, plan),
        )

    def _start_confirmed(self, plan: StartPlan, yes: bool | None) -> None:
        if not yes:
            # Back to the form as it was, to change something or cancel from there.
            self.action_start_export(initial=plan)
            return
        if not remember_destination(
            self._settings.config_dir, plan.region, plan.organization_id, plan.destination
        ):
            self.notify("Could not save the destination for next time.", markup=False)
        # One token for this confirmed start: a retry of the same request cannot make two jobs.
        request = replace(plan.request, client_token=str(uuid.uuid4()))
        self.notify(f"Starting the export of {sanitize(plan.label, limit=60)}…", markup=False)
        self._run_start(plan.region, plan.organization_id, request, plan.label)

    @work(thread=True, group="start", exit_on_error=False, description="start an export")
    def _run_start(
        self, region: str, organization_id: str, request: StartRequest, label: str
    ) -> None:
        try:
            key = self._service.start_job(region, organization_id, request)
            message = ExportStarted(region, organization_id, request, label, key=key)
        except ServiceError as exc:
            message = ExportStarted(region, organization_id, request, label, error=exc)
        except Exception as exc:  # a bug or an odd backend must not end the app
            error = ServiceError(
                ErrorKind.OTHER,
                f"StartMailboxExportJob failed: {type(exc).__name__}: {exc}",
                operation="StartMailboxExportJob",
            )
            message = ExportStarted(region, organization_id, request, label, error=error)
        self.post_message(message)

    def on_export_started(self, message: ExportStarted) -> None:
        label = sanitize(message.label, limit=60)
        error = message.error
        if error is not None or message.key is None:
            self.notify(start_refusal(label, error), severity="error", markup=False, timeout=15)
            return
        key = message.key
        request = message.request
        record = ExportJob(
            key=key,
            state=JobState.RUNNING,
            raw_state=JobState.RUNNING.value,
            entity_id=request.entity_id,
            description=request.description or None,
            role_arn=request.role_arn,
            kms_key_arn=request.kms_key_arn,
            s3_bucket_name=request.s3_bucket_name,
            s3_prefix=request.s3_prefix,
            estimated_progress=0,
        )
        self.watch_jobs([key], records=[record], announce=False)
        self.notify(
            f"Started the export of {label}: job {sanitize(key.job_id)}. It is watched now.",
            markup=False,
            timeout=_NOTIFY_TIMEOUT,
        )

    # ---- c: cancel an export ------------------------------------------------------------------

    def action_cancel_export(self) -> None:
        if self._settings.read_only:
            self._refuse_read_only("cancel_export")
            return
        key = self.selected_key()
        if key is None:
            self.notify("No job selected.", severity="warning", markup=False)
            return
        job = self._jobs.get(key)
        job_id = sanitize(key.job_id)
        if job is None or job.last_seen is None:
            self.notify(
                f"Job {job_id} has not been read yet: r reads it, then c can cancel it.",
                severity="warning",
                markup=False,
            )
            return
        if job.state is not JobState.RUNNING:
            state = sanitize(job.raw_state or job.state.value)
            final = " and will not change again" if job.state.is_final else ""
            self.notify(
                f"Job {job_id} is {state}{final}: only a RUNNING export can be cancelled.",
                severity="warning",
                markup=False,
            )
            return
        question = Text("Cancel the export ")
        question.append(safe_text(key.job_id, style="bold"))
        question.append(" of ")
        question.append(safe_text(self._name_for(key, job) or job.entity_id or "?", limit=60))
        if job.progress is not None:
            question.append(f" ({job.progress}% done)")
        question.append(
            "?\n\nWorkMail stops the export and the job ends CANCELLED. This cannot be undone:"
            " exporting the mailbox again is a new job."
        )
        self.push_screen(
            ConfirmScreen("Cancel an export", question, yes_label="Cancel export"),
            partial(self._cancel_confirmed, key),
        )

    def _cancel_confirmed(self, key: JobKey, yes: bool | None) -> None:
        if yes:
            self._run_cancel(key)

    @work(thread=True, group="cancel", exit_on_error=False, description="cancel an export")
    def _run_cancel(self, key: JobKey) -> None:
        try:
            self._service.cancel_job(key, client_token=str(uuid.uuid4()))
            message = ExportCancelled(key)
        except ServiceError as exc:
            message = ExportCancelled(key, exc)
        except Exception as exc:  # a bug or an odd backend must not end the app
            message = ExportCancelled(
                key, ServiceError(ErrorKind.OTHER, f"{type(exc).__name__}: {exc}")
            )
        self.post_message(message)

    def on_export_cancelled(self, message: ExportCancelled) -> None:
        key = message.key
        job_id = sanitize(key.job_id)
        if message.error is not None:
            self.notify(
                f"Job {job_id} was not cancelled: {sanitize(str(message.error), limit=400)}",
                severity="error",
                markup=False,
                timeout=12,
            )
            return
        self.notify(f"Cancelled job {job_id}.", markup=False)
        if key in self._watched_set:
            # Read it now: the row shows CANCELLED without waiting for the next round.
            self._start_refresh({key})

    # ---- E: export a whole organization -------------------------------------------------------

    def action_export_org(self, initial: ExportSpec | None = None) -> None:
        if self._settings.read_only:
            self._refuse_read_only("export_org")
            return
        region, organization_id = self._where_to_start()
        self.push_screen(
            ExportFormScreen(
                region=region,
                organization_id=organization_id,
                destination_for=self._destination_for,
                endpoint_url=self._settings.endpoint_url,
                mailbox_count=self._mailbox_count,
                initial=initial,
                cursor_blink=self.cursor_blink,
            ),
            self._export_planned,
        )

    def _export_state_path(self, spec: ExportSpec) -> Path:
        return export_state_path(self._settings.data_dir, spec)

    def _export_planned(self, spec: ExportSpec | None) -> None:
        if spec is None:
            return
        path = self._export_state_path(spec)
        summary = Text()

        def line(label: str, value: str) -> None:
            summary.append(f"{label:<14}", style="dim")
            summary.append(safe_text(value))
            summary.append("\n")

        line("Organization", f"{spec.organization_id} ({spec.region})")
        count = self._mailbox_count(spec.region, spec.organization_id)
        line("Mailboxes", f"every enabled one ({count} known)" if count else "every enabled one")
        line("Goes to", f"s3://{spec.bucket}/{spec.prefix}")
        line("Role ARN", spec.role_arn)
        line("KMS key ARN", spec.kms_key_arn)
        line("At once", f"up to {spec.running_limit}")
        line("Description", spec.job_description)
        line("State file", str(path))
        try:
            saved = read_export_state(path)
        except ExportStateError as exc:
            saved = None
            summary.append("\n")
            summary.append(safe_text(f"The state file cannot be read: {exc}", single_line=False))
        if saved is not None:
            done = sum(1 for r in saved.records if r.status.value == "completed")
            summary.append(
                f"\nResumes the export saved there: {done} of {len(saved.records)} mailboxes"
                " done so far.",
                style="bold",
            )
        summary.append(
            "\nMailboxes exported in the last 24 hours are skipped; a failed one is retried."
            " Every job started joins the watch list.",
            style="dim",
        )
        self.push_screen(
            ConfirmScreen("Export the organization?", summary, yes_label="Start", wide=True),
            partial(self._export_confirmed, spec),
        )

    def _export_confirmed(self, spec: ExportSpec, yes: bool | None) -> None:
        if not yes:
            self.action_export_org(initial=spec)
            return
        destination = Destination(spec.bucket, spec.prefix, spec.role_arn, spec.kms_key_arn)
        if not remember_destination(
            self._settings.config_dir, spec.region, spec.organization_id, destination
        ):
            self.notify("Could not save the destination for next time.", markup=False)
        self.open_export(spec)

    def open_export(self, spec: ExportSpec) -> ExportProgressScreen:
        """Show the export's progress view and run it (resuming from its state file)."""
        path = self._export_state_path(spec)
        stop = threading.Event()
        self._export_stops.add(stop)
        screen = ExportProgressScreen(
            spec,
            self._service,
            path,
            clock=self._clock,
            endpoint_url=self._settings.endpoint_url,
            poll_interval=self.export_poll_interval,
            min_interval=self.export_min_interval,
            wait=self.export_wait,
            stop=stop,
            previous_run=self._export_runs.get(path),
            palette=self._palette,
        )
        self._export_runs[path] = screen.done
        self.push_screen(screen, lambda _: self._export_stops.discard(stop))
        return screen

    def on_export_jobs_started(self, message: ExportJobsStarted) -> None:
        if not self._widgets_alive():
            return
        # Their endings are told as one summary per refresh, not one notice (and bell) each.
        self._org_export_jobs.update(message.keys)
        fresh = [key for key in message.keys if key not in self._watched_set]
        if fresh:
            wanted = set(fresh)
            records = [record for record in message.records if record.key in wanted]
            self.watch_jobs(fresh, records=records, announce=False)

    # ---- N: names again -----------------------------------------------------------------------

    def action_reload_names(self) -> None:
        key = self.selected_key()
        if key is None:
            self.notify("No job selected: N reads the names of its organization.", markup=False)
            return
        org = (key.region, key.organization_id)
        entity_ids = self._entity_ids().get(org, set())
        self.notify(f"Reading the mailbox names of {sanitize(key.organization_id)}…", markup=False)
        self._reload_names(org, entity_ids)

    def action_import(self) -> None:
        selected = self.selected_key()
        region = selected.region if selected else (self._settings.region or DEFAULT_REGION)
        screen = ImportScreen(
            self._service,
            region=region,
            watched=self._watched_set,
            endpoint_url=self._settings.endpoint_url,
            clock=self._clock,
            palette=self._palette,
            cursor_blink=self.cursor_blink,
        )
        self.push_screen(screen, self._imported)

    def _imported(self, jobs: tuple[ExportJob, ...] | None) -> None:
        if jobs:
            self.watch_jobs([job.key for job in jobs], records=jobs)

    def watch_jobs(
        self, keys: Sequence[JobKey], records: Sequence[ExportJob] = (), *, announce: bool = True
    ) -> None:
        """Add to the watch list file and show at once; the next refresh reads them.

        `announce` False (jobs this app started): no "watching" notice, the cursor stays."""
        try:
            added = self._watchlist.add(keys)
        except WatchListError as exc:
            self.notify(
                f"Nothing added: {sanitize(str(exc))}", severity="error", markup=False, timeout=12
            )
            return
        already = len(set(keys)) - len(added)
        if not added:
            if announce:
                self.notify("Those jobs are already watched.", markup=False)
            return
        for record in records:
            if record.key in added:
                self._jobs[record.key] = record
                self._fresh.add(record.key)
        self._set_watched([*self._watched, *added])
        self._sync_table(added)
        self._update_status()
        if announce or len(self._watched) == len(added):
            self.query_one(JobTable).select_key(str(added[0]))
        self._update_detail()
        if announce:
            count = len(added)
            message = f"Watching {count} more job{'s' if count != 1 else ''}"
            if already:
                message += f" ({already} already watched)"
            self.notify(message + ".", markup=False)
        self._save_cache()
        self._start_refresh(set(added))

    def action_remove(self) -> None:
        key = self.selected_key()
        if key is None:
            self.notify("No job selected.", severity="warning", markup=False)
            return
        job = self._jobs.get(key)
        question = Text("Stop watching job ")
        question.append(safe_text(key.job_id, style="bold"))
        if job is not None and job.entity_id:
            question.append(" (mailbox ")
            question.append(safe_text(self._name_for(key, job) or job.entity_id, limit=60))
            question.append(")")
        question.append("?\n\nThe export itself is not touched: it only leaves ")
        question.append(safe_text(str(self._watchlist.path), style="dim"))
        question.append(".")
        self.push_screen(
            ConfirmScreen("Remove from the watch list", question, yes_label="Remove"),
            partial(self._remove_confirmed, key),
        )

    def _remove_confirmed(self, key: JobKey, yes: bool | None) -> None:
        if not yes:
            return
        try:
            self._watchlist.remove([key])
        except WatchListError as exc:
            self.notify(
                f"Not removed: {sanitize(str(exc))}", severity="error", markup=False, timeout=12
            )
            return
        self._set_watched([k for k in self._watched if k != key])
        self._sync_table(())
        self._update_status()
        self._save_cache()
        self.notify(f"Stopped watching job {sanitize(key.job_id)}.", markup=False)

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
        if self._settings.read_only:
            # What read-only refuses is not offered.
            hidden = {row.description for row in key_help() if row.action in WRITE_ACTIONS}
            rows = [row for row in rows if row[1] not in hidden]
            note += " Read-only: starting and cancelling exports is off."
        self.push_screen(HelpScreen(rows, note))

    def action_move_watchlist_aside(self) -> None:
        error = self._watchlist_error
        if error is None:
            return
        try:
            moved_to: Path = self._watchlist.move_aside()
        except WatchListError as exc:
            self.notify(sanitize(str(exc)), severity="error", markup=False, timeout=12)
            return
        self._watchlist_error = None
        shown = list(self._watched)
        kept: list[JobKey] = []
        if shown:
            try:
                kept = self._watchlist.add(shown)
            except WatchListError as exc:
                self.notify(sanitize(str(exc)), severity="error", markup=False, timeout=12)
        self._set_watched(self._load_watchlist() or kept)
        self._sync_table(None)
        self._update_banner()
        self._update_status()
        self.refresh_bindings()
        self.notify(
            f"Moved the unreadable watch list to {sanitize(str(moved_to))}; the new one holds"
            f" the {len(kept)} job(s) from the cache.",
            markup=False,
            timeout=12,
        )

    async def action_quit(self) -> None:
        self.exit()

    # ---- command palette -----------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for row in key_help():
            if row.action in ("quit", "command_palette", "clear_filter") or ":" in row.action:
                continue
            if row.action.startswith(("cursor_", "scroll_", "page_", "focus_")):
                continue
            title = f"{row.description} ({row.keys_label})"
            if row.action in WRITE_ACTIONS and self._settings.read_only:
                # Still findable by name, so that asking for it says why it is off.
                callback = partial(self._refuse_read_only, row.action)
                yield SystemCommand(title, "Not available: wmtui runs read-only", callback)
                continue
            if self.check_action(row.action, ()) is not True:
                continue
            yield SystemCommand(title, row.tooltip, partial(self.run_action, row.action))


def https_url_problem(url: str) -> str | None:
    """Why `url` is not a plain https URL that is safe to paste, or None."""
    if not isinstance(url, str) or not url.startswith("https://"):
        return f"the service made no https URL ({sanitize(str(url)[:40])}…)"
    for ch in url:
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp", "Zs"):
            return "the URL holds whitespace or a control character: not copied"
    return None


def start_refusal(label: str, error: ServiceError | None) -> str:
    """What to tell a person whose start was refused (the limits spelled out for LimitExceeded)."""
    if error is None:
        return f"The export of {label} was not started: the service sent back no job ID."
    text = f"The export of {label} was not started: {sanitize(error.message, limit=300)}"
    if error.kind is ErrorKind.LIMIT_EXCEEDED:
        text += f". {LIMITS_NOTE}: wait for a running export to end (or for the 24 hours)"
        return text + "."
    if error.fix:
        text += f" ({sanitize(error.fix, limit=300)})"
    return text + "."
