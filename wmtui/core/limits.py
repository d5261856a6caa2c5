"""Why WorkMail refused to start an export (LimitExceededException), in words a person can act on.

The service sends one error code for two rules: at most 10 exports running per organization, and
one export per mailbox per 24 hours. The organization's jobs (ListMailboxExportJobs) say which
rule it was, and when the mailbox may be exported again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from wmtui.core.display import compact_timestamp, short_span
from wmtui.core.export.planning import RECENT_EXPORT_WINDOW
from wmtui.core.models import ExportJob, JobState, now_utc
from wmtui.core.service import ExportService, ServiceError

# WorkMail's own limit of exports running at once in one organization.
MAX_RUNNING_PER_ORGANIZATION = 10
LIMITS_NOTE = (
    "WorkMail runs at most 10 exports at once per organization and one export per mailbox"
    " per 24 hours"
)


def eligible_again_at(
    jobs: Iterable[ExportJob], entity_ids: Collection[str], now: datetime
) -> tuple[ExportJob, datetime] | None:
    """The mailbox's export that holds the 24-hour rule, and when the rule lets it go again;
    None when no RUNNING or COMPLETED export of it started within the last 24 hours."""
    latest: tuple[ExportJob, datetime] | None = None
    for job in jobs:
        if (
            job.entity_id not in entity_ids
            or job.state not in (JobState.RUNNING, JobState.COMPLETED)
            or job.start_time is None
        ):
            continue
        free = job.start_time + RECENT_EXPORT_WINDOW
        if free > now and (latest is None or free > latest[1]):
            latest = (job, free)
    return latest


# How an explained refusal begins (see `names_the_rule`).
_ONCE_A_DAY = "WorkMail exports a mailbox at most once per 24 hours"
_RUNNING = "exports are running in the organization"


def names_the_rule(message: str) -> bool:
    """Whether `message` is one `explain_limit` wrote (it names the rule that refused)."""
    return message.startswith(_ONCE_A_DAY) or _RUNNING in message


def limit_explanation(
    jobs: Iterable[ExportJob], entity_ids: Collection[str], now: datetime
) -> tuple[str, str] | None:
    """(what happened, what to do) for a refused start, from the organization's jobs; None
    when they show neither rule at work (the service's own words are then the best)."""
    jobs = list(jobs)
    held = eligible_again_at(jobs, entity_ids, now)
    if held is not None:
        job, free = held
        wait = (free - now).total_seconds()
        return (
            f"{_ONCE_A_DAY}, and this one was exported by job {job.job_id} "
            f"({job.state.value}, started {compact_timestamp(job.start_time)})",
            f"it can be exported again from {compact_timestamp(free)}, in {short_span(wait)}",
        )
    running = sum(1 for job in jobs if job.state is JobState.RUNNING)
    if running >= MAX_RUNNING_PER_ORGANIZATION:
        return (
            f"{running} {_RUNNING}, and WorkMail runs at most "
            f"{MAX_RUNNING_PER_ORGANIZATION} at once",
            "start it again once one of them has ended",
        )
    return None


def explain_limit(
    service: ExportService,
    region: str,
    organization_id: str,
    entity_ids: Collection[str],
    error: ServiceError,
    now: datetime | None = None,
) -> None:
    """Put the rule that refused a start in `error` (one ListMailboxExportJobs); when the jobs
    cannot be read or show neither rule, the service's own words stay."""
    try:
        jobs = service.list_jobs(region, organization_id)
    except ServiceError:
        return
    explained = limit_explanation(jobs, entity_ids, now or now_utc())
    if explained is not None:
        error.message, error.fix = explained
