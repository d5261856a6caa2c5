"""The door: parses arguments, builds settings and the backend, runs the TUI or a subcommand.

Exit codes follow the AWS CLI's convention, which scripts already know:
0 all good, 252 bad parameters (also a refusal: read-only mode, an unconfirmed cancel),
253 configuration or credentials (also a broken watch list or export state file),
254 a service error (also `export-org` finishing with mailboxes that failed after retries),
255 anything else, 130 interrupted (Ctrl+C), 143 stopped by SIGTERM (`export-org`).

Subcommands never import textual: `wmtui status` from cron stays light.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import unicodedata
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlparse

from wmtui.core.models import (
    WORKMAIL_REGIONS,
    ExportJob,
    JobKey,
    JobState,
    Mailbox,
    StartRequest,
    ValidationError,
    now_utc,
    validate_entity_id,
    validate_job_id,
    validate_organization_id,
    validate_region,
)
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.core.settings import MAX_PRESIGN_EXPIRY, Settings, load_settings
from wmtui.core.watchlist import WatchListError
from wmtui.factory import Backend, build_app, open_backend

if TYPE_CHECKING:
    import signal

    from wmtui.core.export_org import (
        ExportProgress,
        ExportSnapshot,
        ExportSpec,
        MailboxRecord,
        OrgExport,
    )
    from wmtui.core.report import ReportFormat
    from wmtui.ui.app import WmtuiApp

EXIT_OK = 0
EXIT_BAD_PARAMETERS = 252
EXIT_CONFIGURATION = 253
EXIT_SERVICE = 254
EXIT_OTHER = 255
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports it
EXIT_HANGUP = 129  # 128 + SIGHUP: the terminal (an SSH session) went away

# Hidden knob for tests: seconds between export-org rounds (the engine's default is 15).
EXPORT_POLL_ENV = "WMTUI_EXPORT_POLL_SECONDS"
DEFAULT_EXPORT_POLL_SECONDS = 15.0
# Lists in the export-org summary stop here; `wmtui report` has them all.
SUMMARY_LIST_LIMIT = 20
# The export engine's clock (backoffs, the 24-hour window). A seam for tests, which point
# it at the emulator's manual clock so `--once` rounds can move time on.
EXPORT_CLOCK: Callable[[], datetime] = now_utc

PROG = "wmtui"


class CliError(Exception):
    """An expected failure: one line for the user, the fix, and the exit code."""

    def __init__(self, message: str, fix: str = "", exit_code: int = EXIT_OTHER) -> None:
        self.message = message
        self.fix = fix
        self.exit_code = exit_code
        super().__init__(message)


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with the AWS CLI's exit code for a bad command line (252, not 2)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_PARAMETERS, f"{self.prog}: error: {plain(message)}\n")


# --- plain-text output -------------------------------------------------------------------


def plain(value: object) -> str:
    """Text from the API or a file made safe for a terminal: controls become visible escapes.

    C0/C1 controls, format characters (bidi overrides, zero-width) and line separators are
    escaped, so a Description cannot move the cursor, retitle the window or write the clipboard.
    """
    text = value if isinstance(value, str) else str(value)
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
        else ch
        for ch in text
    )


def _say(text: str = "", *, stream: IO[str] | None = None) -> None:
    print(text, file=stream if stream is not None else sys.stdout)


def _note(text: str) -> None:
    """Information for the person, on stderr, so stdout stays what a script parses."""
    print(text, file=sys.stderr)


def _error_line(message: str, fix: str = "") -> str:
    line = f"{PROG}: error: {plain(message)}"
    if fix:
        line += f" ({plain(fix)})"
    return line


def _json_dump(data: object) -> str:
    # ensure_ascii escapes every control and non-ASCII character: safe to cat to a terminal.
    return json.dumps(data, indent=2, ensure_ascii=True, sort_keys=False)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _short_time(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell, two spaces apart; the last one is not padded."""
    all_rows = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(headers))]
    lines = []
    for row in all_rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return lines


# --- arguments ---------------------------------------------------------------------------


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wmtui")
    except PackageNotFoundError:
        return "unknown"


def _add_global_options(parser: argparse.ArgumentParser) -> None:
    """Options every command takes, before or after the subcommand.

    All default to SUPPRESS so a subcommand's copy never overwrites a value given before it.
    """
    s = argparse.SUPPRESS
    group = parser.add_argument_group("global options")
    group.add_argument("--profile", default=s, help="AWS profile (default: AWS_PROFILE)")
    group.add_argument(
        "--region",
        default=s,
        help="AWS region: " + ", ".join(WORKMAIL_REGIONS) + " (default: the profile's)",
    )
    group.add_argument(
        "--endpoint-url",
        default=s,
        metavar="URL",
        help="talk to this endpoint instead of AWS, e.g. `wmtui emulator` (WMTUI_ENDPOINT_URL)",
    )
    group.add_argument(
        "--config-dir",
        default=s,
        type=Path,
        metavar="DIR",
        help="where the watch list and config.toml live (WMTUI_CONFIG_DIR)",
    )
    group.add_argument(
        "--interval",
        default=s,
        type=float,
        metavar="SECONDS",
        help="seconds between refreshes in the TUI (at least 5)",
    )
    group.add_argument(
        "--read-only",
        default=s,
        action="store_true",
        help="refuse every call that changes anything (start, cancel)",
    )
    group.add_argument("--no-bell", default=s, action="store_true", help="no terminal bell")
    group.add_argument(
        "--demo",
        default=s,
        action="store_true",
        help="run against a built-in emulator with a throwaway watch list (no AWS needed)",
    )
    group.add_argument("--version", action="version", version=f"%(prog)s {_version()}")


def _ids(values: Iterable[str]) -> list[str]:
    """IDs given one per argument, or comma or space separated inside one."""
    return [part for value in values for part in re.split(r"[,\s]+", value) if part]


