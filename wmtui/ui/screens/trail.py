"""The trail screen (L): every start and cancel wmtui sent, newest first, filterable.

The file is read in a thread worker (wmtui.core.trail.read_trail); every field comes from a
file that anyone with the user's rights could have written, so each goes through safe_text.
Enter or the cursor shows the selected action's ClientToken, error and `aws workmail` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from wmtui.core.trail import PENDING, TrailAction, iso, read_trail, select_actions
from wmtui.ui.safe_text import safe_text, sanitize

COLUMNS = ("Time (UTC)", "Outcome", "Action", "Organization", "Mailbox", "Job", "Caller")
_OUTCOME_STYLES = {"ok": "green", "error": "bold red", PENDING: "yellow"}


def action_cells(action: TrailAction) -> tuple[Text, ...]:
    """One row's cells, each sanitised."""
    return (
        Text(iso(action.time)),
        safe_text(action.outcome, _OUTCOME_STYLES.get(action.outcome, "")),
        safe_text(action.action),
        safe_text(action.organization_id or "-", limit=40),
        safe_text(action.mailbox or "-", limit=40),
        safe_text(action.job_id or "-", limit=40),
        safe_text(action.caller_arn or "-", limit=60),
    )


def action_detail(action: TrailAction) -> Text:
    text = Text()
    text.append("ClientToken ", style="dim")
    text.append(sanitize(action.client_token or "-", limit=130))
    text.append("   profile ", style="dim")
    text.append(sanitize(action.profile or "default", limit=60))
    text.append("   region ", style="dim")
    text.append(sanitize(action.region or "-", limit=30))
    if action.error:
        text.append("\nerror ", style="dim")
        text.append(sanitize(action.error, limit=400), style="red")
    text.append("\n")
    text.append(sanitize(action.command, limit=2000))
    return text


class TrailScreen(Screen[None]):
    """The trail, newest first. / filters on any field; Esc or q goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "leave", "Back to jobs"),
        Binding("slash", "filter", "Filter"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, path: Path, problem: str | None = None) -> None:
        super().__init__()
        self.path = path
        # A line this run could not write (AuditedService's trail.last_problem): said here.
        self.problem = problem
        self.actions: list[TrailAction] = []
        self.shown: list[TrailAction] = []
        self.broken = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="trail"):
            yield Static(Text("The trail: every start and cancel", style="bold"), id="trail-title")
            yield Input(placeholder="Filter: organization, mailbox, job, caller…", id="trail-box")
            yield DataTable(id="trail-table", cursor_type="row", zebra_stripes=True)
            yield Static(id="trail-detail")
            yield Static(id="trail-note")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        self.query_one("#trail-box", Input).display = False
        table.focus()
        self.load()

    @work(thread=True, exclusive=True, group="trail", exit_on_error=False)
    def load(self) -> None:
        actions, broken = read_trail(self.path)
        self.app.call_from_thread(self.loaded, actions, broken)

    def loaded(self, actions: list[TrailAction], broken: int) -> None:
        # Newest first: what was just done is what people come to look at.
        self.actions = list(reversed(actions))
        self.broken = broken
        self.show(self.query_one("#trail-box", Input).value)

    def show(self, needle: str) -> None:
        if not self.is_mounted:
            return
        self.shown = select_actions(self.actions, text=needle)
        table = self.query_one(DataTable)
        table.clear()
        for action in self.shown:
            table.add_row(*action_cells(action), key=action.id)
        note = Text(f"{len(self.shown)} of {len(self.actions)} actions · ", style="dim")
        note.append(safe_text(str(self.path), "dim", limit=120))
        if self.broken:
            note.append(f" · {self.broken} unreadable line(s) left out", style="yellow")
        if self.problem:
            note.append("\n")
            note.append(safe_text(self.problem, "bold red", limit=300))
        self.query_one("#trail-note", Static).update(note)
        self._detail(0)

    def _detail(self, row: int) -> None:
        detail = self.query_one("#trail-detail", Static)
        if 0 <= row < len(self.shown):
            detail.update(action_detail(self.shown[row]))
        elif self.actions:
            detail.update(Text("No action matches the filter.", style="dim"))
        else:
            detail.update(Text("Nothing started or cancelled yet.", style="dim"))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.show(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def action_filter(self) -> None:
        box = self.query_one("#trail-box", Input)
        box.display = True
        box.focus()

    def action_reload(self) -> None:
        self.load()

    def action_leave(self) -> None:
        box = self.query_one("#trail-box", Input)
        if box.has_focus and box.value:
            box.value = ""
            self.query_one(DataTable).focus()
            return
        self.app.pop_screen()
