"""How a job looks in a table cell and in the detail pane: glyphs, bars, relative times.

Pure functions of a job, a palette and "now" (the app's injected clock), so the same job always
renders the same way in tests and snapshots. Untrusted strings go through `safe_text`. The words
(state, progress, mailbox, times, durations) come from `wmtui.core.display`, which the CLI's
tables use too; this module adds the glyphs, colours and bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.style import Style
from rich.text import Text

from wmtui.core.display import (
    duration_or_eta,
    eta_seconds,
    has_been_read,
    mailbox_name,
    progress_percent,
    relative_time,
    short_span,
    state_word,
    timestamp,
)
from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.ui.safe_text import safe_text, sanitize

# The plain-text helpers are re-exported: the screens and widgets import them from here.
__all__ = [
    "BAR_WIDTH",
    "DESCRIPTION_WIDTH",
    "JOB_ID_WIDTH",
    "MAILBOX_WIDTH",
    "STATE_GLYPHS",
    "Palette",
    "cell_text",
    "duration_or_eta",
    "error_label",
    "eta_seconds",
    "job_id_text",
    "mailbox_label",
    "progress_cell",
    "relative_time",
    "same_look",
    "search_text",
    "short_span",
    "state_cell",
    "timestamp",
]


def same_look(old: Text, new: Text) -> bool:
    """Whether two texts would look the same; Text == ignores the base style, so compare it too."""
    return old.plain == new.plain and old.style == new.style and old.spans == new.spans


STATE_GLYPHS: dict[JobState, str] = {
    JobState.RUNNING: "●",
    JobState.COMPLETED: "✔",
    JobState.FAILED: "✖",
    JobState.CANCELLED: "⊘",
    JobState.UNKNOWN: "?",
}

# The import list's job column; the job table sizes its columns to the terminal instead.
JOB_ID_WIDTH = 11
# Cells keep at most this much text: the table crops to its column with an ellipsis.
MAILBOX_WIDTH = 64
DESCRIPTION_WIDTH = 200
BAR_WIDTH = 4
_BAR_EIGHTHS = " ▏▎▍▌▋▊▉"


def cell_text(value: str | None, *, limit: int | None = None, style: str = "") -> Text:
    """`safe_text` for table cells, with a fast path for printable ASCII.

    Printable ASCII holds no control, format or separator character, so it needs no escaping;
    skipping the per-character check keeps a 10,000-row refresh cheap. Anything else goes
    through safe_text.
    """
    if value is None:
        return Text("", style=style)
    if value.isascii() and value.isprintable():
        if limit is not None and len(value) > limit:
            value = value[: limit - 1] + "…"
        return Text(value, style=style, overflow="ellipsis")
    text = safe_text(value, style, limit=limit)
    # A column narrower than the text crops it with "…" rather than mid-word without a sign.
    text.overflow = "ellipsis"
    return text


@dataclass(frozen=True)
class Palette:
    """Styles taken from the current theme, so a theme change recolours the table."""

    success: Style = field(default_factory=lambda: Style(color="green"))
    error: Style = field(default_factory=lambda: Style(color="red"))
    warning: Style = field(default_factory=lambda: Style(color="yellow"))
    accent: Style = field(default_factory=lambda: Style(color="cyan"))
    muted: Style = field(default_factory=lambda: Style(dim=True))
    bold: Style = field(default_factory=lambda: Style(bold=True))
    track: Style = field(default_factory=lambda: Style(bgcolor="grey23"))

    def for_state(self, state: JobState) -> Style:
        if state is JobState.RUNNING:
            return self.accent
        if state is JobState.COMPLETED:
            return self.success
        if state is JobState.FAILED:
            return self.error
        if state is JobState.CANCELLED:
            return self.warning
        return self.muted


def progress_cell(progress: int | None, palette: Palette, state: JobState) -> Text:
    """A small bar in eighths and the percentage, e.g. '██▌   42%'."""
    if progress is None:
        return Text("—".ljust(BAR_WIDTH + 5), style=palette.muted)
    cells = progress * BAR_WIDTH * 8 // 100
    full, part = divmod(cells, 8)
    bar = "█" * full + (_BAR_EIGHTHS[part] if part and full < BAR_WIDTH else "")
    bar = bar.ljust(BAR_WIDTH, " ")
    style = palette.for_state(state)
    text = Text()
    text.append(bar, style=style + palette.track)
    text.append(" " + progress_percent(progress, width=3))
    return text


def error_label(error: ServiceError) -> str:
    """A few words for a table cell: '! not found', '! access denied'."""
    if error.kind is ErrorKind.JOB_NOT_FOUND:
        return "! not found"
    return "! " + error.kind.value.replace("-", " ")


def state_cell(job: ExportJob | None, error: ServiceError | None, palette: Palette) -> Text:
    """Glyph and word, coloured: never colour alone. A read error takes the cell over."""
    if error is not None:
        return Text(error_label(error), style=palette.error + palette.bold)
    if job is None or not has_been_read(job):
        return Text("… waiting", style=palette.muted)
    word = sanitize(state_word(job))
    return Text(f"{STATE_GLYPHS[job.state]} {word}", style=palette.for_state(job.state))


def job_id_text(key: JobKey) -> str:
    return cell_text(key.job_id, limit=JOB_ID_WIDTH).plain


def mailbox_label(job: ExportJob | None, mailbox: Mailbox | str | None) -> Text:
    """Who the mailbox is once known (display name, name, email), else its EntityId."""
    name = mailbox_name(job, mailbox)
    if name is None:
        return Text("—", style="dim")
    return cell_text(name, limit=MAILBOX_WIDTH)


def search_text(job: ExportJob | None, key: JobKey, mailbox: Mailbox | str | None) -> str:
    """Everything `/` matches against, case-folded once: names and email included."""
    parts = [key.job_id, key.region, key.organization_id]
    if isinstance(mailbox, Mailbox):
        parts += [mailbox.display_name or "", mailbox.name or "", mailbox.email or ""]
    elif mailbox:
        parts.append(mailbox)
    if job is not None:
        parts += [
            job.entity_id or "",
            job.description or "",
            job.raw_state or job.state.value,
            job.error_info or "",
            job.s3_uri or "",
        ]
    return "\n".join(parts).casefold()
