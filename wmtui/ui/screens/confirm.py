"""A yes/no question: `y` or Enter on Yes confirms, `n` or Esc declines."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True (yes) or False (no)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(
        self, title: str, question: Text, *, yes_label: str = "Yes", wide: bool = False
    ) -> None:
        super().__init__()
        self._title = title
        self._question = question
        self._yes_label = yes_label
        # Summaries with ARNs in them need the room.
        self._wide = wide

    def compose(self) -> ComposeResult:
        classes = "dialog -wide" if self._wide else "dialog"
        with Vertical(id="confirm-dialog", classes=classes):
            yield Static(Text(self._title), classes="dialog-title")
            yield Static(self._question, id="confirm-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self._yes_label} (y)", id="confirm-yes", variant="error")
                yield Button("No (n)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
