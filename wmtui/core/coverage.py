"""Coverage: every mailbox of an organization, and which group an admin acts on.

Pure: no textual, no boto3, no clock of its own (every function takes `now`).

    rows = coverage_rows(mailboxes, jobs, now=now, cutoff=cutoff)   # one row per mailbox
    counts = group_counts(rows)
    deadline = project_deadline(rows, jobs, now=now)                 # wmtui.core.deadline
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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property

from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox
from wmtui.core.verification import NOT_CHECKED_LABEL, verification_of

END_OF_SUPPORT = date(2027, 3, 31)
# WorkMail's limits: 10 exports running per organization, one export per mailbox per 24 hours.
MAX_RUNNING = 10
EXPORT_WINDOW = timedelta(hours=24)
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

    @cached_property
    def name_key(self) -> tuple[str, str]:
        """The name order's key, worked out once per row (5,000 rows are sorted often)."""
        return _name_key(self.mailbox)

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
    previous: Iterable[CoverageRow] = (),
) -> list[CoverageRow]:
    """One row per mailbox, in the screen's order: group, then name.

    `previous` rows (an earlier grouping) are kept for mailboxes that had and have no job."""
    by_mailbox = jobs_by_mailbox(mailboxes, merge_jobs(jobs).values())
    sizes = sizes or {}
    kept = {row.entity_id: row for row in previous if row.job is None}
    rows: list[CoverageRow] = []
    for mailbox in mailboxes:
        own = by_mailbox.get(mailbox.entity_id)
        size = sizes.get(mailbox.entity_id)
        if own is None:
            # Most mailboxes of a large organization: no job, nothing to weigh.
            before = kept.get(mailbox.entity_id)
            if before is not None and before.mailbox is mailbox and before.size_mb == size:
                rows.append(before)
                continue
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
    rows.sort(key=lambda r: (order[r.group], r.name_key))
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
        return sorted(rows, key=lambda r: (order[r.group], r.name_key))
    listed = sorted(rows, key=lambda r: r.name_key)
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
