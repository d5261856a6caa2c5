"""Coverage: every mailbox of an organization, which group an admin acts on, and the deadline.

Pure: no textual, no boto3, no clock of its own (every function takes `now`).

    rows = coverage_rows(mailboxes, jobs, now=now, cutoff=cutoff)   # one row per mailbox
    counts = group_counts(rows)
    deadline = project_deadline(rows, jobs, now=now, end_of_support=date(2027, 3, 31))
    plan = plan_starts(marked_rows, running=3, now=now)              # the 10-slot and 24-hour rules

The groups, first rule that holds wins:
  running        a job of the mailbox is RUNNING
  verified       its newest good COMPLETED export started on or after the cut-off, and S3 proved it
  exported       the same, not verified (yet)
  failed         its newest job FAILED or was CANCELLED, or its export is missing/empty in S3
  stale          it has a good export, but only from before the cut-off
  disabled       a disabled (or deleted) mailbox with none of the above: the service refuses it
  not exported   none of the above
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox
from wmtui.core.verification import NOT_CHECKED_LABEL, verification_of

END_OF_SUPPORT = date(2027, 3, 31)
# WorkMail's limits: 10 exports running per organization, one export per mailbox per 24 hours.
MAX_RUNNING = 10
EXPORT_WINDOW = timedelta(hours=24)
# Fewer days than this left: the deadline shows as a warning whatever the projection says.
WARN_DAYS = 14
# The observed pace counts the exports that finished within this window.
PACE_WINDOW = timedelta(days=7)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

DISABLED_WHY = (
    "WorkMail exports only enabled mailboxes (StartMailboxExportJob refuses a disabled one):"
    " enable it, export it, then disable it again"
)


class Group(StrEnum):
    """What an admin does next about a mailbox, in the order the screen shows them."""

    NOT_EXPORTED = "not exported"
    FAILED = "failed"
    RUNNING = "running"
    EXPORTED = "exported, not verified"
    VERIFIED = "verified"
    STALE = "stale"
    DISABLED = "disabled"

    @property
    def order(self) -> int:
        return _GROUP_ORDER[self]

    @property
    def is_out(self) -> bool:
        """Safely exported after the cut-off (verified or, until checked, COMPLETED)."""
        return self in (Group.EXPORTED, Group.VERIFIED)


_GROUP_ORDER = {group: index for index, group in enumerate(Group)}


class Proof(StrEnum):
    """What S3 said of a COMPLETED export, as far as coverage cares."""

    VERIFIED = "verified"
    PROBLEM = "problem"  # missing, empty, wrong key: the export must be redone
    UNCHECKED = "unchecked"  # never checked, or the check could not say


def proof_of(job: ExportJob) -> tuple[Proof, str]:
    """(proof, words) from the verification kept on the job (issue 12's check in S3)."""
    found = verification_of(job)
    if found is None:
        return Proof.UNCHECKED, NOT_CHECKED_LABEL if _completed(job) else ""
    if found.outcome.is_proof:
        return Proof.VERIFIED, found.summary
    if found.outcome.is_problem:
        return Proof.PROBLEM, found.summary
    return Proof.UNCHECKED, found.summary


def _completed(job: ExportJob) -> bool:
    return job.state is JobState.COMPLETED


def _started(job: ExportJob) -> datetime:
    return job.start_time or _EPOCH


@dataclass(frozen=True)
class CoverageRow:
    """One mailbox: who it is, its group, and the job that decided it."""

    mailbox: Mailbox
    group: Group
    # The job shown: the running one, the good export, or the newest job otherwise.
    job: ExportJob | None
    proof: Proof = Proof.UNCHECKED
    proof_words: str = ""
    size_mb: float | None = None
    # When the 24-hour rule lets it be exported again (None: now).
    eligible_at: datetime | None = None
    jobs: int = 0  # how many jobs were seen for it

    @property
    def entity_id(self) -> str:
        return self.mailbox.entity_id

    @property
    def enabled(self) -> bool:
        return (self.mailbox.state or "ENABLED").upper() == "ENABLED"

    @property
    def kind(self) -> str:
        return "resource" if self.mailbox.kind.upper() != "USER" else "user"

    def age(self, now: datetime) -> timedelta | None:
        """How long ago the shown job started."""
        if self.job is None or self.job.start_time is None:
            return None
        return now - self.job.start_time

    def haystack(self) -> str:
        """What the filter matches, case-folded."""
        m = self.mailbox
        parts = (m.display_name, m.name, m.email, m.entity_id, self.group.value, self.kind)
        job = self.job
        extra = (job.job_id, job.state.value) if job is not None else ()
        return "\n".join(p for p in (*parts, *extra) if p).casefold()


# ---- grouping --------------------------------------------------------------------------------


def mailbox_aliases(mailboxes: Iterable[Mailbox]) -> dict[str, str]:
    """Every spelling a job's EntityId may use (ID, email, user name; case-folded) -> entity ID."""
    aliases: dict[str, str] = {}
    for mailbox in mailboxes:
        aliases[mailbox.entity_id.casefold()] = mailbox.entity_id
    for mailbox in mailboxes:
        for alias in (mailbox.email, mailbox.name):
            if alias:
                aliases.setdefault(alias.casefold(), mailbox.entity_id)
    return aliases


def jobs_by_mailbox(
    mailboxes: Sequence[Mailbox], jobs: Iterable[ExportJob]
) -> dict[str, list[ExportJob]]:
    """Each mailbox's jobs, newest first; jobs for mailboxes not in the list are left out."""
    ids = {mailbox.entity_id for mailbox in mailboxes}
    aliases: dict[str, str] | None = None  # made only when a job names a mailbox otherwise
    found: dict[str, list[ExportJob]] = {}
    for job in jobs:
        entity: str | None = job.entity_id or ""
        if entity not in ids:
            if aliases is None:
                aliases = mailbox_aliases(mailboxes)
            entity = aliases.get((job.entity_id or "").casefold())
        if entity is not None:
            found.setdefault(entity, []).append(job)
    for listed in found.values():
        listed.sort(key=lambda j: (_started(j), j.job_id), reverse=True)
    return found


def classify(
    mailbox: Mailbox,
    jobs: Sequence[ExportJob],
    *,
    cutoff: datetime | None = None,
    proof: Callable[[ExportJob], tuple[Proof, str]] = proof_of,
) -> tuple[Group, ExportJob | None, Proof, str]:
    """The mailbox's group, the job that decided it, and what S3 said of that job.

    `jobs` in any order. The first rule of the module docstring that holds wins."""
    ordered = sorted(jobs, key=lambda j: (_started(j), j.job_id), reverse=True)
    running = next((j for j in ordered if j.state is JobState.RUNNING), None)
    if running is not None:
        return Group.RUNNING, running, Proof.UNCHECKED, ""
    good: tuple[ExportJob, Proof, str] | None = None
    problem: tuple[ExportJob, str] | None = None
    for job in ordered:
        if not _completed(job):
            continue
        said, words = proof(job)
        if said is Proof.PROBLEM:
            problem = problem or (job, words)
            continue
        good = (job, said, words)
        break
    if good is not None and (cutoff is None or _started(good[0]) >= cutoff):
        job, said, words = good
        return (Group.VERIFIED if said is Proof.VERIFIED else Group.EXPORTED), job, said, words
    newest = ordered[0] if ordered else None
    if newest is not None and newest.state in (JobState.FAILED, JobState.CANCELLED):
        return Group.FAILED, newest, Proof.UNCHECKED, ""
    if problem is not None and (good is None or _started(problem[0]) > _started(good[0])):
        return Group.FAILED, problem[0], Proof.PROBLEM, problem[1]
    if good is not None:
        job, said, words = good
        return Group.STALE, job, said, words
    if (mailbox.state or "ENABLED").upper() != "ENABLED":
        return Group.DISABLED, newest, Proof.UNCHECKED, ""
    return Group.NOT_EXPORTED, newest, Proof.UNCHECKED, ""


def eligible_at(jobs: Iterable[ExportJob], now: datetime) -> datetime | None:
    """When the 24-hour rule lets the mailbox be exported again; None if it may be now.

    As the service counts: a RUNNING or COMPLETED export started within the last 24 hours."""
    latest: datetime | None = None
    for job in jobs:
        if job.state not in (JobState.RUNNING, JobState.COMPLETED) or job.start_time is None:
            continue
        free = job.start_time + EXPORT_WINDOW
        if free > now and (latest is None or free > latest):
            latest = free
    return latest


def coverage_rows(
    mailboxes: Sequence[Mailbox],
    jobs: Iterable[ExportJob],
    *,
    now: datetime,
    cutoff: datetime | None = None,
    sizes: Mapping[str, float] | None = None,
    proof: Callable[[ExportJob], tuple[Proof, str]] = proof_of,
) -> list[CoverageRow]:
    """One row per mailbox, in the screen's order: group, then name."""
    by_mailbox = jobs_by_mailbox(mailboxes, merge_jobs(jobs).values())
    sizes = sizes or {}
    rows: list[CoverageRow] = []
    for mailbox in mailboxes:
        own = by_mailbox.get(mailbox.entity_id)
        size = sizes.get(mailbox.entity_id)
        if own is None:
            # Most mailboxes of a large organization: no job, nothing to weigh.
            enabled = mailbox.state is None or mailbox.state.upper() == "ENABLED"
            group = Group.NOT_EXPORTED if enabled else Group.DISABLED
            rows.append(CoverageRow(mailbox, group, None, size_mb=size))
            continue
        group, job, said, words = classify(mailbox, own, cutoff=cutoff, proof=proof)
        if size is None:
            size = _size_from_jobs(own)
        rows.append(
            CoverageRow(
                mailbox=mailbox,
                group=group,
                job=job,
                proof=said,
                proof_words=words,
                size_mb=size,
                eligible_at=eligible_at(own, now),
                jobs=len(own),
            )
        )
    order = _GROUP_ORDER
    rows.sort(key=lambda r: (order[r.group], *_name_key(r.mailbox)))
    return rows


def _name_key(mailbox: Mailbox) -> tuple[str, str]:
    label = mailbox.display_name or mailbox.name or mailbox.email or mailbox.entity_id
    return label.casefold(), mailbox.entity_id


def _size_from_jobs(jobs: Iterable[ExportJob]) -> float | None:
    """A mailbox's size as a verification of one of its jobs recorded it, if any did."""
    for job in jobs:
        if job.verification is not None and job.verification.mailbox_size_mb is not None:
            return job.verification.mailbox_size_mb
    return None


def merge_jobs(jobs: Iterable[ExportJob]) -> dict[JobKey, ExportJob]:
    """One record per job: later records in `jobs` over earlier ones (give the freshest last)."""
    merged: dict[JobKey, ExportJob] = {}
    for job in jobs:
        known = merged.get(job.key)
        merged[job.key] = known.merged_with(job) if known is not None else job
    return merged


def group_counts(rows: Iterable[CoverageRow]) -> dict[Group, int]:
    counts = dict.fromkeys(Group, 0)
    for row in rows:
        counts[row.group] += 1
    return counts


def all_covered(rows: Iterable[CoverageRow]) -> bool:
    """Every enabled mailbox is verified or exported after the cut-off."""
    return all(row.group.is_out for row in rows if row.enabled)


# ---- sorting and filtering ---------------------------------------------------------------------


class SortKey(StrEnum):
    GROUP = "group"
    NAME = "name"
    SIZE = "size"
    STATE = "state"
    AGE = "age"

    def next(self) -> SortKey:
        members = list(SortKey)
        return members[(members.index(self) + 1) % len(members)]


def sort_rows(rows: Iterable[CoverageRow], key: SortKey, now: datetime) -> list[CoverageRow]:
    """Rows in `key`'s order; ties by name. Size and age put the largest/oldest first."""

    if key is SortKey.GROUP:  # one sort: the group, then the name
        order = _GROUP_ORDER
        return sorted(rows, key=lambda r: (order[r.group], *_name_key(r.mailbox)))
    listed = sorted(rows, key=lambda r: _name_key(r.mailbox))
    if key is SortKey.NAME:
        return listed
    if key is SortKey.SIZE:
        return sorted(listed, key=lambda r: -(r.size_mb if r.size_mb is not None else -1.0))
    if key is SortKey.STATE:
        # Rows without a job ("—") after every state.
        return sorted(listed, key=lambda r: r.job.state.value if r.job is not None else "~")
    if key is SortKey.AGE:

        def age(row: CoverageRow) -> float:
            # Never exported is the oldest of all.
            found = row.age(now)
            return -(found.total_seconds() if found is not None else float("inf"))

        return sorted(listed, key=age)
    return listed


def filter_rows(
    rows: Iterable[CoverageRow], text: str = "", groups: Iterable[Group] | None = None
) -> list[CoverageRow]:
    """The rows whose text holds every word of `text`, in `groups` (None: all)."""
    words = text.casefold().split()
    wanted = set(groups) if groups is not None else None
    if not words and wanted is None:
        return list(rows)
    return [
        row
        for row in rows
        if (wanted is None or row.group in wanted) and all(word in row.haystack() for word in words)
    ]


# ---- starting: the 10 slots and the 24-hour rule -------------------------------------------------


def eligible_words(when: datetime, now: datetime) -> str:
    """'eligible in 3h 10m' (rounded up to the minute)."""
    minutes = max(1, -(-int((when - now).total_seconds()) // 60))
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"eligible in {hours}h {minutes}m"
    return f"eligible in {minutes}m"


@dataclass
class StartPlan:
    """What to do with the mailboxes asked for: start now, wait, or refuse (with why)."""

    now: list[CoverageRow] = field(default_factory=list)
    # Waiting for a slot (None) or for the 24 hours to pass (the time it may start).
    queued: list[tuple[CoverageRow, datetime | None]] = field(default_factory=list)
    refused: list[tuple[CoverageRow, str]] = field(default_factory=list)


def plan_starts(
    rows: Iterable[CoverageRow], *, running: int, now: datetime, max_running: int = MAX_RUNNING
) -> StartPlan:
    """Which of `rows` start now within the free slots; the rest wait or are refused."""
    plan = StartPlan()
    free = max(0, max_running - running)
    for row in rows:
        if not row.enabled:
            plan.refused.append((row, f"{row.mailbox.label} is disabled: {DISABLED_WHY}"))
        elif row.group is Group.RUNNING:
            plan.refused.append((row, f"{row.mailbox.label} is being exported already"))
        elif row.eligible_at is not None and row.eligible_at > now:
            plan.queued.append((row, row.eligible_at))
        elif free > 0:
            plan.now.append(row)
            free -= 1
        else:
            plan.queued.append((row, None))
    return plan


# ---- the deadline ----------------------------------------------------------------------------


def end_of(day: date) -> datetime:
    """The first instant after `day` (UTC): support ends when the day does."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


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
        days_left=(end_of_support - now.date()).days,
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


def cutoff_instant(day: date | None) -> datetime | None:
    """A cut-off date as the first instant of that day, UTC."""
    return None if day is None else datetime.combine(day, time(0), tzinfo=UTC)


# ---- words shared by the CLI and the screen ------------------------------------------------------


def size_text(size_mb: float | None) -> str:
    """'812 MB', '4.2 GB', or '—' when the size is not known."""
    if size_mb is None:
        return "—"
    if size_mb >= 1024:
        return f"{size_mb / 1024:.1f} GB"
    return f"{size_mb:.0f} MB"


def row_note(row: CoverageRow, now: datetime) -> str:
    """What else an admin needs to know of the row: why not, when, what S3 said."""
    if row.group is Group.DISABLED:
        return "disabled: WorkMail does not export it"
    parts: list[str] = []
    if row.group is Group.FAILED and row.job is not None and row.job.error_info:
        parts.append(row.job.error_info)
    elif row.proof_words and row.group is not Group.EXPORTED:
        parts.append(row.proof_words)
    if row.eligible_at is not None and row.eligible_at > now and row.group is not Group.RUNNING:
        parts.append(eligible_words(row.eligible_at, now))
    if not row.enabled:
        parts.append("disabled")
    return "; ".join(parts)