def build_parser() -> argparse.ArgumentParser:
    common = _ArgumentParser(add_help=False)
    _add_global_options(common)

    parser = _ArgumentParser(
        prog=PROG,
        description="Watch, start and cancel Amazon WorkMail mailbox export jobs.",
        epilog="Without a command, the terminal UI starts. Exit codes: 0 ok, 252 bad parameters "
        "or refused, 253 configuration or credentials, 254 service error, 255 other.",
        parents=[common],
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_ArgumentParser
    )

    add = commands.add_parser(
        "add", parents=[common], help="watch jobs (no AWS call)", description="Watch jobs."
    )
    add.add_argument("organization_id", metavar="ORG_ID")
    add.add_argument("job_ids", metavar="JOB_ID", nargs="+", help="one or more, or comma separated")

    remove = commands.add_parser(
        "remove", parents=[common], help="stop watching jobs", description="Stop watching jobs."
    )
    remove.add_argument("organization_id", metavar="ORG_ID")
    remove.add_argument("job_ids", metavar="JOB_ID", nargs="+")

    listing = commands.add_parser(
        "list",
        parents=[common],
        help="the watched jobs with their last-known state (no AWS call)",
        description="The watched jobs with their last-known state, from the cache.",
    )
    listing.add_argument("--json", action="store_true", help="JSON with the API's field names")

    status = commands.add_parser(
        "status",
        parents=[common],
        help="refresh every watched job once and print it",
        description="Refresh every watched job once. Jobs in a final state (COMPLETED, FAILED, "
        "CANCELLED) never change, so they come from the cache with the time they were last seen.",
    )
    status.add_argument("--json", action="store_true", help="JSON with the API's field names")

    start = commands.add_parser(
        "start",
        parents=[common],
        help="start a mailbox export",
        description="Start one mailbox export (StartMailboxExportJob) and watch it. "
        "Prints the new job ID on stdout.",
    )
    start.add_argument("organization_id", metavar="ORG_ID")
    start.add_argument("mailbox", metavar="MAILBOX", help="entity ID, user name or email")
    start.add_argument("--bucket", required=True, help="S3 bucket name")
    start.add_argument("--prefix", required=True, help="S3 key prefix")
    start.add_argument("--role-arn", required=True, help="IAM role WorkMail assumes to write")
    start.add_argument("--kms-key-arn", required=True, help="symmetric KMS key for the export")
    start.add_argument("--description", default="", help="up to 1023 characters")
    start.add_argument(
        "--client-token",
        default=None,
        help="idempotency token: the same token never starts a second job (default: random)",
    )

    cancel = commands.add_parser(
        "cancel",
        parents=[common],
        help="cancel a running export",
        description="Cancel a running export job (CancelMailboxExportJob).",
    )
    cancel.add_argument("organization_id", metavar="ORG_ID")
    cancel.add_argument("job_id", metavar="JOB_ID")
    cancel.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")

    export_org = commands.add_parser(
        "export-org",
        parents=[common],
        help="export every mailbox of an organization, resumably",
        description="Export every enabled mailbox (users and resources) of an organization, "
        "keeping at most --max-running exports running, skipping mailboxes exported in the last "
        "24 hours and retrying failed ones a few times. Every job joins the watch list. The "
        "state is saved as it goes: after Ctrl+C, a crash or a reboot, run the same command "
        "again and it resumes without starting any mailbox twice. Exit codes: 0 every mailbox "
        "done or skipped, 254 some failed after retries, 130/143 stopped (resumable).",
    )
    export_org.add_argument("organization_id", metavar="ORG_ID")
    export_org.add_argument("--bucket", required=True, help="S3 bucket name")
    export_org.add_argument("--prefix", required=True, help="S3 key prefix")
    export_org.add_argument("--role-arn", required=True, help="IAM role WorkMail assumes to write")
    export_org.add_argument("--kms-key-arn", required=True, help="symmetric KMS key for the export")
    export_org.add_argument(
        "--only",
        type=Path,
        metavar="FILE",
        help="export only the mailboxes in FILE (entity ID, user name or email, one a line)",
    )
    export_org.add_argument(
        "--exclude", type=Path, metavar="FILE", help="leave out the mailboxes in FILE"
    )
    export_org.add_argument(
        "--max-running",
        type=int,
        default=10,
        metavar="N",
        help="at most N exports running in the organization at once (1-10, default 10)",
    )
    export_org.add_argument(
        "--description",
        default="",
        help="each job's Description (default: wmtui export-org <export id>)",
    )
    export_org.add_argument(
        "--once",
        action="store_true",
        help="one round (read the jobs, start what fits) and exit: for cron",
    )

    report = commands.add_parser(
        "report",
        parents=[common],
        help="the migration record of an organization (CSV or JSON)",
        description="One row per export job and per mailbox an export has not exported: "
        "mailbox, email, JobId, state, S3 URI, start and end, ErrorInfo. From the saved "
        "export states, the watched jobs and a fresh ListMailboxExportJobs (last seven days).",
    )
    report.add_argument("organization_id", metavar="ORG_ID")
    report.add_argument("--format", choices=("csv", "json"), default="csv", help="default: csv")
    report.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write to FILE (created 0600, replaced atomically) instead of standard output",
    )

    presign = commands.add_parser(
        "presign",
        parents=[common],
        help="print a presigned HTTPS URL for a completed export (no AWS call to sign)",
        description="Print a presigned S3 URL that downloads the export's .zip from any "
        "machine, no AWS credentials needed there. Signed locally; anyone holding the URL can "
        "download the export until it expires.",
    )
    presign.add_argument("organization_id", metavar="ORG_ID")
    presign.add_argument("job_id", metavar="JOB_ID")
    presign.add_argument(
        "--expires",
        type=int,
        metavar="SECONDS",
        help=f"how long the URL works, 1-{MAX_PRESIGN_EXPIRY} (default: the presign_expiry "
        "setting, WMTUI_PRESIGN_EXPIRY, 3600)",
    )

    # Its options belong to wmtui.emulator.demo, parsed only when asked for (see _run_emulator),
    # so no other command pays for importing the emulator.
    commands.add_parser(
        "emulator",
        add_help=False,
        help="run a local WorkMail emulator (wmtui emulator --help)",
    )
    return parser


_OVERRIDES: Mapping[str, Callable[[Any], tuple[str, object]]] = {
    "profile": lambda v: ("profile", v),
    "region": lambda v: ("region", v),
    "endpoint_url": lambda v: ("endpoint_url", v),
    "config_dir": lambda v: ("config_dir", v),
    "interval": lambda v: ("interval", v),
    "read_only": lambda v: ("read_only", bool(v)),
    "no_bell": lambda v: ("bell", not v),
    "demo": lambda v: ("demo", bool(v)),
}


def settings_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The Settings fields given on the command line (absent options are not there at all)."""
    given = vars(args)
    return dict(convert(given[name]) for name, convert in _OVERRIDES.items() if name in given)


def _check_endpoint_url(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValidationError("endpoint URL", url, "must be an http:// or https:// URL with a host")


# --- shared pieces of the commands -------------------------------------------------------


def _resolve_region(backend: Backend) -> str:
    """--region, else AWS_REGION/the profile's region; validated (any region for an endpoint)."""
    region = backend.settings.region
    if not region:
        # Boto3ExportService reads the profile's region without calling anything.
        region = getattr(backend.service, "default_region", None)
    if not region:
        raise CliError(
            "no region is set",
            "pass --region (one of " + ", ".join(WORKMAIL_REGIONS) + "), set AWS_REGION, "
            "or set region in your AWS profile",
            EXIT_CONFIGURATION,
        )
    return validate_region(region, endpoint_url=backend.settings.endpoint_url)


