"""The deadline: days left to the end of support, where an organization stands, and when it
would be done at the observed pace or with every slot busy; the deadline_risk notification.

Pure: no textual, no boto3, no clock of its own (every function takes `now`).

    deadline = project_deadline(rows, jobs, now=now, end_of_support=date(2027, 3, 31))
    deadline.short()     # the status line's '118d to 31 Mar 2027 · 120/300 out · on track'
    deadline.lines()     # the mailboxes screen's panel, and `wmtui coverage`'s
    event = deadline_risk_event(deadline, region=..., organization_id=..., now=now)
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from wmtui.core.coverage import (
    END_OF_SUPPORT,
    MAX_RUNNING,
    CoverageRow,
    Group,
    group_counts,
    merge_jobs,
)
from wmtui.core.models import ExportJob, JobState
from wmtui.core.notify import Event, deadline_event

# Fewer days than this left: the deadline shows as a warning whatever the projection says.
WARN_DAYS = 14
# The observed pace counts the exports that finished within this window.
PACE_WINDOW = timedelta(days=7)


def end_of(day: date) -> datetime:
    """The first instant after `day` (UTC): support ends when the day does."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def days_only(end_of_support: date, now: datetime) -> tuple[str, bool]:
    """The status line's form before any organization is read: days left, and whether that
    alone warns (fewer than WARN_DAYS)."""
    days = (end_of_support - now.date()).days
    return f"{max(0, days)}d to {end_of_support:%d %b %Y}", days < WARN_DAYS


@dataclass(frozen=True)
class Deadline:
    """Days left, where the organization stands, and when it would be done."""

    end_of_support: date
    days_left: int
    total: int  # enabled mailboxes
    verified: int
    exported: int  # verified or COMPLETED after the cut-off
    running: int
    left: int  # enabled mailboxes not exported (running ones included)
    # Exports finished per day over the last week; None without any.
    pace_per_day: float | None
    # When the rest would be done at that pace / with all 10 slots kept busy.
    finish_at_pace: datetime | None
    finish_full_slots: datetime | None

    @property
    def projected(self) -> datetime | None:
        """The projection the warning judges: the observed pace, else the slots' best case."""
        return self.finish_at_pace or self.finish_full_slots

    @property
    def late(self) -> bool:
        finish = self.projected
        return self.left > 0 and finish is not None and finish > end_of(self.end_of_support)

    @property
    def warning(self) -> bool:
        return self.left > 0 and (self.late or self.days_left < WARN_DAYS)

    def short(self) -> str:
        """The status line's form: '118d to 31 Mar 2027 · 120/300 out · on track'."""
        text = f"{max(0, self.days_left)}d to {self.end_of_support:%d %b %Y}"
        text += f" · {self.exported}/{self.total} out"
        if self.left == 0:
            return text + " · done"
        if self.late:
            return text + " · LATE"
        if self.projected is None:
            return text + " · no pace yet"
        return text + (" · hurry" if self.warning else " · on track")

    def lines(self) -> list[str]:
        """The panel's lines."""
        out = [
            f"End of support {self.end_of_support:%d %B %Y}: {max(0, self.days_left)} days left",
            f"{self.verified} verified · {self.exported} exported · {self.left} left"
            f" of {self.total} enabled mailboxes ({self.running} running)",
        ]
        if self.left == 0:
            out.append("Every enabled mailbox is exported.")
            return out
        if self.pace_per_day is not None and self.finish_at_pace is not None:
            out.append(
                f"At the pace of the last 7 days ({self.pace_per_day:.1f}/day):"
                f" done {self.finish_at_pace:%d %b %Y}"
            )
        else:
            out.append("No export finished in the last 7 days: no pace to project from.")
        finish = self.finish_full_slots
        if finish is not None:
            out.append(
                f"With {MAX_RUNNING} exports always running: done {finish:%d %b %Y %H:%M} UTC"
            )
        if self.late:
            out.append("⚠ The projection passes the end of support: start more exports.")
        elif self.days_left < WARN_DAYS:
            out.append(f"⚠ Fewer than {WARN_DAYS} days left.")
        return out


def observed_minutes_per_mb(jobs: Iterable[ExportJob], sizes: Mapping[str, float]) -> float | None:
    """Minutes an export took per MB of mailbox, over the finished jobs whose size is known."""
    minutes = 0.0
    megabytes = 0.0
    for job in jobs:
        size = sizes.get(job.entity_id or "")
        took = _took(job)
        if size and took is not None:
            minutes += took
            megabytes += size
    return minutes / megabytes if megabytes > 0 else None


