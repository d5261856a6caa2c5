"""The command line: global options every command takes, and one function per group of commands."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from wmtui.cli.errors import EXIT_BAD_PARAMETERS
from wmtui.cli.output import PROG, plain
from wmtui.core.models import WORKMAIL_REGIONS
from wmtui.core.settings import MAX_PRESIGN_EXPIRY


class CommandLineParser(argparse.ArgumentParser):
    """argparse with the AWS CLI's exit code for a bad command line (252, not 2), and its
    error on one line like every other error, with where to look instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            EXIT_BAD_PARAMETERS,
            f"{self.prog}: error: {plain(message)} (see `{self.prog} --help`)\n",
        )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wmtui")
    except PackageNotFoundError:
        return "unknown"


class _VersionAction(argparse.Action):
    """--version: the installed version, looked up only when asked (importlib.metadata is not
    free, and every command builds this parser)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the version"
        )

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(f"{parser.prog} {_version()}")  # on stdout, as argparse's own action does
        parser.exit()


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
        "--notify-command",
        default=s,
        metavar="COMMAND",
        help="run COMMAND once per event (an export ended, ...) with the event as JSON on its "
        "standard input (WMTUI_NOTIFY_COMMAND)",
    )
    group.add_argument(
        "--demo",
        default=s,
        action="store_true",
        help="run against a built-in emulator with a throwaway watch list (no AWS needed)",
    )
    group.add_argument("--version", action=_VersionAction)


# The subcommands' `add_parser` with the global options given: every command takes them.
AddCommand = Callable[..., argparse.ArgumentParser]


def build_parser() -> argparse.ArgumentParser:
    common = CommandLineParser(add_help=False)
    _add_global_options(common)

    parser = CommandLineParser(
        prog=PROG,
        description="Watch, start and cancel Amazon WorkMail mailbox export jobs.",
        epilog="Without a command, the terminal UI starts. Exit codes: 0 ok, 252 bad parameters "
        "or refused, 253 configuration or credentials, 254 service error, 255 other.",
        parents=[common],
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=CommandLineParser
    )
    add_command = functools.partial(commands.add_parser, parents=[common])
    # The order here is the order of `wmtui --help`.
    _add_watch_commands(add_command)
    _add_job_commands(add_command)
    _add_organization_commands(add_command)
    _add_presign_command(add_command)
    from wmtui.cli.coverage import add_coverage_command

    add_coverage_command(add_command)
    from wmtui.cli.verify import add_verify_arguments

    add_verify_arguments(add_command)
    from wmtui.cli.doctor import add_doctor_command

    add_doctor_command(add_command)
    from wmtui.cli.log import add_log_arguments

    add_log_arguments(add_command)
    # Its options belong to wmtui.emulator.demo, parsed only when asked for (see run.py),
    # so no other command pays for importing the emulator.
    commands.add_parser(
        "emulator",
        add_help=False,
        help="run a local WorkMail emulator (wmtui emulator --help)",
    )
    return parser


def _add_watch_commands(add_command: AddCommand) -> None:
    """add, remove, list, status: the watch list and the jobs on it."""
    add = add_command(
        "add",
        help="watch jobs (no AWS call)",
        description="Watch jobs. With --profile P the jobs belong to the account P reaches: "
        "the watch list keeps P, and every call about them is made with P's credentials.",
    )
    add.add_argument("organization_id", metavar="ORG_ID")
    add.add_argument("job_ids", metavar="JOB_ID", nargs="+", help="one or more, or comma separated")

    remove = add_command("remove", help="stop watching jobs", description="Stop watching jobs.")
    remove.add_argument("organization_id", metavar="ORG_ID")
    remove.add_argument("job_ids", metavar="JOB_ID", nargs="+")

    listing = add_command(
        "list",
        help="the watched jobs with their last-known state (no AWS call)",
        description="The watched jobs with their last-known state, from the cache.",
    )
    listing.add_argument("--json", action="store_true", help="JSON with the API's field names")

    status = add_command(
        "status",
        help="refresh every watched job once and print it",
        description="Refresh every watched job once. Jobs in a final state (COMPLETED, FAILED, "
        "CANCELLED) never change, so they come from the cache with the time they were last seen.",
    )
    status.add_argument("--json", action="store_true", help="JSON with the API's field names")


def _add_job_commands(add_command: AddCommand) -> None:
    """start and cancel: one job each."""
    start = add_command(
        "start",
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

    cancel = add_command(
        "cancel",
        help="cancel a running export",
        description="Cancel a running export job (CancelMailboxExportJob).",
    )
    cancel.add_argument("organization_id", metavar="ORG_ID")
    cancel.add_argument("job_id", metavar="JOB_ID")
    cancel.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


def _add_organization_commands(add_command: AddCommand) -> None:
    """export-org and report: a whole organization."""
    export_org = add_command(
        "export-org",
        help="export every mailbox of an organization, resumably",
        description="Export every enabled mailbox (users and resources) of an organization, "
        "keeping at most --max-running exports running, skipping mailboxes exported in the last "
        "24 hours and retrying failed ones a few times. Every job joins the watch list. The "
        "state is saved as it goes: after Ctrl+C, a crash or a reboot, run the same command "
        "again and it resumes without starting any mailbox twice. Exit codes: 0 every mailbox "
        "done or skipped, 75 --once left work to do (run it again), 254 some failed after "
        "retries, 130/143 stopped (resumable).",
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
        help="one round (read the jobs, start what fits) and exit: for cron; exits 75 while "
        "there is more to do, 0 once everything is done",
    )

    report = add_command(
        "report",
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


def _add_presign_command(add_command: AddCommand) -> None:
    presign = add_command(
        "presign",
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
