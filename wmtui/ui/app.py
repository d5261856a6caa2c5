"""WmtuiApp: wiring only — the backend, the theme and palette, the command palette, the lifecycle.

The app is given its service and stores (harlequin's `Harlequin(adapter=...)`), so it never
learns there is a boto3. The jobs view, its refresh and its operations belong to the main
screen (`screens/jobs.py`, posting's `MainScreen`); the keys are in `keys.py`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

from rich.style import Style
from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.color import Color
from textual.screen import Screen

from wmtui.core import locations
from wmtui.core.cache import JobCache
from wmtui.core.models import ExportJob, JobKey, now_utc
from wmtui.core.names import NameDirectory
from wmtui.core.preflight import Preflight
from wmtui.core.service import ExportObjects, ExportService
from wmtui.core.settings import Settings, load_ui_state, save_ui_state
from wmtui.core.watchlist import WatchList
from wmtui.ui.keys import QUIT_BINDINGS, READ_ONLY_BINDINGS
from wmtui.ui.messages import ExportJobsStarted
from wmtui.ui.org_export_runs import ExportRunChanged, OrgExportRuns
from wmtui.ui.safe_text import sanitize
from wmtui.ui.screens.export_org import ExportProgressScreen, ExportWait, wait_or_stop
from wmtui.ui.screens.jobs import JobsContext, JobsScreen
from wmtui.ui.widgets.cells import Palette

# Objects the garbage collector's young generation holds before a collection (Python: 700).
YOUNG_GENERATION = 7_000


class WmtuiApp(App[None]):
    """Watch WorkMail mailbox export jobs."""

    CSS_PATH = "app.tcss"
    TITLE = "wmtui"
    BINDINGS: ClassVar[list[BindingType]] = [*QUIT_BINDINGS, *READ_ONLY_BINDINGS]
    # Below 100 columns the detail pane moves under the table.
    # (App declares it as an instance-level ClassVar mypy will not let us repeat.)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012

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
        objects: ExportObjects | None = None,
        preflight: Preflight | None = None,
    ) -> None:
        clock = clock or now_utc
        self._settings = settings
        self._on_exit = on_exit
        self._exited = False
        self._theme_ready = False
        # The organization-wide export: how its worker waits between rounds (tests move an
        # emulator's clock instead) and how often it polls.
        self.export_wait: ExportWait = wait_or_stop
        self.export_poll_interval = 15.0
        self.export_min_interval = 2.0
        # Organization exports run in the app's background, whatever screen is shown.
        self.export_runs = OrgExportRuns(self, clock)
        # q while an export runs asks first (action_quit); Ctrl+C while asking quits.
        self._asking_to_quit = False
        # The collector's thresholds before the app tuned it (see `settle_heap`).
        self._gc_thresholds: tuple[int, int, int] | None = None
        names = names or NameDirectory(locations.names_cache_path(settings.cache_dir), clock=clock)
        self._jobs_context = JobsContext(
            service, watchlist, cache, settings, clock, names, objects=objects, preflight=preflight
        )
        self._jobs_screen: JobsScreen | None = None
        super().__init__()

    def get_default_screen(self) -> Screen[Any]:
        self._jobs_screen = JobsScreen(self._jobs_context, id="_default")
        return self._jobs_screen

    @property
    def jobs_screen(self) -> JobsScreen:
        """The main screen, which owns the jobs view."""
        assert self._jobs_screen is not None, "the app has not started"
        return self._jobs_screen

    # ---- what tests and scripts read -----------------------------------------------------------

    def selected_key(self) -> JobKey | None:
        """The job under the cursor, if any."""
        return self.jobs_screen.selected_key()

    @property
    def jobs(self) -> dict[JobKey, ExportJob]:
        """Last-known records of the watched jobs (a copy)."""
        return dict(self.jobs_screen.board.jobs)

    @property
    def watched(self) -> list[JobKey]:
        return list(self.jobs_screen.board.watched)

    @property
    def service(self) -> ExportService:
        return self._jobs_context.service

    @property
    def watchlist(self) -> WatchList:
        return self._jobs_context.watchlist

    @property
    def cache(self) -> JobCache:
        return self._jobs_context.cache

    @property
    def names(self) -> NameDirectory:
        return self._jobs_context.names

    @property
    def refreshing(self) -> bool:
        """A refresh is running, or the first one waits for the first paint."""
        return self._jobs_screen is not None and self._jobs_screen.refreshing

    @property
    def describe_delay(self) -> float:
        """How long the cursor rests on a job before one Describe fills it in."""
        return self._jobs_context.describe_delay

    @describe_delay.setter
    def describe_delay(self, seconds: float) -> None:
        self._jobs_context.describe_delay = seconds

    @property
    def cursor_blink(self) -> bool:
        """Whether text cursors blink (snapshot tests turn it off: screenshots would differ)."""
        return self._jobs_context.cursor_blink

    @cursor_blink.setter
    def cursor_blink(self, blink: bool) -> None:
        self._jobs_context.cursor_blink = blink

    def set_mailbox_names(self, names: dict[tuple[str, str, str], Any]) -> None:
        """Show names instead of EntityIds: (region, organization, entity id) -> who."""
        self.jobs_screen.show_names(names)

    def watch_jobs(self, keys: Any, records: Any = (), *, announce: bool = True) -> None:
        self.jobs_screen.watch_jobs(keys, records, announce=announce)

    def open_export(self, spec: Any) -> ExportProgressScreen:
        """Show an organization export's progress view and run it (resuming from its file)."""
        return self.jobs_screen.export_flow.run(spec)

    # ---- start and end -------------------------------------------------------------------------

    def on_mount(self) -> None:
        state = load_ui_state(self._settings.config_dir)
        theme = state.get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        self._theme_ready = True
        self.jobs_screen.set_palette(self.palette_from_theme())
        for warning in self._settings.warnings:
            self.notify(sanitize(warning), severity="warning", markup=False, timeout=12)

    def settle_heap(self) -> None:
        """Fit the garbage collector to the app, once its table is loaded.

        - What is loaded by now (the jobs, the table's rows, the widgets) lives as long as the
          app: frozen, full collections no longer walk its objects each time (pauses of up to
          0.7 s with 10,000 jobs, keys waiting behind them).
        - A screen update makes thousands of short-lived objects. With Python's default young
          generation of 700, many live just long enough to be moved to the old ones, which
          then need full collections. With a young generation of YOUNG_GENERATION they die
          young; each young collection walks at most that many objects.
        Both are undone when the app ends (tests run many apps in one process).
        """
        if self._gc_thresholds is not None:
            return
        self._gc_thresholds = thresholds = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(max(thresholds[0], YOUNG_GENERATION), *thresholds[1:])

    def on_unmount(self) -> None:
        if self._exited:
            return
        self._exited = True
        if self._jobs_screen is not None:
            self._jobs_screen.shutdown()
        if self._gc_thresholds is not None:
            # Collectable again once the app is gone (tests run many apps in one process).
            gc.unfreeze()
            gc.set_threshold(*self._gc_thresholds)
        self.workers.cancel_all()
        if self._on_exit is not None:
            self._on_exit()

    async def action_quit(self) -> None:
        """q: quit; while an organization export runs here, after a confirmation (quitting
        stops it). Ctrl+C while it asks quits without the answer."""
        runs = self.export_runs.live_runs()
        if not runs or self._asking_to_quit:
            self.exit()
            return
        from wmtui.ui.screens.confirm import ConfirmScreen
        from wmtui.ui.screens.export_progress import quit_question

        def answered(yes: bool | None) -> None:
            self._asking_to_quit = False
            if yes:
                self.exit()

        self._asking_to_quit = True
        self.push_screen(
            ConfirmScreen("Quit wmtui?", quit_question(runs), yes_label="Quit", wide=True),
            answered,
        )

    def action_refuse_read_only(self, action: str) -> None:
        """n, c or E with --read-only: say why nothing happens (see READ_ONLY_BINDINGS)."""
        screen = self.screen
        if self._settings.read_only and isinstance(screen, JobsScreen):
            screen.refuse_read_only(action)

    def action_show_trail(self) -> None:
        """L: the trail of every start and cancel (wmtui.ui.screens.trail)."""
        from wmtui.core.trail import trail_path
        from wmtui.ui.screens.trail import TrailScreen

        trail = getattr(self.service, "trail", None)
        problem = getattr(trail, "last_problem", None)
        self.push_screen(TrailScreen(trail_path(self._settings.data_dir), problem))

    def action_doctor(self) -> None:
        """D: the doctor's report for the selected job's set-up (wmtui.ui.flows.preflight)."""
        from wmtui.ui.flows.preflight import open_doctor

        open_doctor(self.jobs_screen)

    # ---- theme ---------------------------------------------------------------------------------

    def palette_from_theme(self) -> Palette:
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

    def watch_theme(self, theme: str) -> None:
        if not self._theme_ready:
            return
        self.jobs_screen.set_palette(self.palette_from_theme())
        state = load_ui_state(self._settings.config_dir)
        state["theme"] = theme
        if not save_ui_state(self._settings.config_dir, state):
            self.notify("Could not save the theme choice.", severity="warning", markup=False)

    # ---- messages for the jobs screen from other screens' workers ------------------------------

    def on_export_run_changed(self, message: ExportRunChanged) -> None:
        self.export_runs.changed(message)

    def on_export_jobs_started(self, message: ExportJobsStarted) -> None:
        screen = self._jobs_screen
        if screen is not None and screen.widgets_alive():
            screen.export_flow.jobs_started(message)

    # ---- command palette -----------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self._jobs_screen is None:
            return
        for title, help_text, callback in self._jobs_screen.system_commands():
            yield SystemCommand(title, help_text, callback)
        for title, help_text, callback in self._jobs_screen.export_flow.system_commands():
            yield SystemCommand(title, help_text, callback)