def _keys_from_args(backend: Backend, organization_id: str, job_ids: Iterable[str]) -> list[JobKey]:
    """Every key, validated first: one bad value and nothing is written."""
    organization = validate_organization_id(organization_id)
    ids = _ids(job_ids)
    if not ids:
        raise ValidationError("job ID", "", "at least one job ID is needed")
    problems: list[ValidationError] = []
    for job_id in ids:
        try:
            validate_job_id(job_id)
        except ValidationError as exc:
            problems.append(exc)
    if problems:
        # Each bad value on its own line; the last one is raised for the exit code.
        for extra in problems[:-1]:
            _note(_error_line(str(extra)))
        raise problems[-1]
    region = _resolve_region(backend)
    return list(dict.fromkeys(JobKey(region, organization, job_id) for job_id in ids))


def _refuse_if_read_only(settings: Settings, action: str) -> None:
    if settings.read_only:
        raise CliError(
            f"refused: read-only mode does not {action}",
            "drop --read-only, or set read_only = false in config.toml",
            EXIT_BAD_PARAMETERS,
        )


def _error_object(error: ServiceError) -> dict[str, Any]:
    return {
        "kind": error.kind.value,
        "code": error.code,
        "message": error.message,
        "fix": error.fix,
    }


def _job_record(key: JobKey, job: ExportJob | None, mailbox: Mailbox | None) -> dict[str, Any]:
    """The API's field names for a job; State is null for one never read; Mailbox is who
    the EntityId is (null when not known)."""
    record = (job or ExportJob(key=key)).to_api_dict()
    if job is None or job.last_seen is None:
        record["State"] = None
    record["Mailbox"] = _mailbox_object(mailbox)
    return record


def _mailbox_object(mailbox: Mailbox | None) -> dict[str, str | None] | None:
    if mailbox is None:
        return None
    return {"Name": mailbox.name, "Email": mailbox.email, "DisplayName": mailbox.display_name}


NameOf = Callable[[JobKey, "ExportJob | None"], "Mailbox | None"]


def _name_lookup(backend: Backend) -> NameOf:
    """Who a job's mailbox is, from the names cache only (never a call)."""
    names = backend.names

    def lookup(key: JobKey, job: ExportJob | None) -> Mailbox | None:
        if job is None or not job.entity_id:
            return None
        return names.lookup(key.region, key.organization_id, job.entity_id)

    return lookup


def _warn_names_problem(backend: Backend) -> None:
    problem = backend.names.last_problem
    if problem:
        _note(f"{PROG}: warning: {plain(problem)}")


def _learn_names(
    backend: Backend,
    entity_ids: Mapping[tuple[str, str], Iterable[str]],
    *,
    skip: Iterable[tuple[str, str]] = (),
) -> None:
    """List each organization's mailboxes when the names cache is stale, and Describe the
    entities it does not know. Names are a nicety: a failure is a warning, never an exit code."""
    names = backend.names
    skipped = set(skip)
    for (region, organization), wanted in entity_ids.items():
        if (region, organization) in skipped:
            continue
        try:
            names.refresh_org(backend.service, region, organization)
            names.resolve_missing(backend.service, region, organization, sorted(set(wanted)))
        except ServiceError as exc:
            _note(
                f"{PROG}: warning: mailbox names of {organization} ({region}) could not be "
                f"read, showing IDs: {plain(exc.message)}"
            )
            if exc.kind.affects_all:
                break
    _warn_names_problem(backend)


def _state_cell(job: ExportJob | None) -> str:
    if job is None or job.last_seen is None:
        return "never seen"
    if job.state is JobState.UNKNOWN:
        return plain(job.raw_state or "UNKNOWN")
    return job.state.value


def _progress_cell(job: ExportJob | None) -> str:
    if job is None or job.progress is None:
        return "-"
    return f"{job.progress}%"


def _mailbox_cell(job: ExportJob | None, mailbox: Mailbox | None) -> str:
    if mailbox is not None:
        return plain(mailbox.label)
    return plain(job.entity_id) if job and job.entity_id else "-"


def _print_jobs_table(
    watched: Sequence[JobKey],
    jobs: Mapping[JobKey, ExportJob],
    *,
    name_of: NameOf,
    fresh: Iterable[JobKey] = (),
    failed: Iterable[JobKey] = (),
) -> None:
    """One table per (region, organization): a cron mail a person can read."""
    fresh_keys = set(fresh)
    failed_keys = set(failed)
    groups: dict[tuple[str, str], list[JobKey]] = {}
    for key in watched:
        groups.setdefault((key.region, key.organization_id), []).append(key)
    first = True
    for (region, organization), keys in groups.items():
        if not first:
            _say()
        first = False
        _say(f"{organization} ({region})")
        rows = []
        details: list[str] = []
        for key in keys:
            job = jobs.get(key)
            seen = _short_time(job.last_seen) if job and job.last_seen else "never"
            if job and job.last_seen and key not in fresh_keys:
                seen += " (cached)"
            state = _state_cell(job)
            if key in failed_keys:
                state += " !"
            rows.append(
                [
                    plain(key.job_id),
                    _mailbox_cell(job, name_of(key, job)),
                    state,
                    _progress_cell(job),
                    _short_time(job.start_time) if job else "-",
                    seen,
                    (job.s3_uri if job else None) or "-",
                ]
            )
            if job and job.error_info:
                details.append(f"  {plain(key.job_id)}: {plain(job.error_info)}")
        for line in _table(
            ["  JOB", "MAILBOX", "STATE", "PROGRESS", "STARTED", "LAST SEEN", "S3 URI"],
            ([f"  {row[0]}", *row[1:]] for row in rows),
        ):
            _say(line)
        if details:
            _say("  Why jobs failed (ErrorInfo):")
            for line in details:
                _say("  " + line)


# --- the commands ------------------------------------------------------------------------


def _cmd_add(args: argparse.Namespace, backend: Backend) -> int:
    keys = _keys_from_args(backend, args.organization_id, args.job_ids)
    added = backend.watchlist.add(keys)
    new = set(added)
    for key in keys:
        _say(f"{'added' if key in new else 'already watched'}: {plain(key)}")
    return EXIT_OK


def _cmd_remove(args: argparse.Namespace, backend: Backend) -> int:
    keys = _keys_from_args(backend, args.organization_id, args.job_ids)
    removed = set(backend.watchlist.remove(keys))
    for key in keys:
        _say(f"{'removed' if key in removed else 'not watched'}: {plain(key)}")
    return EXIT_OK


def _remember_jobs(
    backend: Backend, jobs: Iterable[ExportJob], watched: Collection[JobKey]
) -> str | None:
    """Fold jobs a command has just read into the job cache (the watched ones, each over
    what the cache knew of it), so `list` and the app's first paint show them without a
    call. Returns the problem if the cache could not be saved."""
    read = [job for job in jobs if job.key in watched]
    if not read:
        return None
    known = backend.cache.load()
    merged = dict(known)
    for job in read:
        old = known.get(job.key)
        merged[job.key] = old.merged_with(job) if old is not None else job
    if backend.cache.save(merged):
        return None
    return backend.cache.last_problem


