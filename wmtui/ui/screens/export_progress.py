"""The organization export's progress view: a window onto an export, never its owner.

The export runs in the app's background (`wmtui.ui.org_export_runs`): closing this view leaves
it running, and opening it again (O, or E with the same destination) shows the counts and the
log so far. x stops an export this app runs, after a confirmation. An export another process
runs is shown read-only, with who runs it. Each change updates only the widgets whose text
changed (a slow link pays for every byte).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Log, ProgressBar, Static

from wmtui.core.export import ExportProgress, ExportSpec
from wmtui.ui.messages import ExportHalted
from wmtui.ui.org_export_runs import LOG_LINES, ExportRun, ExportSource, FollowedExport
from wmtui.ui.safe_text import safe_text, sanitize
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.widgets.cells import Palette, short_span
from wmtui.ui.widgets.steady import SteadyText

# Stands for an argument not given (ProgressBar.update tells "not given" from None).
_NOT_GIVEN: Any = object()


class StillProgressBar(ProgressBar):
    """A ProgressBar repainted only when its progress or total changes.

    Textual's ProgressBar calls `update()` once a second to work out its ETA, and repaints its
    line each time the ETA moves; this view shows no ETA of the bar's (it has its own), so that
    was a line sent to the terminal every second for nothing.
    """

    def update(
        self, *, total: Any = _NOT_GIVEN, progress: Any = _NOT_GIVEN, advance: Any = _NOT_GIVEN
    ) -> None:
        given = {
            name: value
            for name, value in (("total", total), ("progress", progress), ("advance", advance))
            if value is not _NOT_GIVEN
        }
        if given:
            super().update(**given)


def render_counts(progress: ExportProgress, palette: Palette) -> Text:
    text = Text()
    parts = (
        ("done", progress.done, palette.success),
        ("running", progress.running, palette.accent),
        ("queued", progress.queued, palette.muted),
        ("failed", progress.failed, palette.error if progress.failed else palette.muted),
        ("skipped", progress.skipped, palette.warning if progress.skipped else palette.muted),
    )
    for index, (word, count, style) in enumerate(parts):
        if index:
            text.append("  ·  ", style=palette.muted)
        text.append(f"{count}", style=style + palette.bold)
        text.append(f" {word}")
    text.append(f"   of {progress.total} mailboxes", style=palette.muted)
    if progress.retrying:
        text.append(f"  ({progress.retrying} to retry)", style=palette.warning)
    return text


def render_timing(progress: ExportProgress, palette: Palette, *, stopped: bool = False) -> Text:
    text = Text()
    if progress.finished:
        text.append("Finished.", style=palette.success + palette.bold)
    elif stopped:
        text.append("Stopped.", style=palette.warning + palette.bold)
        text.append(" Its state is saved: E resumes it.")
        return text
    elif progress.eta is not None:
        text.append(f"ETA {short_span(progress.eta.total_seconds())}", style=palette.bold)
        text.append(" (at the rate so far)", style=palette.muted)
    else:
        text.append("ETA —", style=palette.bold)
        text.append(" (known once exports finish)", style=palette.muted)
    text.append(
        f"   ·   {progress.organization_running} running in the organization", style=palette.muted
    )
    if progress.waiting and not progress.finished:
        text.append("\nWaiting: ", style=palette.warning + palette.bold)
        text.append(safe_text(progress.waiting, style=palette.warning, limit=200))
    return text


def problem_text(halted: ExportHalted, palette: Palette) -> Text:
    text = Text("✖ The export stopped: ", style=palette.error + palette.bold)
    text.append(safe_text(halted.problem or "", single_line=False, limit=600))
    if halted.fix:
        text.append("\nFix: ", style=palette.bold)
        text.append(safe_text(halted.fix, single_line=False, limit=400))
    text.append("\nIts state is saved: fix this, then E with the same destination resumes.")
    return text


def _which(text: Text, run: ExportRun) -> Text:
    """'m-… to s3://bucket/prefix': which export, as the user gave it."""
    spec = run.spec
    text.append(safe_text(spec.organization_id))
    text.append(" to ")
    text.append(safe_text(f"s3://{spec.bucket}/{spec.prefix}", limit=80))
    return text


def stop_question(run: ExportRun) -> Text:
    text = _which(Text("Stop the export of "), run)
    text.append("?\n")
    text.append(
        "No new job starts; the jobs already running go on in WorkMail (c cancels one). Its"
        " state is saved: E with the same destination resumes it.",
        style="dim",
    )
    return text


def quit_question(runs: Sequence[ExportRun]) -> Text:
    """What quitting stops: the exports this app runs (each resumes from its state file)."""
    what = "the organization export" if len(runs) == 1 else f"{len(runs)} organization exports"
    text = Text(f"Quitting stops {what} this app runs:\n")
    for run in runs:
        _which(text.append("  "), run).append("\n")
    text.append(
        "No new job starts; the jobs already running go on in WorkMail. The state is saved: E"
        " with the same destination, or `wmtui export-org`, resumes it.",
        style="dim",
    )
    return text


def ask_to_stop(app: App[Any], run: ExportRun) -> None:
    """x: ask, then stop (the worker lets go of the lock after the call it is in)."""

    def answered(yes: bool | None) -> None:
        if yes and run.running:
            run.request_stop()

    app.push_screen(
        ConfirmScreen("Stop the organization export?", stop_question(run), yes_label="Stop"),
        answered,
    )


class ExportProgressScreen(ModalScreen[None]):
    """Where an organization export stands, live. Esc or q closes the view (the export goes on)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "leave", "Close"),
        Binding("x", "stop_export", "Stop export"),
        Binding("r", "reread", "Read again"),
        Binding("E", "resume_export", "Resume here"),
    ]
    DEFAULT_CSS = """
    #export-owner {
        height: auto;
        margin-top: 1;
    }
    """

    def __init__(
        self,
        source: ExportSource,
        *,
        palette: Palette | None = None,
        resume: Callable[[ExportSpec], None] | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        # E on an export nobody runs: the flow's confirmation, then a run here.
        self._resume = resume
        self._palette = palette or Palette()
        self._lines_shown = 0
        self._was_running: bool | None = None

    # ---- what tests and the flow read ----------------------------------------------------------

    @property
    def spec(self) -> ExportSpec:
        return self.source.spec

    @property
    def last_progress(self) -> ExportProgress | None:
        return self.source.last_progress

    @property
    def halted(self) -> ExportHalted | None:
        return self.source.halted

    # ---- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        spec = self.spec
        # Not a `.dialog`: the whole screen, and its labels sit on their lines.
        with Vertical(id="export-dialog"):
            yield SteadyText(self._title(), classes="dialog-title", id="export-title")
            where = Text("To ", style="dim")
            where.append(safe_text(f"s3://{spec.bucket}/{spec.prefix}", limit=80))
            where.append(f"  ·  up to {spec.running_limit} at once", style="dim")
            # The file's name only: the folder is the data dir, as the confirmation said.
            where.append("  ·  state exports/", style="dim")
            where.append(safe_text(self.source.state_path.name, style="dim", limit=60))
            yield Static(where, id="export-where")
            yield SteadyText(id="export-owner")
            yield SteadyText(Text("Starting…", style="dim"), id="export-counts")
            yield StillProgressBar(total=1000, show_eta=False, id="export-bar")
            yield SteadyText(id="export-timing")
            yield SteadyText(id="export-problem")
            log = Log(max_lines=LOG_LINES, id="export-log", auto_scroll=True)
            # It draws no scrollbar (see app.tcss): the border tells that it scrolls.
            log.border_subtitle = "↑↓ PgUp PgDn to scroll"
            yield log
            yield SteadyText(self._hint(), id="export-hint")
        yield Footer()

    def _title(self) -> Text:
        spec = self.spec
        title = Text("Exporting every mailbox of ")
        title.append(safe_text(spec.organization_id))
        title.append(f" ({sanitize(spec.region)})")
        if self.source.read_only:
            title.append("  ·  read-only", style="dim")
        return title

    def _hint(self) -> Text:
        if self.source.read_only:
            words = (
                "Read-only here: the process that runs it starts and stops it. Every job it"
                " starts joins the watch list."
            )
        elif self.source.running:
            words = (
                "It runs in the background: closing this view leaves it running (O or E brings"
                " it back); x stops it. Every job it starts joins the watch list."
            )
        else:
            words = (
                "It is no longer running; E resumes it from its state file (so does E on the"
                " jobs screen with the same destination). Every job it started is on the watch"
                " list."
            )
        return Text(words, style="dim")

    def on_mount(self) -> None:
        self.query_one("#export-problem", Static).display = False
        self.query_one("#export-owner", Static).display = self.source.read_only
        self.source.views.append(self)
        self._show_source()

    def on_unmount(self) -> None:
        if self in self.source.views:
            self.source.views.remove(self)

    # ---- showing it ----------------------------------------------------------------------------

    def _set(self, selector: str, text: Text) -> None:
        # An unchanged text is not sent to the terminal again (see SteadyText).
        self.query_one(selector, SteadyText).show(text)

    def source_changed(self) -> None:
        """The source has news (or the view was just opened): show what changed."""
        if self.is_mounted:
            self._show_source()

    def _show_source(self) -> None:
        source, palette = self.source, self._palette
        progress = source.last_progress
        stopped = not source.running and isinstance(source, ExportRun)
        if progress is not None:
            self._set("#export-counts", render_counts(progress, palette))
            bar, done = self.query_one("#export-bar", ProgressBar), round(progress.fraction * 1000)
            if bar.progress != done:  # a look at an unchanged state file repaints nothing
                bar.update(progress=done)
            self._set("#export-timing", render_timing(progress, palette, stopped=stopped))
        if isinstance(source, FollowedExport):
            self._set("#export-owner", Text(source.owner_words(), style=palette.bold))
        self._show_lines()
        halted = source.halted
        if halted is not None and halted.problem is not None:
            problem = self.query_one("#export-problem", Static)
            self._set("#export-problem", problem_text(halted, palette))
            problem.display = True
        if self._was_running is not source.running:
            if self._was_running is not None:
                self._set("#export-hint", self._hint())
            self._was_running = source.running
            self.refresh_bindings()

    def _show_lines(self) -> None:
        lines = self.source.new_lines(self._lines_shown)
        self._lines_shown = self.source.lines_written
        if not lines:
            return
        log = self.query_one("#export-log", Log)
        # Follow the newest lines unless the user scrolled up to read (Log alone loses the end
        # when many lines come before a layout).
        following = log.scroll_y >= log.max_scroll_y - 1
        log.write_lines(lines)
        if following:
            log.call_after_refresh(log.scroll_end, animate=False)

    def follow_instead(self, source: ExportSource) -> None:
        """Another process took the export's lock first: show its run, read-only."""
        if self in self.source.views:
            self.source.views.remove(self)
        self.source = source
        source.views.append(self)
        self._lines_shown = 0
        self.query_one("#export-log", Log).clear()
        self._set("#export-title", self._title())
        self._set("#export-hint", self._hint())
        self.query_one("#export-owner", Static).display = True
        self._show_source()
        self.refresh_bindings()

    # ---- keys ----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop_export":
            return isinstance(self.source, ExportRun) and self.source.running
        if action == "reread":
            return isinstance(self.source, FollowedExport)
        if action == "resume_export":
            return self._resume is not None and self.resumable
        return True

    @property
    def resumable(self) -> bool:
        """Nobody runs it and it has mailboxes left."""
        progress = self.source.last_progress
        return not self.source.running and not (progress is not None and progress.finished)

    def action_resume_export(self) -> None:
        if self._resume is not None and self.resumable:
            resume, spec = self._resume, self.spec
            self.dismiss(None)
            resume(spec)

    def action_stop_export(self) -> None:
        source = self.source
        if isinstance(source, ExportRun) and source.running:
            ask_to_stop(self.app, source)

    def action_reread(self) -> None:
        source = self.source
        if isinstance(source, FollowedExport):
            runs = getattr(self.app, "export_runs", None)
            if runs is not None:
                runs.follow(source.spec, source.state_path)

    def action_leave(self) -> None:
        self.dismiss(None)
