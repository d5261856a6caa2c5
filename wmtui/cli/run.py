"""The door: parses arguments, builds settings and the backend, runs the TUI or a subcommand.

Subcommands never import textual: `wmtui status` from cron stays light.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from wmtui.cli.arguments import check_endpoint_url, settings_overrides
from wmtui.cli.errors import (
    EXIT_BAD_PARAMETERS,
    EXIT_CONFIGURATION,
    EXIT_HANGUP,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OTHER,
    EXIT_TERMINATED,
    CliError,
)
from wmtui.cli.hangup import HangupExit, silence_terminal
from wmtui.cli.output import PROG, error_line, note, plain
from wmtui.cli.parser import CommandLineParser, build_parser
from wmtui.cli.signals import set_signal_handlers
from wmtui.core.models import ValidationError, validate_region
from wmtui.core.service import ServiceError
from wmtui.core.settings import load_settings
from wmtui.core.watchlist import WatchListError
from wmtui.factory import Backend, build_app, open_backend

if TYPE_CHECKING:
    from wmtui.ui.app import WmtuiApp


def _run_tui(backend: Backend) -> int:
    from wmtui.ui.lifecycle import save_for_exit

    app = build_app(backend)
    # After a hang-up: the cache saved off the main thread, and the process ended if the
    # app's own shutdown stalls on the dead terminal (wmtui.cli.hangup).
    hangup = HangupExit(
        save_state=partial(save_for_exit, app),
        ask_to_exit=lambda: app.exit(None, EXIT_HANGUP),
        last_rites=backend.close,
    )
    restore = _end_app_on_signals(app, hangup)
    stop_listening = hangup.listen()
    try:
        app.run()
    finally:
        stop_listening()
        restore()
    if hangup.hung_up:
        hangup.settle()
        # Whatever the terminal still was, the interpreter's last flush to it must not fail
        # (it would make the status 120): the app has put it back already, if it could.
        silence_terminal()
        return EXIT_HANGUP
    code = app.return_code
    return code if code is not None else EXIT_OK


def _end_app_on_signals(app: WmtuiApp, hangup: HangupExit) -> Callable[[], None]:
    """SIGTERM and SIGHUP (the SSH session closed) end the app as q does; returns what puts
    the previous handlers back.

    Python's default ends the process on the spot: the terminal is left in the app's modes
    (a garbled shell after a `kill`), the last job states are not saved and a demo's folder
    stays behind. Here the app exits through its own shutdown, with 143 or 129; after a
    SIGHUP, `hangup` sees to it that the process ends even if that shutdown cannot.
    """
    import asyncio
    import signal

    codes = {signal.SIGTERM: EXIT_TERMINATED, signal.SIGHUP: EXIT_HANGUP}

    def on_signal(signum: int, _frame: object) -> None:
        code = codes.get(signal.Signals(signum), EXIT_TERMINATED)
        if code == EXIT_HANGUP:
            hangup.on_hangup()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # Before the app's loop runs, or after it: end now, through finally and atexit.
            raise SystemExit(code) from None
        # A signal handler may run in the middle of the loop's own work: the exit is queued,
        # not run here.
        loop.call_soon_threadsafe(app.exit, None, code)

    return set_signal_handlers(dict.fromkeys(codes, on_signal))


def _has_terminal() -> bool:
    """Whether standard input and output are both terminals, as the full-screen app needs."""
    for stream in (sys.stdin, sys.stdout):
        try:
            if stream is None or not stream.isatty():
                return False
        except (OSError, ValueError):  # a closed stream
            return False
    return True


def _run_emulator(extra: list[str]) -> int:
    from wmtui.emulator.demo import add_emulator_arguments, run_emulator_command

    parser = CommandLineParser(
        prog=f"{PROG} emulator",
        description="A local WorkMail that speaks the real protocol, on 127.0.0.1.",
    )
    add_emulator_arguments(parser)
    return run_emulator_command(parser.parse_args(extra))


# Each command's module, imported only when that command runs: `wmtui list` must not pay for
# what `wmtui export-org` needs.
COMMANDS: Mapping[str, str | Callable[[argparse.Namespace, Backend], int]] = {
    "add": "wmtui.cli.jobs:cmd_add",
    "remove": "wmtui.cli.jobs:cmd_remove",
    "list": "wmtui.cli.jobs:cmd_list",
    "status": "wmtui.cli.status:cmd_status",
    "start": "wmtui.cli.operations:cmd_start",
    "cancel": "wmtui.cli.operations:cmd_cancel",
    "export-org": "wmtui.cli.export:cmd_export_org",
    "report": "wmtui.cli.report:cmd_report",
    "presign": "wmtui.cli.operations:cmd_presign",
    "coverage": "wmtui.cli.coverage:cmd_coverage",
    "doctor": "wmtui.cli.doctor:cmd_doctor",
    "verify": "wmtui.cli.verify:cmd_verify",
    "fetch": "wmtui.cli.fetch:cmd_fetch",
    "log": "wmtui.cli.log:cmd_log",
}


def command_function(command: str) -> Callable[[argparse.Namespace, Backend], int]:
    """The function that runs `command`, its module imported now."""
    target = COMMANDS[command]
    if not isinstance(target, str):
        return target
    module_name, _, name = target.partition(":")
    function: Callable[[argparse.Namespace, Backend], int] = getattr(
        importlib.import_module(module_name), name
    )
    return function


def _run(argv: list[str]) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    command: str | None = getattr(args, "command", None)
    if command == "emulator":
        return _run_emulator(extra)
    if extra:
        parser.error("unrecognized arguments: " + " ".join(extra))
    if command is None and not _has_terminal():
        # A cron line, `ssh -T` or a pipe: the full-screen app would write escape sequences
        # into a file and never end. Said before anything starts (the demo's emulator too).
        raise CliError(
            "the terminal UI needs a terminal on standard input and output",
            "for scripts and cron: `wmtui status`, or `wmtui list --json`",
            EXIT_BAD_PARAMETERS,
        )

    # What was typed is checked as typed: settings would drop a bad value with a warning and
    # fall back to the environment's, and a mistyped endpoint must never mean real AWS.
    if "endpoint_url" in vars(args):
        check_endpoint_url(args.endpoint_url)
    settings = load_settings(settings_overrides(args))
    if "region" in vars(args) and not settings.demo:
        validate_region(args.region, endpoint_url=settings.endpoint_url)
    for warning in settings.warnings:
        note(f"{PROG}: warning: {plain(warning)}")

    with open_backend(settings) as backend:
        if command is None:
            return _run_tui(backend)
        run = command_function(command)
        if command not in _READS_THE_WATCH_LIST_ITSELF:
            _learn_profiles(
                backend, getattr(args, "organization_id", None), getattr(args, "profile", None)
            )
        try:
            return run(args, backend)
        finally:
            if getattr(backend.service, "trail", None) is not None:
                from wmtui.cli.log import warn_trail_problem

                warn_trail_problem(backend)


# Commands that read the watch list first anyway, or make no call for an organization.
_READS_THE_WATCH_LIST_ITSELF = frozenset({"add", "remove", "list", "status", "log"})


def _learn_profiles(backend: Backend, organization_id: object, profile: object) -> None:
    """Read the watch list so each organization's calls go to its profile's account, and,
    without --region, a watched organization's commands use the region it is watched in
    (its profile's region may differ from the default's). `--profile P` for an organization
    no entry names a profile for: the jobs the command adds (export-org ...) keep P. A broken
    list is said by the commands that need it, never here."""
    try:
        watched = backend.watchlist.load()
    except (WatchListError, OSError):
        return
    if not isinstance(organization_id, str):
        return
    region = next((k.region for k in watched if k.organization_id == organization_id), None)
    if region is not None and not backend.settings.region:
        backend.settings = replace(backend.settings, region=region)
    region = backend.settings.region or getattr(backend.service, "default_region", None)
    if not (isinstance(profile, str) and profile and isinstance(region, str) and region):
        return
    if backend.profiles.owner(region, organization_id) is None:
        backend.profiles.assign(region, organization_id, profile)


def main(argv: list[str] | None = None) -> int:
    """Run wmtui; returns the exit code (see wmtui.cli.errors)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    try:
        code = _run(arguments)
        # Flushed here so a reader that left (`wmtui list | head`) is handled below.
        sys.stdout.flush()
        return code
    except SystemExit as exc:  # argparse: --help, --version, a bad command line
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else 1)
    except KeyboardInterrupt:
        note("")
        return EXIT_INTERRUPTED
    except ValidationError as exc:
        note(error_line(str(exc)))
        return EXIT_BAD_PARAMETERS
    except ServiceError as exc:
        note(error_line(exc.message, exc.fix))
        return exc.exit_code
    except WatchListError as exc:
        note(error_line(str(exc)))
        return EXIT_CONFIGURATION
    except CliError as exc:
        note(error_line(exc.message, exc.fix))
        return exc.exit_code
    except BrokenPipeError:
        # `wmtui list | head`: the reader left; say nothing more.
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:
        note(error_line(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")))
        return EXIT_OTHER


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
