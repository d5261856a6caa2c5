"""`wmtui log`: the trail of every start and cancel, who did it, and how it ended.

Read from the data folder only (no AWS call). One line per action, oldest first; `--json`
gives one JSON object per line, the fields the trail holds, the call and its outcome joined.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, time
from typing import Any

from wmtui.cli.errors import EXIT_OK
from wmtui.cli.output import PROG, note, plain, say, table_lines
from wmtui.core.models import validate_organization_id
from wmtui.core.trail import TrailAction, iso, read_trail, select_actions, trail_path
from wmtui.factory import Backend


def add_log_arguments(add_command: Any) -> None:
    """`log` for the parser (the parser module stays the one place that lists commands)."""
    log = add_command(
        "log",
        help="the trail: every start and cancel, by whom, and its outcome (no AWS call)",
        description="Every StartMailboxExportJob and CancelMailboxExportJob wmtui sent (the app, "
        "start, cancel, export-org), oldest first: time, outcome, action, organization, mailbox, "
        "job ID, caller ARN. An action whose outcome was never written (the run was killed "
        "during the call) shows as pending. --json adds the ClientToken and the equivalent "
        "`aws workmail` command line.",
    )
    log.add_argument("--json", action="store_true", help="one JSON object per line")
    log.add_argument(
        "--since",
        metavar="DATE",
        type=parse_since,
        help="only actions at or after DATE (2026-12-01 or 2026-12-01T10:00Z; UTC unless given)",
    )
    log.add_argument("--org", metavar="ORG_ID", help="only this organization's actions")


def parse_since(text: str) -> datetime:
    """An ISO date or date-time; a date means its midnight UTC, a naive time is UTC."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(datetime.fromisoformat(value).date(), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{plain(text)} is not a date such as 2026-12-01 or 2026-12-01T10:00Z"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _row(action: TrailAction) -> list[str]:
    return [
        iso(action.time),
        action.outcome,
        action.action,
        plain(action.organization_id or "-"),
        plain(action.mailbox or "-"),
        plain(action.job_id or "-"),
        plain(action.caller_arn or "-") + (f"  {plain(action.error)}" if action.error else ""),
    ]


def warn_trail_problem(backend: Backend) -> None:
    """After a command: say so if a start or cancel could not be written to the trail (the
    action itself went ahead: a full disk must not stop an urgent cancel)."""
    trail = getattr(backend.service, "trail", None)
    problem = getattr(trail, "last_problem", None)
    if isinstance(problem, str) and problem:
        note(f"{PROG}: warning: {plain(problem)}")


def cmd_log(args: argparse.Namespace, backend: Backend) -> int:
    organization = validate_organization_id(args.org) if args.org else None
    path = trail_path(backend.settings.data_dir)
    actions, broken = read_trail(path)
    chosen = select_actions(actions, since=args.since, organization_id=organization)
    if broken:
        note(f"{PROG}: warning: {broken} line(s) of {path} could not be read and are left out")
    if args.json:
        for action in chosen:
            say(json.dumps(action.to_dict(), ensure_ascii=True))
        return EXIT_OK
    if not chosen:
        note("No actions in the trail" + (" match." if actions else f" yet ({path})."))
        return EXIT_OK
    headers = ["TIME", "OUTCOME", "ACTION", "ORGANIZATION", "MAILBOX", "JOB", "CALLER"]
    for line in table_lines(headers, (_row(action) for action in chosen)):
        say(line)
    return EXIT_OK


__all__ = ["add_log_arguments", "cmd_log", "parse_since"]