def _cmd_list(args: argparse.Namespace, backend: Backend) -> int:
    watched = backend.watchlist.load()
    known = backend.cache.load()
    # Names from the cache only: `list` makes no call.
    name_of = _name_lookup(backend)
    if args.json:
        records = [
            _job_record(key, known.get(key), name_of(key, known.get(key))) for key in watched
        ]
        _warn_names_problem(backend)
        _say(_json_dump({"jobs": records}))
        return EXIT_OK
    if not watched:
        _note("No jobs are watched. Add one with: wmtui add ORG_ID JOB_ID")
        return EXIT_OK
    _print_jobs_table(watched, known, name_of=name_of)
    _warn_names_problem(backend)
    _say()
    _say(
        f"{len(watched)} watched; last-known states from the cache. `wmtui status` reads them now."
    )
    return EXIT_OK


@dataclass
class _StatusReport:
    watched: list[JobKey]
    jobs: dict[JobKey, ExportJob]
    fresh: set[JobKey]
    job_errors: dict[JobKey, ServiceError]
    other_errors: list[dict[str, Any]]
    shown_errors: list[str]
    calls: dict[str, int]
    finished_at: datetime
    exit_code: int
    # Where reading failed: no point asking those for names as well.
    all_failed: bool = False
    failed_orgs: frozenset[tuple[str, str]] = frozenset()


def _refresh_once(backend: Backend) -> _StatusReport:
    # The planner's normal plan: RUNNING and never-seen jobs are read; final ones never
    # change, so they come from the cache with the time they were last seen.
    from wmtui.core.refresh import RefreshPlanner

    watched = backend.watchlist.load()
    known = backend.cache.load()
    if not watched:
        return _StatusReport(watched, dict(known), set(), {}, [], [], {}, datetime.now(UTC), 0)
    if backend.cache.last_problem:
        _note(f"{PROG}: warning: {plain(backend.cache.last_problem)}")
    result = RefreshPlanner().refresh(backend.service, watched, known)
    merged = result.applied_to(known)
    if not backend.cache.save(merged) and backend.cache.last_problem:
        _note(f"{PROG}: warning: {plain(backend.cache.last_problem)}")
    # result.jobs holds only what this refresh read; the rest is the cache's.
    fresh = set(result.jobs)
    # A job whose final state is known is not hurt by an error that stopped the reading.
    unsettled = [
        key
        for key in watched
        if key not in fresh and not (key in merged and merged[key].state.is_final)
    ]
    job_errors: dict[JobKey, ServiceError] = {}
    other_errors: list[dict[str, Any]] = []
    shown: list[str] = []
    codes: list[int] = []
    if result.global_error is not None:
        error = result.global_error
        codes.append(error.exit_code)
        other_errors.append({"scope": "all", **_error_object(error)})
        shown.append(_error_line(error.message, error.fix))
        job_errors.update(dict.fromkeys(unsettled, error))
    for (region, organization), error in sorted(result.org_errors.items()):
        codes.append(error.exit_code)
        other_errors.append(
            {
                "scope": "organization",
                "region": region,
                "organization_id": organization,
                **_error_object(error),
            }
        )
        shown.append(_error_line(f"{organization} ({region}): {error.message}", error.fix))
        for key in unsettled:
            if (key.region, key.organization_id) == (region, organization):
                job_errors[key] = error
    for key, error in sorted(result.job_errors.items()):
        codes.append(error.exit_code)
        other_errors.append({"scope": "job", **key.to_dict(), **_error_object(error)})
        shown.append(_error_line(f"job {key}: {error.message}", error.fix))
        job_errors[key] = error
    return _StatusReport(
        watched=watched,
        jobs=merged,
        fresh=fresh,
        job_errors=job_errors,
        other_errors=other_errors,
        shown_errors=shown,
        calls=dict(result.calls),
        finished_at=result.finished_at,
        exit_code=max(codes, default=EXIT_OK),
        all_failed=result.global_error is not None,
        failed_orgs=frozenset(result.org_errors),
    )


def _cmd_status(args: argparse.Namespace, backend: Backend) -> int:
    report = _refresh_once(backend)
    if report.watched and not report.all_failed:
        wanted: dict[tuple[str, str], list[str]] = {}
        for key in report.watched:
            job = report.jobs.get(key)
            if job is not None and job.entity_id:
                wanted.setdefault((key.region, key.organization_id), []).append(job.entity_id)
        _learn_names(backend, wanted, skip=report.failed_orgs)
    name_of = _name_lookup(backend)
    if args.json:
        jobs = []
        for key in report.watched:
            record = _job_record(key, report.jobs.get(key), name_of(key, report.jobs.get(key)))
            record["fresh"] = key in report.fresh
            error = report.job_errors.get(key)
            record["error"] = _error_object(error) if error else None
            jobs.append(record)
        _say(
            _json_dump(
                {
                    "jobs": jobs,
                    "errors": report.other_errors,
                    "refreshed_at": _iso(report.finished_at),
                    "calls": report.calls,
                }
            )
        )
    elif not report.watched:
        _note("No jobs are watched. Add one with: wmtui add ORG_ID JOB_ID")
    else:
        _print_jobs_table(
            report.watched,
            report.jobs,
            name_of=name_of,
            fresh=report.fresh,
            failed=report.job_errors,
        )
        _say()
        cached = sum(
            1
            for key in report.watched
            if key not in report.fresh and key in report.jobs and key not in report.job_errors
        )
        calls = sum(report.calls.values())
        summary = f"{len(report.fresh)} read now ({calls} call{'s' if calls != 1 else ''})"
        if cached:
            summary += f", {cached} final from the cache (final states never change)"
        if report.job_errors:
            summary += f", {len(report.job_errors)} could not be read (!)"
        _say(summary + ".")
    for line in report.shown_errors:
        _note(line)
    return report.exit_code


def _start_request(args: argparse.Namespace) -> StartRequest:
    """The StartMailboxExportJob input. The service checks every field against the model
    before sending; a token is made here so a failed attempt can be retried without a twin."""
    return StartRequest(
        entity_id=validate_entity_id(args.mailbox),
        s3_bucket_name=args.bucket,
        s3_prefix=args.prefix,
        role_arn=args.role_arn,
        kms_key_arn=args.kms_key_arn,
        description=args.description,
        client_token=args.client_token if args.client_token is not None else str(uuid.uuid4()),
    )


