"""A Static that is told its whole text on every update and sends the terminal only news.

Screens that follow the app's refreshes (the mailboxes screen's header, the export's progress
view) set their texts again each time anything moved. `Static.update` repaints the widget and
lays the whole screen out again even when the text is the one shown, which over SSH is a
screenful of bytes for nothing. `SteadyText.show` repaints only a text that looks different,
and asks for a layout only when its height changes (the lines under it stay where they are).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from wmtui.ui.widgets.cells import same_look


def lines_needed(text: Text, width: int) -> int:
    """How many lines `text` takes at `width` cells (wrapped), at least one."""
    return sum(max(1, -(-cell_len(line) // width)) for line in text.plain.split("\n"))


class SteadyText(Static):
    """Show a text; the same text again repaints nothing."""

    # A widget whose height never follows its text (the one-line status line) asks for no
    # layout at all.
    FIXED_HEIGHT = False
    _shown: Text | None = None

    @property
    def shown(self) -> Text | None:
        """The text last shown (None before the first `show`)."""
        return self._shown

    def show(self, text: Text | str) -> None:
        new = Text(text) if isinstance(text, str) else text
        shown = self._shown
        if shown is not None and same_look(shown, new):
            return
        self._shown = new
        width = self.content_size.width
        layout = not self.FIXED_HEIGHT and (
            shown is None or not width or lines_needed(shown, width) != lines_needed(new, width)
        )
        self.update(new, layout=layout)
