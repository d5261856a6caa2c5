"""`wmtui coverage ORG`: every mailbox in the group an admin acts on, and the deadline.

Exit 0 when every enabled mailbox has a verified (or, until checked, COMPLETED) export newer
than the cut-off, 1 otherwise; the usual 252-255 when the mailboxes cannot be read at all, or
when the jobs could not be listed (the rows then come from saved states and the cache).
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from typing import Any

from wmtui.cli.arguments import resolve_region
from wmtui.cli.errors import EXIT_BAD_PARAMETERS, EXIT_OK, CliError
from wmtui.cli.notifications import profile_of, send_events
from wmtui.cli.output import error_line, json_dump, note, plain, say, table_lines
from wmtui.core.coverage import (
    CoverageRow,
    Group,
    all_covered,
    coverage_rows,
    cutoff_instant,
    group_counts,
    row_note,
    size_text,
)
from wmtui.core.deadline import Deadline, deadline_risk_event, project_deadline
from wmtui.core.display import iso_timestamp, relative_time
from wmtui.core.models import now_utc, validate_organization_id
from wmtui.factory import Backend

# Exit code when some enabled mailbox is not safely out yet.
EXIT_NOT_COVERED = 1


def add_coverage_command(add_command: Any) -> None:
    """The `coverage` subcommand's arguments (called from the parser)."""
    coverage = add_command(
        "coverage",
        help="every mailbox of an organization by what is left to do, and the deadline",
        description="One row per mailbox (users and resources, enabled and disabled) in the "
        "group an admin acts on: not exported, failed, running, exported but not verified, "
        "verified, stale (exported before --cutoff), disabled. Then the deadline: days left "
        "to the end of support (end_of_support setting) and a projected finish. Exit 0 when "
        "every enabled mailbox is verified or exported after the cut-off, 1 otherwise.",
    )
    coverage.add_argument("organization_id", metavar="ORG_ID")
    coverage.add_argument("--json", action="store_true", help="JSON: groups, rows and deadline")
    coverage.add_argument(
        "--cutoff",
        metavar="DATE",
        help="exports started before DATE (YYYY-MM-DD, UTC) count as stale",
    )


def _cutoff(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CliError(
            f"--cutoff {plain(text)!r} is not a date", "use YYYY-MM-DD", EXIT_BAD_PARAMETERS
        ) from None


def cmd_coverage(args: argparse.Namespace, backend: Backend) -> int:
    from wmtui.core.coverage_read import read_coverage
    from wmtui.core.export import find_exports

    region = resolve_region(backend)
    organization = validate_organization_id(args.organization_id)
    cutoff_day = _cutoff(args.cutoff)
    snapshots = find_exports(backend.settings.data_dir, region=region, organization_id=organization)
    data = read_coverage(
        backend.service,
        backend.names,
        region,
        organization,
        known=backend.cache.load().values(),
        snapshots=snapshots,
    )
    if data.jobs_error is not None:
        error = data.jobs_error
        note(error_line(f"jobs not listed now, saved states used: {error.message}", error.fix))
    now = now_utc()
    rows = coverage_rows(data.mailboxes, data.jobs, now=now, cutoff=cutoff_instant(cutoff_day))
    deadline = project_deadline(
        rows, data.jobs, now=now, end_of_support=backend.settings.end_of_support
    )
    if args.json:
        say(json_dump(_document(organization, region, cutoff_day, rows, deadline, now)))
    else:
        _print_text(rows, deadline, now)
    risk = deadline_risk_event(
        deadline,
        region=region,
        organization_id=organization,
        now=now,
        profile=profile_of(backend, region, organization),
    )
    if risk is not None:
        send_events(backend, [risk])
    if data.jobs_error is not None:
        return data.jobs_error.exit_code
    return EXIT_OK if all_covered(rows) else EXIT_NOT_COVERED


def _cells(row: CoverageRow, now: datetime) -> list[str]:
    mailbox, job = row.mailbox, row.job
    return [
        plain(mailbox.label),
        plain(mailbox.email or "—"),
        row.kind,
        "yes" if row.enabled else "no",
        size_text(row.size_mb),
        plain(job.job_id) if job is not None else "—",
        plain(job.raw_state or job.state.value) if job is not None else "—",
        relative_time(job.start_time, now) if job is not None else "—",
        plain(row_note(row, now)),
    ]


_HEADERS = ("Mailbox", "Email", "Kind", "Enabled", "Size", "Job", "State", "Started", "Note")


def _print_text(rows: list[CoverageRow], deadline: Deadline, now: datetime) -> None:
    counts = group_counts(rows)
    first = True
    for group in Group:
        members = [row for row in rows if row.group is group]
        if not members:
            continue
        if not first:
            say()
        first = False
        say(f"{group.value.upper()} ({counts[group]})")
        for line in table_lines(_HEADERS, (_cells(row, now) for row in members)):
            say("  " + line)
    if not first:
        say()
    for line in deadline.lines():
        say(line)


def _row_object(row: CoverageRow, now: datetime) -> dict[str, Any]:
    job = row.job
    return {
        "Group": row.group.value,
        "EntityId": row.entity_id,
        "Mailbox": row.mailbox.label,
        "Email": row.mailbox.email,
        "Kind": row.kind,
        "Enabled": row.enabled,
        "SizeMB": row.size_mb,
        "JobId": job.job_id if job is not None else None,
        "State": (job.raw_state or job.state.value) if job is not None else None,
        "StartTime": iso_timestamp(job.start_time) if job is not None else None,
        "EndTime": iso_timestamp(job.end_time) if job is not None else None,
        "Verification": row.proof.value if row.job is not None else None,
        "EligibleAt": iso_timestamp(row.eligible_at),
        "Note": row_note(row, now) or None,
    }


def _document(
    organization: str,
    region: str,
    cutoff: date | None,
    rows: list[CoverageRow],
    deadline: Deadline,
    now: datetime,
) -> dict[str, Any]:
    return {
        "OrganizationId": organization,
        "Region": region,
        "Cutoff": cutoff.isoformat() if cutoff is not None else None,
        "Covered": all_covered(rows),
        "Groups": {group.value: count for group, count in group_counts(rows).items()},
        "Rows": [_row_object(row, now) for row in rows],
        "Deadline": {
            "EndOfSupport": deadline.end_of_support.isoformat(),
            "DaysLeft": deadline.days_left,
            "Enabled": deadline.total,
            "Verified": deadline.verified,
            "Exported": deadline.exported,
            "Running": deadline.running,
            "Left": deadline.left,
            "PacePerDay": deadline.pace_per_day,
            "FinishAtPace": iso_timestamp(deadline.finish_at_pace),
            "FinishWithAllSlots": iso_timestamp(deadline.finish_full_slots),
            "Warning": deadline.warning,
            "Summary": deadline.short(),
        },
    }