def _cmd_start(args: argparse.Namespace, backend: Backend) -> int:
    _refuse_if_read_only(backend.settings, "start exports")
    organization = validate_organization_id(args.organization_id)
    request = _start_request(args)
    region = _resolve_region(backend)
    # A broken watch list stops us before a job starts that we could not then watch.
    backend.watchlist.load()
    try:
        key = backend.service.start_job(region, organization, request)
    except ServiceError as exc:
        if exc.kind.is_transient or exc.kind is ErrorKind.OTHER:
            # The request may have reached the service: the same token cannot start a twin.
            exc.fix = (exc.fix + "; " if exc.fix else "") + (
                f"to retry safely, pass --client-token {request.client_token}"
            )
        raise
    _say(key.job_id)
    try:
        backend.watchlist.add([key])
    except WatchListError as exc:
        raise CliError(
            f"job {key.job_id} started, but it could not be added to the watch list: {exc}",
            f"run `wmtui add {organization} {key.job_id} --region {region}` once that is fixed",
            EXIT_CONFIGURATION,
        ) from exc
    _note(
        f"Started export {plain(key.job_id)} of {_who(backend, region, organization, request)} "
        f"in {organization} ({region}); it is on the watch list."
    )
    return EXIT_OK


def _who(backend: Backend, region: str, organization: str, request: StartRequest) -> str:
    """The mailbox as a person knows it: "Alice Smith <alice@example.com> (entity id)".

    The names cache first, else one DescribeUser/DescribeResource (which take an ID, a user
    name or an email, as the start did); a failure leaves just what was typed."""
    names = backend.names
    mailbox = names.lookup(region, organization, request.entity_id)
    if mailbox is None:
        # The job started; its name is a nicety.
        with contextlib.suppress(ServiceError):
            names.resolve_missing(backend.service, region, organization, [request.entity_id])
        mailbox = names.lookup(region, organization, request.entity_id)
    return _mailbox_text(mailbox, request.entity_id)


def _mailbox_text(mailbox: Mailbox | None, fallback: str) -> str:
    if mailbox is None:
        return plain(fallback)
    text = plain(mailbox.label)
    if mailbox.email and mailbox.email != mailbox.label:
        text += f" <{plain(mailbox.email)}>"
    if mailbox.entity_id != mailbox.label:
        text += f" ({plain(mailbox.entity_id)})"
    return text


