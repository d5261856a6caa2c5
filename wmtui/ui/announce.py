"""What the jobs screen tells a person in passing: exports that finished, and the empty table."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from rich.text import Text

from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.ui.notifications import send_job_events
from wmtui.ui.safe_text import sanitize

if TYPE_CHECKING:
    from wmtui.core.board import BoardChange
    from wmtui.ui.screens.jobs import JobsScreen

# An organization export's summary names at most this many failed mailboxes.
SUMMARY_NAMES = 3
# More endings than this in one refresh share one notice (and one bell): ten notices stacked
# hide the screen, and each one's coming and going repaints its rows over a slow link.
NOTICES_EACH = 3
NOTIFY_TIMEOUT = 12


def empty_text() -> Text:
    """What the table's place shows while no job is watched."""
    text = Text()
    text.append("No jobs watched yet.\n\n", style="bold")
    text.append("  a  ", style="reverse")
    text.append("  add export jobs by region, organization and job ID\n")
    text.append("  i  ", style="reverse")
    text.append("  import an organization's jobs of the last 7 days\n\n")
    text.append("Or look around first: ")
    text.append("wmtui --demo", style="bold")
    return text


def refreshed(screen: JobsScreen, change: BoardChange) -> None:
    """What a refresh saw end: notices and bell, and the notify_command's events."""
    finished_jobs(screen, change.finished, screen.export_flow.started_keys)
    send_job_events(screen, change.ended)


def described(screen: JobsScreen, job: ExportJob) -> None:
    """A job a Describe found finished: its notice and bell, and its event."""
    one_job(screen, job)
    send_job_events(screen, [job])


def finished_jobs(
    screen: JobsScreen, finished: Sequence[ExportJob], from_org_export: Collection[JobKey]
) -> None:
    """Tell what a refresh saw finish: a notice (and bell) per job, up to NOTICES_EACH of them,
    else one summary; the jobs an organization export started share a summary of their own."""
    from_exports = [job for job in finished if job.key in from_org_export]
    others = [job for job in finished if job.key not in from_org_export]
    if len(others) > NOTICES_EACH:
        _summary(screen, others, title="Exports finished")
    else:
        for job in others:
            one_job(screen, job)
    if from_exports:
        _summary(screen, from_exports, title="Organization export")


def _summary(screen: JobsScreen, jobs: Sequence[ExportJob], *, title: str) -> None:
    """'12 exports completed, 1 failed: Carol Danvers', and one bell, for many jobs at once."""
    completed = sum(1 for job in jobs if job.state is JobState.COMPLETED)
    failed = [job for job in jobs if job.state is not JobState.COMPLETED]
    parts: list[str] = []
    if completed:
        parts.append(f"{completed} export{'s' if completed != 1 else ''} completed")
    if failed:
        who = [screen.name_for(job.key, job) or job.entity_id or "?" for job in failed]
        shown = ", ".join(who[:SUMMARY_NAMES])
        if len(who) > SUMMARY_NAMES:
            shown += f" and {len(who) - SUMMARY_NAMES} more"
        noun = "" if completed else f" export{'s' if len(failed) != 1 else ''}"
        parts.append(f"{len(failed)}{noun} failed: {shown}")
    if screen.settings.bell:
        screen.app.bell()
    if not screen.settings.toasts:
        return
    screen.notify(
        sanitize(", ".join(parts), limit=300),
        title=title,
        severity="error" if failed else "information",
        markup=False,
        timeout=NOTIFY_TIMEOUT,
    )


def one_job(screen: JobsScreen, job: ExportJob) -> None:
    """'Export completed: Alice (job …)', or FAILED with the service's reason; and the bell."""
    key = job.key
    who = screen.name_for(key, job) or job.entity_id or "?"
    if job.state is JobState.COMPLETED:
        message = f"Export completed: {who} (job {key.job_id})"
        severity = "information"
    else:
        message = f"Export FAILED: {who} (job {key.job_id})"
        if job.error_info:
            message += f": {job.error_info}"
        severity = "error"
    if screen.settings.toasts:
        screen.notify(
            sanitize(message, limit=300),
            severity=severity,  # type: ignore[arg-type]
            markup=False,
            timeout=NOTIFY_TIMEOUT,
        )
    if screen.settings.bell:
        screen.app.bell()
