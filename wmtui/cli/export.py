"""`wmtui export-org`: every mailbox of an organization, resumably, with its progress on stderr.

SIGINT and SIGTERM ask the engine to stop after the current step; the state file is current either
way, so the same command resumes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from wmtui.cli.arguments import refuse_if_read_only, resolve_region
from wmtui.cli.errors import (
    EXIT_BAD_PARAMETERS,
    EXIT_CONFIGURATION,
    EXIT_INTERRUPTED,
    EXIT_MORE_TO_DO,
    EXIT_OK,
    EXIT_SERVICE,
    EXIT_TERMINATED,
    CliError,
)
from wmtui.cli.jobs import remember_jobs
from wmtui.cli.notifications import tell_export_finished
from wmtui.cli.output import PROG, mailbox_text, note, plain, say
from wmtui.cli.signals import set_signal_handlers
from wmtui.core.display import precise_span
from wmtui.core.models import JobKey, Mailbox, now_utc
from wmtui.core.service import ServiceError
from wmtui.core.watchlist import WatchListError
from wmtui.factory import Backend

if TYPE_CHECKING:
    from wmtui.core.export import ExportProgress, ExportSpec, MailboxRecord, OrgExport

# Hidden knob for tests: seconds between export-org rounds (the engine's default is 15).
EXPORT_POLL_ENV = "WMTUI_EXPORT_POLL_SECONDS"
DEFAULT_EXPORT_POLL_SECONDS = 15.0
# Lists in the export-org summary stop here; `wmtui report` has them all.
SUMMARY_LIST_LIMIT = 20
# The export engine's clock (backoffs, the 24-hour window). A seam for tests, which point
# it at the emulator's manual clock so `--once` rounds can move time on.
EXPORT_CLOCK: Callable[[], datetime] = now_utc


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
    from wmtui.core.export import read_selector_file

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
    from wmtui.core.export import ExportSpec

    region = resolve_region(backend)
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


def _record_text(record: MailboxRecord) -> str:
    mailbox = Mailbox(
        entity_id=record.entity_id,
        name=record.name,
        email=record.email,
        display_name=record.display_name,
    )
    return mailbox_text(mailbox, record.entity_id)


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
            from wmtui.core.export import MailboxStatus

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
        problem = remember_jobs(self.backend, progress.jobs, watched)
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
                f"ETA {precise_span(progress.eta.total_seconds())}" if progress.eta else "ETA ?"
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
        from wmtui.core.export import MailboxStatus

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
    from wmtui.core.export import MailboxStatus

    spec = export.spec
    say(
        f"Export {export.export_id} of {spec.organization_id} ({spec.region}) "
        f"to s3://{plain(spec.bucket)}/{plain(spec.prefix)}"
    )
    records = export.records()
    if progress is None:
        say("No round finished.")
    else:
        say(
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
        say(f"{title} ({len(chosen)}):")
        for record in chosen[:SUMMARY_LIST_LIMIT]:
            why = record.error if status is MailboxStatus.FAILED else record.reason
            say(f"  {_record_text(record)}: {plain(why or '-')}")
        if len(chosen) > SUMMARY_LIST_LIMIT:
            say(f"  ... and {len(chosen) - SUMMARY_LIST_LIMIT} more (see `wmtui report`)")
    say(f"State: {export.state_path}")
    say(f"Record: wmtui report {spec.organization_id} --region {spec.region} --format csv")


def _install_stop_handlers(stop: _StopRequest) -> Callable[[], None]:
    """SIGINT and SIGTERM set `stop`; returns what puts the previous handlers back."""
    import signal

    return set_signal_handlers(dict.fromkeys((signal.SIGINT, signal.SIGTERM), stop))


def cmd_export_org(args: argparse.Namespace, backend: Backend) -> int:
    from wmtui.core.export import ExportStateError, OrgExport, export_state_path

    refuse_if_read_only(backend.settings, "start exports")
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
            tell_export_finished(backend, export, progress)
            return _export_outcome(progress, stop, watcher, once=args.once)
    except ExportStateError as exc:
        if watcher is not None:
            watcher.close()
        raise CliError(f"{exc.path}: {exc.problem}", exc.fix, EXIT_CONFIGURATION) from None
    except ServiceError:
        if watcher is not None:
            watcher.close()
        if export is not None:
            note(
                f"The state is saved in {export.state_path}; run the same command again to resume."
            )
        raise
    except KeyboardInterrupt:
        # A second Ctrl+C mid-call: the state file is current (starts are marked before sending).
        if watcher is not None:
            watcher.close()
        if export is not None:
            _export_summary(export, watcher.last if watcher else None)
        note("Stopped. Run the same command again to resume.")
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
        note(
            f"{PROG}: warning: {watcher.unwatched} started job(s) are not on the watch list "
            f"({watcher.watch_problem}); they are in the state file and in `wmtui report`, and "
            "running the same command again adds those still running"
        )
    if progress.finished:
        if progress.failed:
            note(
                f"{progress.failed} of {progress.total} mailboxes failed after retries "
                "(listed above); `wmtui report` has their ErrorInfo."
            )
            return EXIT_SERVICE
        return EXIT_OK
    if stop.event.is_set():
        note("Stopped; the state is saved. Run the same command again to resume.")
        return stop.exit_code
    if once:
        note(f"Not finished: run the same command again (cron) to go on (exit {EXIT_MORE_TO_DO}).")
        return EXIT_MORE_TO_DO
    return EXIT_OK
