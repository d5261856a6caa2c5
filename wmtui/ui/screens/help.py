"""The help screen, generated from the bindings so it cannot drift from the keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HelpRow = tuple[str, str, str]  # keys, short description, what it does in a sentence


def render_help(rows: Sequence[HelpRow]) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=True)
    table.add_column("keys", style="bold", no_wrap=True)
    table.add_column("what", no_wrap=True)
    table.add_column("detail", style="dim", ratio=1)
    for keys, description, detail in rows:
        table.add_row(Text(keys), Text(description), Text(detail if detail != description else ""))
    return table


def help_text(rows: Sequence[HelpRow]) -> str:
    """The same as plain lines, for tests and for anyone grepping."""
    return "\n".join(f"{keys}  {description}  {detail}" for keys, description, detail in rows)


class HelpScreen(ModalScreen[None]):
    """Every key and what it does; Esc, q or ? closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close help"),
    ]

    def __init__(self, rows: Sequence[HelpRow], footer_note: str = "") -> None:
        super().__init__()
        self._rows = list(rows)
        self._note = footer_note

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static(Text("wmtui keys"), classes="dialog-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(render_help(self._rows), id="help-keys")
            yield Static(Text(self._note, style="dim"), id="help-note")

    def action_close(self) -> None:
        self.dismiss(None)
