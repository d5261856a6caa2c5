"""How a job reads as plain text: its state word, progress, mailbox, times and durations.

One policy for the app's cells (which add glyphs, colours and bars) and the CLI's tables. No
escaping here: each caller makes untrusted text safe for where it goes (the terminal or a
widget), and the words come back exactly as the API or the names cache gave them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from wmtui.core.models import ExportJob, JobState, Mailbox


def has_been_read(job: ExportJob | None) -> bool:
    """Whether the job was ever read: a job only on the watch list has no state to show."""
    return job is not None and job.last_seen is not None


def state_word(job: ExportJob) -> str:
    """The state as the API said it; a state this version does not know keeps its raw word."""
    if job.state is JobState.UNKNOWN:
        return job.raw_state or "UNKNOWN"
    return job.state.value


def progress_percent(progress: int, *, width: int = 0) -> str:
    """'42%', or right-aligned in `width` digits so a column of bars lines up."""
    return f"{progress:>{width}d}%"


def mailbox_name(job: ExportJob | None, mailbox: Mailbox | str | None) -> str | None:
    """Who the mailbox is once known (display name, name, email), else its EntityId, else None."""
    name = mailbox.label if isinstance(mailbox, Mailbox) else mailbox
    if name:
        return name
    if job is None or not job.entity_id:
        return None
    return job.entity_id


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


def precise_span(seconds: float) -> str:
    """A duration to the second under an hour, for a line read once: 45s, 12m05s, 3h20m, 2d04h."""
    total = max(0, round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


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
    """'2026-03-01 09:14:22 UTC' for the detail pane, '—' when unknown."""
    if when is None:
        return "—"
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def compact_timestamp(when: datetime | None) -> str:
    """'2026-03-01 09:14:22Z' for a table column, '-' when unknown."""
    if when is None:
        return "-"
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def iso_timestamp(when: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as JSON output gives times; None stays None."""
    if when is None:
        return None
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


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
