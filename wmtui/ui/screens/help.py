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
            # Said only when the list does not fit: a cut list must say that it scrolls.
            yield Static("", id="help-more")
            yield Static(Text(self._note, style="dim"), id="help-note")

    def on_mount(self) -> None:
        scroll = self.query_one("#help-scroll", VerticalScroll)
        self.watch(scroll, "scroll_y", self._show_more, init=False)
        self.watch(scroll, "max_scroll_y", self._show_more, init=False)
        self.call_after_refresh(self._show_more)

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_more)

    def _show_more(self, _value: object = None) -> None:
        scroll = self.query_one("#help-scroll", VerticalScroll)
        hidden = scroll.max_scroll_y
        more = self.query_one("#help-more", Static)
        if hidden <= 0:
            more.display = False
            return
        below = hidden - round(scroll.scroll_y)
        words = []
        if round(scroll.scroll_y) > 0:
            words.append("▲ more above")
        if below > 0:
            words.append(f"▼ {below} more line{'s' if below != 1 else ''} below")
        more.update(Text(" · ".join(words) + " — ↑ ↓ PgUp PgDn scroll", style="bold"))
        more.display = True

    def action_close(self) -> None:
        self.dismiss(None)
