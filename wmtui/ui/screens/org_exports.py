"""The organization exports (palette: "Organization exports"): running, paused and finished.

Read from the state files in the data folder, every few seconds, in a thread worker. An export
that another process runs (`wmtui export-org` in cron or another terminal) shows its progress
here read-only, from the state file that process saves after every step.
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
from textual.screen import ModalScreen
from textual.widgets import Static

from wmtui.core.export_list import ExportSummary
from wmtui.ui.safe_text import safe_text

# Seconds between two reads of the state files while the list is shown.
REREAD_EVERY = 5.0


class ExportsRead(Message):
    def __init__(self, summaries: Sequence[ExportSummary]) -> None:
        super().__init__()
        self.summaries = summaries


class OrgExportsScreen(ModalScreen[None]):
    """Every saved organization export, running ones first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("r", "reread", "Read again"),
    ]

    def __init__(self, read: Callable[[], Sequence[ExportSummary]]) -> None:
        super().__init__()
        self.read = read

    def compose(self) -> ComposeResult:
        with Vertical(id="org-exports", classes="dialog -wide"):
            yield Static(Text("Organization exports"), classes="dialog-title")
            yield Static("Reading the saved exports…", id="org-exports-list")

    def on_mount(self) -> None:
        self.action_reread()
        self.set_interval(REREAD_EVERY, self.action_reread)

    def action_reread(self) -> None:
        self.read_in_worker()

    @work(thread=True, exclusive=True, group="org-exports", exit_on_error=False)
    def read_in_worker(self) -> None:
        self.post_message(ExportsRead(list(self.read())))

    def on_exports_read(self, message: ExportsRead) -> None:
        self.query_one("#org-exports-list", Static).update(exports_text(message.summaries))

    def action_close(self) -> None:
        self.dismiss(None)


def exports_text(summaries: Sequence[ExportSummary]) -> Text:
    if not summaries:
        return Text("No organization export saved yet (E starts one; so does wmtui export-org).")
    text = Text()
    for summary in summaries:
        style = "bold" if summary.running else ""
        text.append(f"{summary.state:<9}", style=style)
        text.append(safe_text(summary.line()))
        text.append("\n")
    text.append(
        "\nA running export is run by this app or by `wmtui export-org` elsewhere: its progress"
        " is read from its state file. E on the same destination resumes a paused one.",
        style="dim",
    )
    return text
