"""Pieces the start and export forms share: a labelled one-line field with its error below."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from wmtui.ui.safe_text import safe_text

InputType = Literal["integer", "number", "text"]


def field_row(
    prefix: str,
    name: str,
    label: str,
    value: str = "",
    *,
    placeholder: str = "",
    input_type: InputType = "text",
    max_length: int = 0,
) -> ComposeResult:
    """`Label  [input]` on one line, and an error line under it shown only when needed."""
    with Horizontal(classes="form-row", id=f"{prefix}-{name}-row"):
        yield Label(label, classes="form-label")
        yield Input(
            value,
            id=f"{prefix}-{name}",
            placeholder=placeholder,
            compact=True,
            type=input_type,
            max_length=max_length,
        )
    yield Static(id=f"{prefix}-{name}-error", classes="field-error form-error")


def show_errors(
    screen: Screen[Any], prefix: str, names: Iterable[str], errors: Mapping[str, str]
) -> None:
    """Show each field's problem under it (text from the user is quoted, never markup)."""
    for name in names:
        widget = screen.query_one(f"#{prefix}-{name}-error", Static)
        error = errors.get(name)
        widget.update(safe_text(error or "", single_line=False))
        widget.display = error is not None
        screen.query_one(f"#{prefix}-{name}", Input).set_class(error is not None, "-problem")


def values_of(screen: Screen[Any], prefix: str, names: Iterable[str]) -> dict[str, str]:
    """The fields' values, stripped of the spaces a paste brings along."""
    return {name: screen.query_one(f"#{prefix}-{name}", Input).value.strip() for name in names}
