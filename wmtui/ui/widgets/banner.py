"""The error banner: a problem that affects every job, with the fix; hidden when all is well."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class Banner(Static):
    """Shown above the table; the cached jobs stay visible and navigable below it."""

    def show_problem(self, text: Text | None, *, severity: str = "error") -> None:
        if text is None:
            if not self.display:
                return  # already hidden: every refresh calls this, and an update costs a layout
            self.display = False
            self.update(Text(""))
            return
        self.set_class(severity == "error", "-error")
        self.set_class(severity == "warning", "-warning")
        self.update(text)
        self.display = True
