"""The error banner: a problem that affects every job, with the fix; hidden when all is well."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from wmtui.core.service import ServiceError
from wmtui.core.watchlist import WatchListError
from wmtui.ui.safe_text import safe_text
from wmtui.ui.widgets.cells import relative_time, same_look
from wmtui.ui.widgets.covered import HeldWhileCovered


class Banner(Static, HeldWhileCovered):
    """Shown above the table; the cached jobs stay visible and navigable below it."""

    _shown: Text | None = None

    def show_problem(self, text: Text | None, *, severity: str = "error") -> None:
        if text is None:
            self._shown = None
            if not self.display:
                return  # already hidden: every refresh calls this, and an update costs a layout
            self.display = False
            self.update(Text(""))
            return
        self.set_class(severity == "error", "-error")
        self.set_class(severity == "warning", "-warning")
        if self.display and self._shown is not None and same_look(self._shown, text):
            return  # the same words: a layout and a repaint of the screen for nothing
        self._shown = text
        self.update(text)
        self.display = True


def problem_text(
    watchlist_error: WatchListError | None,
    global_error: ServiceError | None,
    last_refresh: datetime | None,
    now: datetime,
    profile_errors: Mapping[str, ServiceError] | None = None,
) -> Text | None:
    """What the banner says: an unusable watch list, a problem that stops every call, and
    (jobs of several profiles) each profile a problem stops, named."""
    parts: list[Text] = []
    if watchlist_error is not None:
        parts.append(_watchlist_text(watchlist_error))
    if global_error is not None:
        text = Text("✖ ", style="bold")
        text.append(safe_text(global_error.message, style="bold", single_line=False))
        if global_error.fix:
            text.append("\n  Fix: ")
            text.append(safe_text(global_error.fix, single_line=False))
        when = relative_time(last_refresh, now) if last_refresh else "now"
        text.append(
            f"\n  The jobs below are the last known states (from cache). Tried {when};"
            " trying again by itself, or press r."
        )
        parts.append(text)
    for profile, error in sorted((profile_errors or {}).items()):
        parts.append(_profile_text(profile, error, last_refresh, now))
    return Text("\n").join(parts) if parts else None


def _profile_text(
    profile: str, error: ServiceError, last_refresh: datetime | None, now: datetime
) -> Text:
    text = Text("✖ Profile ", style="bold")
    text.append(safe_text(profile, style="bold"))
    text.append(": ", style="bold")
    text.append(safe_text(error.message, style="bold", single_line=False))
    if error.fix:
        text.append("\n  Fix: ")
        text.append(safe_text(error.fix, single_line=False))
    when = relative_time(last_refresh, now) if last_refresh else "now"
    text.append(
        f"\n  Its jobs show their last known states; the other profiles' jobs are read as"
        f" usual. Tried {when}; trying again by itself, or press r."
    )
    return text


def _watchlist_text(error: WatchListError) -> Text:
    text = Text("✖ The watch list cannot be used: ", style="bold")
    text.append(safe_text(error.problem, single_line=False))
    text.append("\n  File: ")
    text.append(safe_text(str(error.path)))
    if error.fix:
        text.append("\n  Fix: ")
        text.append(safe_text(error.fix, single_line=False))
    if error.can_move_aside:
        text.append("\n  Press ")
        text.append("M", style="bold reverse")
        text.append(" to move it aside (it is kept as a backup) and start a new one.")
    text.append("\n  Showing the jobs from the cache; nothing is written to that file.")
    return text
