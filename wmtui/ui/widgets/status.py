"""The status line: who we talk to, where, how fresh the data is, and what refresh is doing."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.text import Text

from wmtui.core.board import JobBoard
from wmtui.ui.safe_text import safe_text
from wmtui.ui.widgets.cells import Palette, relative_time, short_span
from wmtui.ui.widgets.covered import HeldWhileCovered
from wmtui.ui.widgets.steady import SteadyText

_SEPARATOR = " │ "


@dataclass(frozen=True)
class StatusInfo:
    target: str
    regions: Sequence[str]
    jobs: int
    running: int
    shown: int
    last_refresh: datetime | None
    next_refresh: datetime | None
    refreshing: bool
    paused: bool
    # Seconds between refreshes while backing off (None: the normal interval).
    backoff: float | None
    backoff_reason: str
    unreadable: int
    sort_label: str
    filter_text: str
    now: datetime
    # --read-only: said first, so no width cuts it off.
    read_only: bool = False
    # The last refresh that read anything (`last_refresh` is the last try), and whether the
    # last try failed as a whole.
    last_good_refresh: datetime | None = None
    last_try_failed: bool = False
    # The deadline's short form and whether it warns (None until the mailboxes screen has run).
    deadline: tuple[str, bool] | None = None
    # Proof in S3: "✓ 12 verified, ✗ 1 missing" (None before any check).
    verification: str | None = None


def freshness(board: JobBoard, *, read_only: bool) -> dict[str, Any]:
    """StatusInfo's fields about the mode and the last refreshes, from the board."""
    return {
        "read_only": read_only,
        "last_good_refresh": board.last_good_refresh,
        "last_try_failed": board.global_error is not None,
    }


# "endpoint http://127.0.0.1:8765": the host and port are what tells two endpoints apart.
_SCHEME = re.compile(r"\bendpoint https?://")


def _short_target(target: str) -> str:
    return _SCHEME.sub("endpoint ", target).rstrip("/")


def render_status(info: StatusInfo, palette: Palette) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    if info.read_only:
        out.append("read-only", style=palette.warning + palette.bold)
        out.append(_SEPARATOR, style=palette.muted)
    target = _short_target(info.target or "?")
    out.append(safe_text(target, limit=64))
    # The target often names the region already ("... · region us-east-1 · ...").
    regions = [region for region in info.regions if region not in target]
    if regions:
        out.append(" · ")
        out.append(safe_text(", ".join(regions), limit=30))
    out.append(_SEPARATOR, style=palette.muted)
    count = f"{info.jobs} job" + ("" if info.jobs == 1 else "s")
    if info.shown != info.jobs:
        count = f"{info.shown} of {count}"
    out.append(count)
    if info.running:
        out.append(f", {info.running} running", style=palette.accent)
    out.append(_SEPARATOR, style=palette.muted)
    _append_freshness(out, info, palette)
    if info.paused:
        out.append(" · auto-refresh ")
        out.append("paused", style=palette.warning + palette.bold)
        out.append(" (p)")
    elif info.next_refresh is not None and not info.refreshing:
        wait = (info.next_refresh - info.now).total_seconds()
        out.append(f" · next in {countdown(wait)}")
    if info.backoff is not None and not info.paused:
        out.append(_SEPARATOR, style=palette.muted)
        out.append(
            f"backing off: every {short_span(info.backoff)} ({info.backoff_reason})",
            style=palette.warning,
        )
    if info.unreadable:
        out.append(_SEPARATOR, style=palette.muted)
        out.append(f"! {info.unreadable} unreadable", style=palette.error + palette.bold)
    # Proof in S3 before the days left: a missing file is news, the date a reminder (a narrow
    # terminal cuts the line's end).
    if info.verification:
        out.append(_SEPARATOR, style=palette.muted)
        bad = "✗" in info.verification
        out.append(info.verification, style=palette.error + palette.bold if bad else "")
    if info.deadline is not None:
        words, warning = info.deadline
        out.append(_SEPARATOR, style=palette.muted)
        out.append(words, style=palette.warning + palette.bold if warning else "")
    out.append(_SEPARATOR, style=palette.muted)
    out.append(f"sort: {info.sort_label}")
    if info.filter_text:
        out.append(_SEPARATOR, style=palette.muted)
        out.append("filter: ")
        out.append(safe_text(info.filter_text, str(palette.accent), limit=20))
    return out


def minutes_ago(when: datetime, now: datetime) -> str:
    """'just now' for the first minute, then '3m ago', '2h ago': the status line's text then
    changes once a minute at most, and each change is a line sent to the terminal."""
    if 0 <= (now - when).total_seconds() < 60:
        return "just now"
    return relative_time(when, now)


def countdown(seconds: float) -> str:
    """Time to the next refresh, in steps of ten seconds under a minute ('30s', '20s', '10s'),
    then in minutes: a new text, and a line sent to the terminal, every ten seconds at most."""
    if seconds >= 60:
        return short_span(seconds)
    return f"{10 * math.ceil(max(0.0, seconds) / 10)}s"


def _append_freshness(out: Text, info: StatusInfo, palette: Palette) -> None:
    """How fresh the data is: after a failed try, when the last good refresh was."""
    if info.refreshing:
        out.append("refreshing…", style=palette.accent)
        return
    good = info.last_good_refresh if info.last_try_failed else info.last_refresh
    if good is not None:
        out.append(f"refreshed {minutes_ago(good, info.now)}")
    else:
        out.append("not refreshed yet", style=palette.muted)
    if info.last_try_failed and info.last_refresh is not None:
        out.append(" · ")
        out.append(
            f"last try failed {minutes_ago(info.last_refresh, info.now)}",
            style=palette.error + palette.bold,
        )


class StatusLine(SteadyText, HeldWhileCovered):
    """One line at the top; the app sets its text with `show`: the same text again repaints
    nothing, and nothing is painted while another full screen covers this one (see
    HeldWhileCovered)."""

    # One line of fixed height: no screen-wide layout pass for a new status text.
    FIXED_HEIGHT = True