def _took(job: ExportJob) -> float | None:
    if job.state is not JobState.COMPLETED or job.start_time is None or job.end_time is None:
        return None
    return max(0.0, (job.end_time - job.start_time).total_seconds() / 60)


def project_deadline(
    rows: Sequence[CoverageRow],
    jobs: Iterable[ExportJob],
    *,
    now: datetime,
    end_of_support: date = END_OF_SUPPORT,
    max_running: int = MAX_RUNNING,
) -> Deadline:
    """Where the organization stands and two projections of when it is done.

    Pace: exports COMPLETED in the last 7 days, per day; the mailboxes left at that pace.
    Slots: each mailbox left takes the observed minutes per MB times its size (the mean
    duration when either is unknown), run `max_running` at a time, largest first."""
    enabled = [row for row in rows if row.enabled]
    finished = list(merge_jobs(jobs).values())
    counts = group_counts(enabled)
    out = {Group.EXPORTED, Group.VERIFIED}
    left_rows = [row for row in enabled if row.group not in out]
    recent = [
        j
        for j in finished
        if _took(j) is not None and j.end_time is not None and now - j.end_time <= PACE_WINDOW
    ]
    pace = len(recent) / PACE_WINDOW.days if recent else None
    finish_at_pace = None
    if pace and left_rows:
        finish_at_pace = now + timedelta(days=len(left_rows) / pace)
    sizes = {row.entity_id: row.size_mb for row in rows if row.size_mb is not None}
    finish_slots = _finish_with_slots(left_rows, finished, sizes, now, max_running)
    return Deadline(
        end_of_support=end_of_support,
        days_left=(end_of_support - now.date()).days,  # as days_only()
        total=len(enabled),
        verified=counts[Group.VERIFIED],
        exported=counts[Group.EXPORTED] + counts[Group.VERIFIED],
        running=counts[Group.RUNNING],
        left=len(left_rows),
        pace_per_day=pace,
        finish_at_pace=finish_at_pace,
        finish_full_slots=finish_slots if left_rows else None,
    )


def _finish_with_slots(
    left: Sequence[CoverageRow],
    finished: Sequence[ExportJob],
    sizes: Mapping[str, float],
    now: datetime,
    slots: int,
) -> datetime | None:
    durations = [took for j in finished if (took := _took(j)) is not None]
    if not durations or not left:
        return None
    mean = sum(durations) / len(durations)
    per_mb = observed_minutes_per_mb(finished, sizes)
    needed: list[float] = []
    for row in left:
        if row.group is Group.RUNNING and row.job is not None and row.job.start_time is not None:
            # Already going: what is left of a mean export.
            spent = (now - row.job.start_time).total_seconds() / 60
            needed.append(max(1.0, mean - spent))
        elif per_mb is not None and row.size_mb is not None:
            needed.append(max(1.0, per_mb * row.size_mb))
        else:
            needed.append(mean)
    # Largest first onto the slot that frees first: a fair estimate of the makespan.
    lanes = [0.0] * max(1, slots)
    for minutes in sorted(needed, reverse=True):
        heapq.heapreplace(lanes, lanes[0] + minutes)
    return now + timedelta(minutes=max(lanes))


def deadline_risk_event(
    deadline: Deadline,
    *,
    region: str,
    organization_id: str,
    now: datetime,
    profile: str | None = None,
) -> Event | None:
    """The deadline_risk notification while the deadline warns; None otherwise.

    Sent once per organization, end of support and reason (the projection passes the end of
    support; fewer than 14 days are left), whoever sees it first: the app or `wmtui coverage`."""
    if not deadline.warning:
        return None
    reason = "projection_late" if deadline.late else "few_days_left"
    end = f"{deadline.end_of_support:%d %b %Y}"
    if deadline.late and deadline.projected is not None:
        detail = (
            f"projected to finish {deadline.projected:%d %b %Y}, after the end of support {end}"
        )
    else:
        detail = f"{max(0, deadline.days_left)} days left to the end of support {end}"
    detail += f"; {deadline.left} of {deadline.total} enabled mailboxes not exported"
    projected = deadline.projected
    return deadline_event(
        f"{region}/{organization_id}",
        f"{deadline.end_of_support.isoformat()}:{reason}",
        region=region,
        organization_id=organization_id,
        detail=detail,
        profile=profile,
        time=now,
        extra={
            "reason": reason,
            "end_of_support": deadline.end_of_support.isoformat(),
            "days_left": deadline.days_left,
            "projected_finish": projected.isoformat() if projected is not None else None,
            "mailboxes_left": deadline.left,
            "mailboxes_enabled": deadline.total,
            "mailboxes_exported": deadline.exported,
        },
    )
