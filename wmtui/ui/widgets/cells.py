"""How a job looks in a table cell and in the detail pane: glyphs, bars, relative times.

Pure functions of a job, a palette and "now" (the app's injected clock), so the same job always
renders the same way in tests and snapshots. Untrusted strings go through `safe_text`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rich.style import Style
from rich.text import Text

from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.ui.safe_text import safe_text, sanitize


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


def short_span(seconds: float) -> str:
    """A duration a person reads at a glance: 45s, 12m, 3h05m, 2d4h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h"


def relative_time(when: datetime | None, now: datetime) -> str:
    """'3h ago', 'just now', 'in 5m' (a clock skewed ahead), or '—' when unknown."""
    if when is None:
        return "—"
    delta = (now - when).total_seconds()
    if -5 <= delta < 5:
        return "just now"
    if delta < 0:
        return "in " + _coarse(-delta)
    return _coarse(delta) + " ago"


def _coarse(seconds: float) -> str:
    """One unit only: the started column must not change every second."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def timestamp(when: datetime | None) -> str:
    if when is None:
        return "—"
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def eta_seconds(job: ExportJob, now: datetime) -> float | None:
    """Time left for a running job, from its progress rate so far; None if it cannot be told."""
    progress = job.progress
    if job.state is not JobState.RUNNING or job.start_time is None or not progress:
        return None
    elapsed = (now - job.start_time).total_seconds()
    if elapsed <= 0:
        return None
    return elapsed * (100 - progress) / progress


def duration_or_eta(job: ExportJob | None, now: datetime) -> str:
    """'14m' for a finished job, 'ETA 12m' for a running one, '—' when neither is known."""
    if job is None:
        return "—"
    if job.state.is_final and job.start_time and job.end_time:
        return short_span((job.end_time - job.start_time).total_seconds())
    remaining = eta_seconds(job, now)
    if remaining is not None:
        return "ETA " + short_span(remaining)
    if job.state is JobState.RUNNING and job.start_time is not None:
        return "ran " + short_span((now - job.start_time).total_seconds())
    return "—"


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
    text.append(f" {progress:>3d}%")
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
    if job is None or job.last_seen is None:
        return Text("… waiting", style=palette.muted)
    state = job.state
    word = state.value if state is not JobState.UNKNOWN else sanitize(job.raw_state or "UNKNOWN")
    return Text(f"{STATE_GLYPHS[state]} {word}", style=palette.for_state(state))


def job_id_text(key: JobKey) -> str:
    return cell_text(key.job_id, limit=JOB_ID_WIDTH).plain


def mailbox_label(job: ExportJob | None, mailbox: Mailbox | str | None) -> Text:
    """Who the mailbox is once known (display name, name, email), else its EntityId."""
    name = mailbox.label if isinstance(mailbox, Mailbox) else mailbox
    if name:
        return cell_text(name, limit=MAILBOX_WIDTH)
    if job is None or not job.entity_id:
        return Text("—", style="dim")
    return cell_text(job.entity_id, limit=MAILBOX_WIDTH)


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