def _confirm(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _cmd_cancel(args: argparse.Namespace, backend: Backend) -> int:
    _refuse_if_read_only(backend.settings, "cancel exports")
    region = _resolve_region(backend)
    key = JobKey(
        region, validate_organization_id(args.organization_id), validate_job_id(args.job_id)
    )
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(
                "refused: cancelling needs a confirmation and standard input is not a terminal",
                "pass --yes to cancel without asking",
                EXIT_BAD_PARAMETERS,
            )
        if not _confirm(
            f"Cancel export job {key.job_id} in {key.organization_id} ({region})? [y/N] "
        ):
            _note("Not cancelled.")
            return EXIT_OK
    backend.service.cancel_job(key)
    _say(f"cancelled: {plain(key)}")
    return EXIT_OK


# --- export-org --------------------------------------------------------------------------


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value > 0 else default


def _selectors(path: Path | None, option: str) -> frozenset[str] | None:
    """The mailboxes named in an --only/--exclude file; None when the option is not given."""
    if path is None:
        return None
    from wmtui.core.export_org import read_selector_file

    try:
        selectors = read_selector_file(path)
    except UnicodeDecodeError:
        raise CliError(
            f"{option} {path}: is not UTF-8 text",
            "give a text file with one entity ID, user name or email a line",
            EXIT_BAD_PARAMETERS,
        ) from None
    except OSError as exc:
        raise CliError(
            f"{option} {path}: cannot be read ({exc.strerror or exc})",
            "give a text file with one entity ID, user name or email a line",
            EXIT_BAD_PARAMETERS,
        ) from None
    if not selectors and option == "--only":
        # An empty --only would export nothing and say it is done.
        raise CliError(
            f"--only {path}: names no mailbox",
            "put one entity ID, user name or email a line (# starts a comment)",
            EXIT_BAD_PARAMETERS,
        )
    return selectors


def _export_spec(args: argparse.Namespace, backend: Backend) -> ExportSpec:
    """Every field checked before anything is sent (ValidationError: 252)."""
    from wmtui.core.export_org import ExportSpec

    region = _resolve_region(backend)
    return ExportSpec(
        region=region,
        organization_id=args.organization_id,
        bucket=args.bucket,
        prefix=args.prefix,
        role_arn=args.role_arn,
        kms_key_arn=args.kms_key_arn,
        max_running=args.max_running,
        only=_selectors(args.only, "--only"),
        exclude=_selectors(args.exclude, "--exclude") or frozenset(),
        description=args.description,
    ).validate(endpoint_url=backend.settings.endpoint_url)


def _duration(seconds: float) -> str:
    """A short human duration: 45s, 12m05s, 3h20m, 2d04h."""
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


def _record_text(record: MailboxRecord) -> str:
    mailbox = Mailbox(
        entity_id=record.entity_id,
        name=record.name,
        email=record.email,
        display_name=record.display_name,
    )
    return _mailbox_text(mailbox, record.entity_id)


class _StopRequest:
    """SIGINT/SIGTERM while exporting: finish the current step, save, exit. A second one
    stops at once (the state file is current either way)."""

    def __init__(self) -> None:
        import threading

        self.event = threading.Event()
        self.signum: int | None = None

    def wait(self, seconds: float) -> None:
        self.event.wait(seconds)

    def __call__(self, signum: int, frame: object) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.signum = signum
        self.event.set()
        # os.write, not print: the handler may run in the middle of a print to stderr, and
        # the buffered writer refuses to be re-entered.
        with contextlib.suppress(OSError):
            os.write(
                2,
                b"\nStopping after the current step; the state is saved. "
                b"(Press Ctrl+C again to stop at once.)\n",
            )

    @property
    def exit_code(self) -> int:
        import signal

        return EXIT_TERMINATED if self.signum == signal.SIGTERM else EXIT_INTERRUPTED


class _ExportWatcher:
    """What the person sees while the export runs, and the watch list kept up to date.

    Progress goes to stderr: one line when something a person cares about changed (counts,
    the whole percent, a reason for waiting), or one updating line on a terminal. A mailbox
    that fails, or fails and is retried, gets a line of its own.
    """

    def __init__(self, backend: Backend, export: OrgExport, stream: IO[str]) -> None:
        self.backend = backend
        self.export = export
        self.stream = stream
        self.is_tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_key: tuple[object, ...] | None = None
        self._line_open = False
        self._told: set[tuple[str, str, int]] = set()
        self._unmatched_told = False
        self._pending: list[JobKey] = []
        self._first = True
        self.watch_problem: str | None = None
        self.cache_problem: str | None = None
        self.last: ExportProgress | None = None

    # -- the watch list ----------------------------------------------------------------------

    def _watch(self, progress: ExportProgress) -> None:
        keys = list(progress.started)
        if self._first:
            # A job started by a run that died before adding it: running ones join again.
            from wmtui.core.export_org import MailboxStatus

            keys += [
                JobKey(self.export.spec.region, self.export.spec.organization_id, r.job_id)
                for r in self.export.records()
                if r.status is MailboxStatus.RUNNING and r.job_id
            ]
            self._first = False
        self._pending = list(dict.fromkeys([*self._pending, *keys]))
        if not self._pending:
            return
        try:
            self.backend.watchlist.add(self._pending)
        except WatchListError as exc:
            problem = plain(str(exc))
            if problem != self.watch_problem:
                self._event(f"{PROG}: warning: started jobs not added to the watch list: {problem}")
            self.watch_problem = problem
            return
        self._pending = []
        self.watch_problem = None

    @property
    def unwatched(self) -> int:
        return len(self._pending)

    def _remember(self, progress: ExportProgress) -> None:
        """The watched jobs this tick read, into the job cache (a problem is said once)."""
        if not progress.jobs:
            return
        try:
            watched = set(self.backend.watchlist.load())
        except WatchListError:
            return  # `_watch` says what is wrong with it
        problem = _remember_jobs(self.backend, progress.jobs, watched)
        if problem and problem != self.cache_problem:
            self._event(f"{PROG}: warning: {plain(problem)}")
        self.cache_problem = problem

    # -- lines -------------------------------------------------------------------------------

    def _event(self, text: str) -> None:
        if self._line_open:
            self.stream.write("\r\x1b[K")
            self._line_open = False
        self.stream.write(text + "\n")
        self.stream.flush()
        # The status line comes back under the event.
        self._last_key = None

    def _status_line(self, progress: ExportProgress) -> str:
        parts = [
            f"{progress.done}/{progress.total} done",
            f"{progress.running} running",
            f"{progress.queued} queued"
            + (f" ({progress.retrying} retrying)" if progress.retrying else ""),
            f"{progress.failed} failed",
            f"{progress.skipped} skipped",
            f"{int(progress.fraction * 100)}%",
        ]
        if not progress.finished:
            parts.append(
                f"ETA {_duration(progress.eta.total_seconds())}" if progress.eta else "ETA ?"
            )
        line = " · ".join(parts)
        if progress.waiting and not progress.finished:
            line += f" · waiting: {plain(progress.waiting)}"
        return line

    def show(self, progress: ExportProgress) -> None:
        self.last = progress
        self._watch(progress)
        self._remember(progress)
        self._tell_mailboxes(progress)
        if progress.unmatched and not self._unmatched_told:
            self._unmatched_told = True
            names = ", ".join(plain(name) for name in progress.unmatched[:SUMMARY_LIST_LIMIT])
            more = len(progress.unmatched) - SUMMARY_LIST_LIMIT
            self._event(
                f"{PROG}: warning: --only names {len(progress.unmatched)} mailbox(es) the "
                f"organization does not have: {names}" + (f" and {more} more" if more > 0 else "")
            )
        key = (
            progress.done,
            progress.running,
            progress.queued,
            progress.retrying,
            progress.failed,
            progress.skipped,
            int(progress.fraction * 100),
            progress.waiting,
        )
        line = self._status_line(progress)
        if self.is_tty:
            import shutil

            width = shutil.get_terminal_size((100, 24)).columns
            self.stream.write("\r\x1b[K" + line[: max(20, width - 1)])
            self.stream.flush()
            self._line_open = True
        elif key != self._last_key:
            stamp = progress.at.astimezone(UTC).strftime("%H:%M:%SZ")
            self.stream.write(f"{stamp} {line}\n")
            self.stream.flush()
        self._last_key = key

    def _tell_mailboxes(self, progress: ExportProgress) -> None:
        """A line for each mailbox whose attempt failed (retried or not) since the last look."""
        if not progress.failed and not progress.retrying:
            return
        from wmtui.core.export_org import MailboxStatus

        for record in self.export.records():
            if record.status is MailboxStatus.FAILED:
                mark = ("failed", record.entity_id, record.attempt)
                if mark not in self._told:
                    self._told.add(mark)
                    self._event(f"failed: {_record_text(record)}: {plain(record.error or '')}")
            elif record.status is MailboxStatus.QUEUED and record.attempt > 1 and record.error:
                mark = ("retry", record.entity_id, record.attempt)
                if mark not in self._told:
                    self._told.add(mark)
                    self._event(
                        f"retrying: {_record_text(record)}: {plain(record.error)} "
                        f"(attempt {record.attempt} next)"
                    )

    def close(self) -> None:
        if self._line_open:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False


def _export_summary(export: OrgExport, progress: ExportProgress | None) -> None:
    """What a person (or a cron mail) needs at the end, on stdout."""
    from wmtui.core.export_org import MailboxStatus

    spec = export.spec
    _say(
        f"Export {export.export_id} of {spec.organization_id} ({spec.region}) "
        f"to s3://{plain(spec.bucket)}/{plain(spec.prefix)}"
    )
    records = export.records()
    if progress is None:
        _say("No round finished.")
    else:
        _say(
            f"{progress.total} mailboxes: {progress.done} done, {progress.running} running, "
            f"{progress.queued} queued, {progress.failed} failed, {progress.skipped} skipped "
            f"({int(progress.fraction * 100)}%)"
        )
    for status, title in (
        (MailboxStatus.FAILED, "Failed after retries"),
        (MailboxStatus.SKIPPED, "Skipped"),
    ):
        chosen = [r for r in records if r.status is status]
        if not chosen:
            continue
        _say(f"{title} ({len(chosen)}):")
        for record in chosen[:SUMMARY_LIST_LIMIT]:
            why = record.error if status is MailboxStatus.FAILED else record.reason
            _say(f"  {_record_text(record)}: {plain(why or '-')}")
        if len(chosen) > SUMMARY_LIST_LIMIT:
            _say(f"  ... and {len(chosen) - SUMMARY_LIST_LIMIT} more (see `wmtui report`)")
    _say(f"State: {export.state_path}")
    _say(f"Record: wmtui report {spec.organization_id} --region {spec.region} --format csv")


def _install_stop_handlers(stop: _StopRequest) -> Callable[[], None]:
    """SIGINT and SIGTERM set `stop`; returns what puts the previous handlers back."""
    import signal

    return _set_signal_handlers(dict.fromkeys((signal.SIGINT, signal.SIGTERM), stop))


def _set_signal_handlers(
    handlers: Mapping[signal.Signals, Callable[[int, Any], None]],
) -> Callable[[], None]:
    """Put these handlers in place (from the main thread only: elsewhere Python refuses);
    returns what puts the previous ones back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in handlers}
    for sig, handler in handlers.items():
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _cmd_export_org(args: argparse.Namespace, backend: Backend) -> int:
    from wmtui.core.export_org import ExportStateError, OrgExport, export_state_path

    _refuse_if_read_only(backend.settings, "start exports")
    spec = _export_spec(args, backend)
    # A broken watch list stops us before a job starts that we could not then watch.
    backend.watchlist.load()
    path = export_state_path(backend.settings.data_dir, spec)
    stop = _StopRequest()
    poll = _env_seconds(EXPORT_POLL_ENV, DEFAULT_EXPORT_POLL_SECONDS)
    export: OrgExport | None = None
    watcher: _ExportWatcher | None = None
    restore = _install_stop_handlers(stop)
    try:
        export = OrgExport(
            spec,
            backend.service,
            path,
            clock=EXPORT_CLOCK,
            # Waits end the moment a stop is asked for.
            sleep=stop.wait,
            endpoint_url=backend.settings.endpoint_url,
        )
        with export:
            watcher = _ExportWatcher(backend, export, sys.stderr)
            if args.once:
                progress = export.tick()
                watcher.show(progress)
            else:
                progress = export.run(
                    poll_interval=poll,
                    min_poll_interval=min(2.0, poll),
                    on_progress=watcher.show,
                    should_stop=stop.event.is_set,
                )
            watcher.close()
            _export_summary(export, progress)
            return _export_outcome(progress, stop, watcher, once=args.once)
    except ExportStateError as exc:
        if watcher is not None:
            watcher.close()
        raise CliError(f"{exc.path}: {exc.problem}", exc.fix, EXIT_CONFIGURATION) from None
    except ServiceError:
        if watcher is not None:
            watcher.close()
        if export is not None:
            _note(
                f"The state is saved in {export.state_path}; run the same command again to resume."
            )
        raise
    except KeyboardInterrupt:
        # A second Ctrl+C mid-call: the state file is current (starts are marked before sending).
        if watcher is not None:
            watcher.close()
        if export is not None:
            _export_summary(export, watcher.last if watcher else None)
        _note("Stopped. Run the same command again to resume.")
        return stop.exit_code
    finally:
        restore()


def _export_outcome(
    progress: ExportProgress,
    stop: _StopRequest,
    watcher: _ExportWatcher,
    *,
    once: bool,
) -> int:
    if watcher.unwatched:
        _note(
            f"{PROG}: warning: {watcher.unwatched} started job(s) are not on the watch list "
            f"({watcher.watch_problem}); they are in the state file and in `wmtui report`, and "
            "running the same command again adds those still running"
        )
    if progress.finished:
        if progress.failed:
            _note(
                f"{progress.failed} of {progress.total} mailboxes failed after retries "
                "(listed above); `wmtui report` has their ErrorInfo."
            )
            return EXIT_SERVICE
        return EXIT_OK
    if stop.event.is_set():
        _note("Stopped; the state is saved. Run the same command again to resume.")
        return stop.exit_code
    if once:
        _note("Not finished: run the same command again (cron) to go on.")
    return EXIT_OK


# --- report ------------------------------------------------------------------------------


def _organization_exports(data_dir: Path, region: str, organization: str) -> list[ExportSnapshot]:
    """The saved exports of the organization; a file that cannot be read is named on stderr."""
    from wmtui.core.export_org import ExportStateError, find_exports, read_export_state
    from wmtui.core.locations import exports_dir

    found = find_exports(data_dir, region=region, organization_id=organization)
    read = {snapshot.path for snapshot in found}
    try:
        paths = sorted(exports_dir(data_dir).glob("*.json"))
    except OSError:
        paths = []
    for path in paths:
        if path in read:
            continue
        try:
            read_export_state(path)
        except ExportStateError as exc:
            _note(f"{PROG}: warning: left out of the report: {plain(str(exc))}")
    return found


def _read_jobs_for_report(
    backend: Backend,
    region: str,
    organization: str,
    wanted: Iterable[JobKey],
    known: Mapping[JobKey, ExportJob],
    settled: set[JobKey],
) -> dict[JobKey, ExportJob]:
    """ListMailboxExportJobs (last seven days), then Describe what the list cannot say: a
    wanted job older than seven days that is not known to be final, and a FAILED job whose
    ErrorInfo is not known (List leaves it out). Raises ServiceError."""
    service = backend.service
    fresh = {job.key: job for job in service.list_jobs(region, organization)}
    to_describe: list[JobKey] = []
    for key in dict.fromkeys(wanted):
        cached = known.get(key)
        if key in fresh or key in settled or (cached is not None and cached.state.is_final):
            continue
        to_describe.append(key)
    for key, job in fresh.items():
        cached = known.get(key)
        if (
            job.state is JobState.FAILED
            and not job.error_info
            and not (cached is not None and cached.error_info)
            and key not in settled
        ):
            to_describe.append(key)
    for key in to_describe:
        try:
            described = service.describe_job(key)
        except ServiceError as exc:
            if exc.kind is ErrorKind.JOB_NOT_FOUND:
                _note(
                    f"{PROG}: warning: job {plain(key.job_id)} was not found: {plain(exc.message)}"
                )
                continue
            raise
        fresh[key] = fresh[key].merged_with(described) if key in fresh else described
    return fresh


def _cmd_report(args: argparse.Namespace, backend: Backend) -> int:
    from wmtui.core.export_org import MailboxStatus
    from wmtui.core.report import build_report, write_report

    region = _resolve_region(backend)
    organization = validate_organization_id(args.organization_id)
    snapshots = _organization_exports(backend.settings.data_dir, region, organization)
    try:
        watched = [
            key
            for key in backend.watchlist.load()
            if (key.region, key.organization_id) == (region, organization)
        ]
    except WatchListError as exc:
        _note(f"{PROG}: warning: the watch list is left out: {plain(str(exc))}")
        watched = []
    known = backend.cache.load()
    # Jobs an export recorded as final need no call; its file says how they ended.
    settled: set[JobKey] = set()
    from_exports: list[JobKey] = []
    for snapshot in snapshots:
        for record in snapshot.records:
            if not record.job_id:
                continue
            key = JobKey(region, organization, record.job_id)
            from_exports.append(key)
            if record.status in (MailboxStatus.COMPLETED, MailboxStatus.FAILED) and (
                record.job_state in ("COMPLETED", "FAILED", "CANCELLED")
            ):
                settled.add(key)

    error: ServiceError | None = None
    fresh: dict[JobKey, ExportJob] = {}
    try:
        fresh = _read_jobs_for_report(
            backend, region, organization, [*watched, *from_exports], known, settled
        )
    except ServiceError as exc:
        error = exc
        _note(
            _error_line(f"jobs not read now, the report uses saved states: {exc.message}", exc.fix)
        )

    problem = _remember_jobs(backend, fresh.values(), set(watched))
    if problem:
        _note(f"{PROG}: warning: {plain(problem)}")
    cached = [known[key] for key in watched if key in known]
    if error is None or not error.kind.affects_all:
        entity_ids = {job.entity_id for job in [*cached, *fresh.values()] if job.entity_id}
        _learn_names(backend, {(region, organization): sorted(entity_ids)})
    else:
        _warn_names_problem(backend)
    rows = build_report([*snapshots, *cached, *fresh.values()], backend.names)

    fmt: ReportFormat = "json" if args.format == "json" else "csv"
    if args.output and args.output != "-":
        import io

        from wmtui.core.locations import write_private_file

        buffer = io.StringIO()
        write_report(rows, fmt, buffer)
        target = Path(args.output)
        write_private_file(target, buffer.getvalue().encode("utf-8"))
        where = f"written to {target}"
    else:
        write_report(rows, fmt, sys.stdout)
        where = "written"
    states: dict[str, int] = {}
    for row in rows:
        state = row.get("State") or "-"
        states[state] = states.get(state, 0) + 1
    counts = ", ".join(f"{count} {plain(state)}" for state, count in sorted(states.items()))
    _note(f"{len(rows)} row(s) {where}" + (f": {counts}" if counts else "") + ".")
    return error.exit_code if error is not None else EXIT_OK


# --- presign -----------------------------------------------------------------------------


def _cmd_presign(args: argparse.Namespace, backend: Backend) -> int:
    region = _resolve_region(backend)
    key = JobKey(
        region, validate_organization_id(args.organization_id), validate_job_id(args.job_id)
    )
    expires = args.expires if args.expires is not None else backend.settings.presign_expiry
    if not 1 <= expires <= MAX_PRESIGN_EXPIRY:
        raise ValidationError(
            "expiry", expires, f"must be 1 to {MAX_PRESIGN_EXPIRY} seconds (seven days)"
        )
    cached = backend.cache.load().get(key)
    # A final state never changes: a completed job the cache knows needs no call at all.
    if (
        cached is not None
        and cached.state.is_final
        and (cached.state is not JobState.COMPLETED or cached.s3_uri)
    ):
        job = cached
    else:
        job = backend.service.describe_job(key)
    if job.state is not JobState.COMPLETED:
        state = plain(job.raw_state or job.state.value)
        if job.state is JobState.RUNNING:
            problem, fix = (
                "is still RUNNING: its export is not in S3 yet",
                "try again once it is COMPLETED",
            )
        else:
            problem, fix = (
                f"is {state}: it has no export to download",
                "start a new export of the mailbox",
            )
        raise CliError(f"job {key.job_id} {problem}", fix, EXIT_BAD_PARAMETERS)
    url = backend.service.presign_url(job, expires)
    _say(url)
    until = datetime.now(UTC).timestamp() + expires
    _note(
        f"{job.s3_uri}: valid for {_duration(expires)} (until "
        f"{_short_time(datetime.fromtimestamp(until, UTC))}) for anyone who has the URL. "
        "Signed with temporary credentials (SSO, a role), it stops working when they expire."
    )
    return EXIT_OK


def _run_tui(backend: Backend) -> int:
    app = build_app(backend)
    restore = _end_app_on_signals(app)
    try:
        app.run()
    finally:
        restore()
    code = app.return_code
    if code == EXIT_HANGUP:
        _leave_closed_terminal()
    return code if code is not None else EXIT_OK


def _leave_closed_terminal() -> None:
    """After a hang-up, point stdout and stderr at /dev/null: the terminal is gone, and the
    interpreter's last flush to it would fail and make the exit status 120."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            os.dup2(null, fd)
        os.close(null)


def _end_app_on_signals(app: WmtuiApp) -> Callable[[], None]:
    """SIGTERM and SIGHUP (the SSH session closed) end the app as q does; returns what puts
    the previous handlers back.

    Python's default ends the process on the spot: the terminal is left in the app's modes
    (a garbled shell after a `kill`), the last job states are not saved and a demo's folder
    stays behind. Here the app exits through its own shutdown, with 143 or 129.
    """
    import asyncio
    import signal

    codes = {signal.SIGTERM: EXIT_TERMINATED, signal.SIGHUP: EXIT_HANGUP}

    def on_signal(signum: int, _frame: object) -> None:
        code = codes.get(signal.Signals(signum), EXIT_TERMINATED)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # Before the app's loop runs, or after it: end now, through finally and atexit.
            raise SystemExit(code) from None
        # A signal handler may run in the middle of the loop's own work: the exit is queued,
        # not run here.
        loop.call_soon_threadsafe(app.exit, None, code)

    return _set_signal_handlers(dict.fromkeys(codes, on_signal))


def _run_emulator(extra: list[str]) -> int:
    from wmtui.emulator.demo import add_emulator_arguments, run_emulator_command

    parser = _ArgumentParser(
        prog=f"{PROG} emulator",
        description="A local WorkMail that speaks the real protocol, on 127.0.0.1.",
    )
    add_emulator_arguments(parser)
    return run_emulator_command(parser.parse_args(extra))


_COMMANDS: Mapping[str, Callable[[argparse.Namespace, Backend], int]] = {
    "add": _cmd_add,
    "remove": _cmd_remove,
    "list": _cmd_list,
    "status": _cmd_status,
    "start": _cmd_start,
    "cancel": _cmd_cancel,
    "export-org": _cmd_export_org,
    "report": _cmd_report,
    "presign": _cmd_presign,
}


def _run(argv: list[str]) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    command: str | None = getattr(args, "command", None)
    if command == "emulator":
        return _run_emulator(extra)
    if extra:
        parser.error("unrecognized arguments: " + " ".join(extra))

    # What was typed is checked as typed: settings would drop a bad value with a warning and
    # fall back to the environment's, and a mistyped endpoint must never mean real AWS.
    if "endpoint_url" in vars(args):
        _check_endpoint_url(args.endpoint_url)
    settings = load_settings(settings_overrides(args))
    if "region" in vars(args) and not settings.demo:
        validate_region(args.region, endpoint_url=settings.endpoint_url)
    for warning in settings.warnings:
        _note(f"{PROG}: warning: {plain(warning)}")

    with open_backend(settings) as backend:
        if command is None:
            return _run_tui(backend)
        return _COMMANDS[command](args, backend)


def main(argv: list[str] | None = None) -> int:
    """Run wmtui; returns the exit code (see the module docstring)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    try:
        code = _run(arguments)
        # Flushed here so a reader that left (`wmtui list | head`) is handled below.
        sys.stdout.flush()
        return code
    except SystemExit as exc:  # argparse: --help, --version, a bad command line
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else 1)
    except KeyboardInterrupt:
        _note("")
        return EXIT_INTERRUPTED
    except ValidationError as exc:
        _note(_error_line(str(exc)))
        return EXIT_BAD_PARAMETERS
    except ServiceError as exc:
        _note(_error_line(exc.message, exc.fix))
        return exc.exit_code
    except WatchListError as exc:
        _note(_error_line(str(exc)))
        return EXIT_CONFIGURATION
    except CliError as exc:
        _note(_error_line(exc.message, exc.fix))
        return exc.exit_code
    except BrokenPipeError:
        # `wmtui list | head`: the reader left; say nothing more.
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:
        _note(_error_line(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")))
        return EXIT_OTHER


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
