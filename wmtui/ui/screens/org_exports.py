"""The organization exports (O, and the palette): running here or elsewhere, paused, finished.

Read from the state files in the data folder, every few seconds, in a thread worker. Enter opens
the export's view: live for one this app runs (it runs in the app's background), read-only for
one another process runs (`wmtui export-org` in cron or another terminal: its progress comes
from the state file that process saves after every step) or one nobody runs now. x stops an
export this app runs, after a confirmation; E resumes a paused one here (after the same
confirmation as a start).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Footer, Static

from wmtui.core.export_list import ExportSummary
from wmtui.ui.safe_text import safe_text
from wmtui.ui.widgets.covered import QuietModalWhileCovered

# Seconds between two reads of the state files while the list is shown.
REREAD_EVERY = 5.0

# Who runs an export, in words ("here", "pid 4242"), or None when nobody does.
WhereRun = Callable[[ExportSummary], str | None]


class ExportsRead(Message):
    def __init__(self, summaries: Sequence[ExportSummary]) -> None:
        super().__init__()
        self.summaries = summaries


class OrgExportsScreen(QuietModalWhileCovered):
    """Every saved organization export, running ones first; one is selected."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("enter", "open_export", "Open"),
        Binding("x", "stop_export", "Stop export"),
        Binding("r", "reread", "Read again"),
        Binding("E", "resume_export", "Resume here"),
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
    ]

    def __init__(
        self,
        read: Callable[[], Sequence[ExportSummary]],
        *,
        where_run: WhereRun | None = None,
        open_export: Callable[[ExportSummary], None] | None = None,
        stop_export: Callable[[ExportSummary], None] | None = None,
        resume_export: Callable[[ExportSummary], None] | None = None,
    ) -> None:
        super().__init__()
        self._resume_export = resume_export
        self.read = read
        self._where_run = where_run
        self._open_export = open_export
        self._stop_export = stop_export
        self.summaries: list[ExportSummary] = []
        self.cursor = 0
        self._shown: Text | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="org-exports", classes="dialog -wide"):
            yield Static(Text("Organization exports"), classes="dialog-title")
            yield Static("Reading the saved exports…", id="org-exports-list")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reread()
        self.set_interval(REREAD_EVERY, self.action_reread)

    def action_reread(self) -> None:
        self.read_in_worker()

    @work(thread=True, exclusive=True, group="org-exports", exit_on_error=False)
    def read_in_worker(self) -> None:
        self.post_message(ExportsRead(list(self.read())))

    def on_exports_read(self, message: ExportsRead) -> None:
        selected = self.selected
        self.summaries = list(message.summaries)
        if selected is not None:
            paths = [summary.snapshot.path for summary in self.summaries]
            if selected.snapshot.path in paths:
                self.cursor = paths.index(selected.snapshot.path)
        self.cursor = max(0, min(self.cursor, len(self.summaries) - 1))
        self._show()
        self.refresh_bindings()

    def _show(self) -> None:
        text = exports_text(self.summaries, self.cursor, self._where_run)
        if text != self._shown:  # the same list read again is not drawn again
            self._shown = text
            self.query_one("#org-exports-list", Static).update(text)

    @property
    def selected(self) -> ExportSummary | None:
        if not self.summaries:
            return None
        return self.summaries[min(self.cursor, len(self.summaries) - 1)]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_export":
            return self.selected is not None and self._open_export is not None
        if action == "stop_export":
            selected = self.selected
            return (
                selected is not None
                and self._stop_export is not None
                and self._where(selected) == "here"
            )
        if action == "resume_export":
            selected = self.selected
            return (
                selected is not None
                and self._resume_export is not None
                and selected.state == "paused"
                and self._where(selected) is None
            )
        return True

    def _where(self, summary: ExportSummary) -> str | None:
        if self._where_run is not None:
            return self._where_run(summary)
        return "another process" if summary.running else None

    def action_move(self, step: int) -> None:
        if not self.summaries:
            return
        self.cursor = (self.cursor + step) % len(self.summaries)
        self._show()
        self.refresh_bindings()

    def action_open_export(self) -> None:
        selected = self.selected
        if selected is not None and self._open_export is not None:
            self._open_export(selected)

    def action_stop_export(self) -> None:
        selected = self.selected
        if selected is not None and self._stop_export is not None:
            self._stop_export(selected)

    def action_resume_export(self) -> None:
        selected = self.selected
        if selected is not None and self._resume_export is not None:
            self._resume_export(selected)

    def action_close(self) -> None:
        self.dismiss(None)


def exports_text(
    summaries: Sequence[ExportSummary], cursor: int = 0, where_run: WhereRun | None = None
) -> Text:
    if not summaries:
        return Text("No organization export saved yet (E starts one; so does wmtui export-org).")
    text = Text()
    for index, summary in enumerate(summaries):
        line = Text()
        style = "bold" if summary.running else ""
        line.append(f"{summary.state:<9}", style=style)
        line.append(safe_text(summary.line()))
        where = where_run(summary) if where_run is not None else None
        if where == "here":
            line.append("\n         run by this app, in its background (x stops it)", style="dim")
        elif where is not None:
            line.append(f"\n         run by another process ({where}): read-only here", style="dim")
        if index == cursor:
            line.stylize("reverse")
        text.append_text(line)
        text.append("\n")
    text.append(
        "\nEnter opens an export's progress: live for one this app runs, read-only for one"
        " another process (wmtui export-org) runs. E resumes a paused one here.",
        style="dim",
    )
    return text
