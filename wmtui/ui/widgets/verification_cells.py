"""How a verification looks in the app: the table's mark, the detail pane's lines, the status
line's count. The words come from `wmtui.core.verification`; text from S3 goes through
safe_text."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.style import Style
from rich.text import Text

from wmtui.core.display import relative_time
from wmtui.core.models import ExportJob
from wmtui.core.verification import (
    Outcome,
    count_outcomes,
    human_size,
    is_checkable,
    verification_of,
)
from wmtui.ui.safe_text import safe_text
from wmtui.ui.widgets.cells import BAR_WIDTH, Palette

__all__ = [
    "VerificationCount",
    "verification_cell",
    "verification_lines",
    "verification_status",
]

# Nine cells, as wide as the progress bar it stands in for (a COMPLETED job's bar says 100%).
_CELL_WORDS: dict[Outcome, str] = {
    Outcome.VERIFIED: "✓ in S3",
    Outcome.MISSING: "✗ missing",
    Outcome.EMPTY: "✗ empty",
    Outcome.WRONG_KEY: "✗ bad key",
    Outcome.SUSPICIOUS: "? small",
    Outcome.FORBIDDEN: "! denied",
    Outcome.ERROR: "! error",
}


def _style(outcome: Outcome, palette: Palette) -> Style:
    if outcome is Outcome.VERIFIED:
        return palette.success + palette.bold
    if outcome.is_problem:
        return palette.error + palette.bold
    return palette.warning


def verification_cell(job: ExportJob | None, palette: Palette) -> Text | None:
    """The progress cell of a COMPLETED job once its object was checked; None otherwise
    (the usual bar shows)."""
    found = verification_of(job)
    if found is None:
        return None
    return Text(
        _CELL_WORDS[found.outcome].ljust(BAR_WIDTH + 5), style=_style(found.outcome, palette)
    )


def verification_lines(job: ExportJob, now: datetime, palette: Palette) -> list[tuple[str, Text]]:
    """The detail pane's fields about the object in S3 (none for a job not COMPLETED)."""
    if not is_checkable(job):
        return []
    found = job.verification
    if found is None:
        return [("In S3", Text("not verified yet (v checks it now)", style=palette.muted))]
    lines = [("In S3", Text(found.outcome.value, style=_style(found.outcome, palette)))]
    if found.error:
        lines.append(("", safe_text(found.error)))
    if found.object_size is not None:
        lines.append(
            ("Object size", Text(f"{human_size(found.object_size)} ({found.object_size} B)"))
        )
    if found.mailbox_size_mb is not None:
        lines.append(("Mailbox size", Text(f"{found.mailbox_size_mb:g} MB")))
    if found.etag:
        lines.append(("ETag", safe_text(found.etag)))
    if found.kms_key:
        lines.append(("Object's key", safe_text(found.kms_key)))
    lines.append(("Checked", Text(relative_time(found.checked_at, now))))
    return lines


def verification_status(jobs: Iterable[ExportJob]) -> str | None:
    """'12 verified, 1 missing' for the status line; None before any check."""
    counts = count_outcomes(jobs)
    if not counts:
        return None
    verified = counts.get(Outcome.VERIFIED, 0)
    missing = counts.get(Outcome.MISSING, 0)
    others = sum(counts.values()) - verified - missing
    words = f"✓ {verified} verified"
    if missing:
        words += f", ✗ {missing} missing"
    if others:
        words += f", {others} other"
    return words


class VerificationCount:
    """The status line's count, worked out once per change of the jobs, not on every redraw
    (the status line is redrawn every second, and counting 10,000 jobs takes milliseconds)."""

    def __init__(self) -> None:
        self._words: str | None = None
        self._stale = True

    def forget(self) -> None:
        """The jobs changed: count again when next asked."""
        self._stale = True

    def words(self, jobs: Iterable[ExportJob]) -> str | None:
        if self._stale:
            self._words = verification_status(jobs)
            self._stale = False
        return self._words
