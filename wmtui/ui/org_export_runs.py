"""Organization exports in the app's background, and those another process runs.

An export started with E is an `ExportRun`: a thread worker of the app (not of a screen) ticks
the engine until every mailbox is settled, or until it is stopped on purpose (x on its view or
in the organization exports list, with a confirmation) or the app quits. Its view only shows
it: closing the view leaves it running; opening it again shows the counts and the log so far.

An export whose lock another process holds (`wmtui export-org` in cron) is a `FollowedExport`:
read-only, its state file is read again whenever it changes, and the jobs it started join the
watch list as the app's own do. Either way the engine's state file is the record: an export
stopped here or there resumes from it (E with the same destination, or the same command).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from textual.message import Message
from textual.worker import get_current_worker

from wmtui.core.export import (
    ExportFollower,
    ExportLockedError,
    ExportProgress,
    ExportSpec,
    ExportStateError,
    LockHolder,
    MailboxStatus,
    OrgExport,
    lock_holder,
    round_events,
)
from wmtui.core.models import ExportJob, JobKey, JobState, ValidationError
from wmtui.core.service import ExportService, ServiceError
from wmtui.ui.messages import ExportHalted, ExportJobsStarted
from wmtui.ui.safe_text import sanitize

if TYPE_CHECKING:
    from textual.app import App

    from wmtui.core.export import MailboxRecord

# The log keeps this many lines; the state file keeps everything.
LOG_LINES = 500
# How long a new run waits for the one stopped a moment ago to let go of the export's lock.
LOCK_HANDOVER_SECONDS = 30.0
# Seconds between two looks at a followed export's state file (a stat; read when it changed).
FOLLOW_EVERY = 3.0
# How long quitting waits for the exports to let go of their locks (the call they are in).
QUIT_WAIT = 2.0

# Waits `seconds` or until the event is set (tests pass one that moves an emulator's clock).
ExportWait = Callable[[float, threading.Event], None]


def wait_or_stop(seconds: float, stop: threading.Event) -> None:
    stop.wait(seconds)


class ExportView(Protocol):
    """What a source tells its open views (on the UI thread)."""

    def source_changed(self) -> None: ...

    def follow_instead(self, source: ExportSource) -> None: ...


class ExportRunChanged(Message):
    """From an export's worker to the app: a round's progress, or the end of the run."""

    def __init__(
        self,
        source: ExportSource,
        *,
        progress: ExportProgress | None = None,
        events: tuple[str, ...] = (),
        halted: ExportHalted | None = None,
        holder: LockHolder | None = None,
        locked_elsewhere: bool = False,
    ) -> None:
        super().__init__()
        self.source = source
        self.progress = progress
        self.events = events
        self.halted = halted
        self.holder = holder
        self.locked_elsewhere = locked_elsewhere


def started_records(
    spec: ExportSpec, records: Sequence[MailboxRecord], keys: Sequence[JobKey]
) -> list[ExportJob]:
    """Just enough of each started job for the table to name its mailbox before a refresh."""
    by_job = {job_id: record for record in records for job_id in record.job_ids}
    out: list[ExportJob] = []
    for key in keys:
        record = by_job.get(key.job_id)
        if record is None:
            continue
        out.append(
            ExportJob(
                key=key,
                state=JobState.UNKNOWN,
                entity_id=record.entity_id,
                description=spec.job_description,
                role_arn=spec.role_arn,
                kms_key_arn=spec.kms_key_arn,
                s3_bucket_name=spec.bucket,
                s3_prefix=spec.prefix,
            )
        )
    return out


class ExportSource:
    """What a progress view shows: an export's last progress, its log and how it ended."""

    read_only = True

    def __init__(self, spec: ExportSpec, state_path: Path, clock: Callable[[], datetime]) -> None:
        self.spec = spec
        self.state_path = state_path
        self.clock = clock
        self.last_progress: ExportProgress | None = None
        self.halted: ExportHalted | None = None
        self.lines: deque[str] = deque(maxlen=LOG_LINES)
        self.lines_written = 0  # every line ever logged: a view knows which it has not shown
        self.views: list[ExportView] = []

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def log(self, line: str, at: datetime | None = None) -> None:
        when = (at or self.clock()).strftime("%H:%M:%S")
        self.lines.append(f"{when}  {sanitize(line, limit=400)}")
        self.lines_written += 1

    def new_lines(self, shown: int) -> list[str]:
        """The lines logged after the first `shown` (those still kept)."""
        missing = min(self.lines_written - shown, len(self.lines))
        return list(self.lines)[len(self.lines) - missing :] if missing > 0 else []

    def apply(self, message: ExportRunChanged) -> None:
        """On the UI thread: take what the worker saw, and tell the views."""
        if message.progress is not None:
            self.last_progress = message.progress
            for line in message.events:
                self.log(line, message.progress.at)
        if message.halted is not None:
            self.halted = message.halted
            self.log_halted(message.halted)
        for view in list(self.views):
            view.source_changed()

    def log_halted(self, halted: ExportHalted) -> None:
        progress = self.last_progress
        if halted.finished:
            summary = "Export finished"
            if progress is not None:
                summary += (
                    f": {progress.done} done, {progress.failed} failed,"
                    f" {progress.skipped} skipped of {progress.total}"
                )
            self.log(summary)
        elif halted.problem is not None:
            self.log(f"stopped: {halted.problem}")

    def state_word(self) -> str:
        """running here, running elsewhere, finished or paused."""
        if self.running:
            return "running elsewhere" if self.read_only else "running here"
        progress = self.last_progress
        return "finished" if progress is not None and progress.finished else "paused"

    def words(self) -> str:
        """One line for lists and the palette: where it goes and where it stands."""
        spec = self.spec
        where = f"{spec.organization_id} ({spec.region}) → s3://{spec.bucket}/{spec.prefix}"
        progress = self.last_progress
        counts = f", {progress.done}/{progress.total} done" if progress is not None else ""
        return f"{where}{counts}"


class ExportRun(ExportSource):
    """An export this app runs, in a thread worker of the app."""

    read_only = False

    def __init__(
        self,
        spec: ExportSpec,
        state_path: Path,
        *,
        service: ExportService,
        clock: Callable[[], datetime],
        endpoint_url: str | None,
        poll_interval: float,
        min_interval: float,
        wait: ExportWait,
        previous_run: threading.Event | None = None,
        on_finished: Callable[[OrgExport, ExportProgress], None] | None = None,
    ) -> None:
        super().__init__(spec, state_path, clock)
        self._service = service
        self._endpoint_url = endpoint_url
        self._poll_interval = poll_interval
        self._min_interval = min_interval
        self._wait = wait
        self._previous_run = previous_run
        # Called in the worker's thread once every mailbox is finished (notifications).
        self._on_finished = on_finished
        self.stop = threading.Event()
        # Set when the worker has let go of the export (its lock).
        self.done = threading.Event()
        self.stop_asked = False  # stopped on purpose (x), not by the app quitting
        self.log(f"export {spec.export_id}")

    @property
    def running(self) -> bool:
        return not self.done.is_set() and self.halted is None

    def request_stop(self) -> None:
        self.stop_asked = True
        self.stop.set()

    def drive(self, app: App[Any]) -> None:
        """The worker's body: tick until finished or stopped; every end is posted."""
        worker = get_current_worker()

        def stopped() -> bool:
            return worker.is_cancelled or self.stop.is_set()

        halted: ExportRunChanged
        try:
            if self._previous_run is not None:
                self._previous_run.wait(LOCK_HANDOVER_SECONDS)
            halted = self._run(app, stopped)
        except ExportLockedError as exc:
            halted = ExportRunChanged(
                self, halted=ExportHalted(exc.problem, exc.fix or None), locked_elsewhere=True
            )
        except ServiceError as exc:
            halted = ExportRunChanged(self, halted=ExportHalted(exc.message, exc.fix or None))
        except ExportStateError as exc:
            halted = ExportRunChanged(self, halted=ExportHalted(exc.problem, exc.fix or None))
        except ValidationError as exc:
            halted = ExportRunChanged(self, halted=ExportHalted(str(exc)))
        except Exception as exc:  # the export stops; the app and its state file live on
            halted = ExportRunChanged(self, halted=ExportHalted(f"{type(exc).__name__}: {exc}"))
        finally:
            self.done.set()
        app.post_message(halted)

    def _run(self, app: App[Any], stopped: Callable[[], bool]) -> ExportRunChanged:
        export = OrgExport(
            self.spec,
            self._service,
            self.state_path,
            clock=self.clock,
            endpoint_url=self._endpoint_url,
        )
        known: dict[str, tuple[MailboxStatus, str | None, str | None]] = {}
        with export:
            first = True
            while not stopped():
                progress = export.tick()
                records = export.records()
                events = round_events(known, records, progress, first=first)
                # The first round brings every job an earlier run started, too.
                keys = export.job_keys() if first else list(progress.started)
                first = False
                if keys:
                    app.post_message(
                        ExportJobsStarted(keys, started_records(self.spec, records, keys))
                    )
                app.post_message(ExportRunChanged(self, progress=progress, events=tuple(events)))
                if progress.finished:
                    if self._on_finished is not None:
                        self._on_finished(export, progress)
                    return ExportRunChanged(self, halted=ExportHalted(finished=True))
                delay = progress.suggested_delay(self._poll_interval, self._min_interval)
                self._wait(delay, self.stop)
        return ExportRunChanged(self, halted=ExportHalted())

    def log_halted(self, halted: ExportHalted) -> None:
        super().log_halted(halted)
        if not halted.finished and halted.problem is None:
            self.log("stopped; its state is saved: E with the same destination resumes it")


class FollowedExport(ExportSource):
    """An export another process runs (or ran): read from its state file as it changes."""

    def __init__(self, spec: ExportSpec, state_path: Path, clock: Callable[[], datetime]) -> None:
        super().__init__(spec, state_path, clock)
        self.follower = ExportFollower(state_path, clock=clock)
        self.holder = lock_holder(state_path)
        self.problem: str | None = None
        self.reading = False

    @property
    def running(self) -> bool:
        """Another process holds its lock."""
        return self.holder.held

    def read(self, app: App[Any], force: bool = False) -> None:
        """In a worker: look at the state file; post what changed."""
        try:
            seen = self.follower.read(force=force)
        except ExportStateError as exc:
            self.problem = exc.problem
            app.post_message(ExportRunChanged(self))
            return
        self.problem = None
        if seen.new_jobs and seen.snapshot is not None:
            keys = list(seen.new_jobs)
            records = started_records(self.spec, seen.snapshot.records, keys)
            app.post_message(ExportJobsStarted(keys, records))
        app.post_message(
            ExportRunChanged(self, progress=seen.progress, events=seen.events, holder=seen.holder)
        )

    def apply(self, message: ExportRunChanged) -> None:
        if message.holder is not None:
            was_running = self.holder.held
            self.holder = message.holder
            if was_running and not message.holder.held:
                self.log("the process that ran it let go of it")
        super().apply(message)

    def owner_words(self) -> str:
        """Who runs it, for the view's line."""
        if self.problem is not None:
            return f"Its state file cannot be read: {self.problem}"
        holder = self.holder
        if holder.held:
            who = f"pid {holder.pid}" if holder.pid is not None else "pid not known"
            return (
                f"Run by another process ({who}), e.g. wmtui export-org: shown read-only, from"
                " its state file as it changes. Stop it where it runs."
            )
        progress = self.last_progress
        if progress is not None and progress.finished:
            return "Finished; no process runs it."
        return "Paused: no process runs it now. E resumes it here."


class OrgExportRuns:
    """Every organization export the app runs or follows, by state file: the app owns it."""

    def __init__(self, app: App[Any], clock: Callable[[], datetime]) -> None:
        self.app = app
        self.clock = clock
        self.runs: dict[Path, ExportRun] = {}
        self.followed: dict[Path, FollowedExport] = {}
        self.follow_every = FOLLOW_EVERY
        self._follow_timer: Any = None
        # Called when an export's done/total moves, or it starts or ends (the status line).
        self.on_counts_changed: Callable[[], None] | None = None
        self._counts: dict[Path, tuple[int, int, bool]] = {}

    def sources(self) -> Iterator[ExportSource]:
        yield from self.runs.values()
        for path, followed in self.followed.items():
            if path not in self.runs:
                yield followed

    def live_run(self, path: Path) -> ExportRun | None:
        run = self.runs.get(path)
        return run if run is not None and run.running else None

    def live_runs(self) -> list[ExportRun]:
        """The exports this app runs now (quitting stops them)."""
        return [run for run in self.runs.values() if run.running]

    def start(self, run: ExportRun) -> ExportRun:
        """Run it in the app's background (a worker of the app: no screen owns it)."""
        self.runs[run.state_path] = run
        self.followed.pop(run.state_path, None)
        self.app.run_worker(
            lambda: run.drive(self.app),
            thread=True,
            group="org-export",
            name=f"org-export {run.spec.export_id}",
            exit_on_error=False,
        )
        return run

    def follow(self, spec: ExportSpec, path: Path) -> FollowedExport:
        """Follow the export of this state file (read-only), reading it at once."""
        followed = self.followed.get(path)
        if followed is None:
            followed = self.followed[path] = FollowedExport(spec, path, self.clock)
            self._read(followed, force=True)
        else:
            self._read(followed)
        if self._follow_timer is None:
            self._follow_timer = self.app.set_interval(self.follow_every, self.read_followed)
        return followed

    def read_followed(self, force: bool = False) -> None:
        """Look at every followed export's state file (in workers); forget those nobody runs
        and nobody looks at."""
        for path, followed in list(self.followed.items()):
            if not followed.running and not followed.views and followed.last_progress:
                del self.followed[path]
                continue
            self._read(followed, force=force)
        if not self.followed and self._follow_timer is not None:
            self._follow_timer.stop()
            self._follow_timer = None

    def _read(self, followed: FollowedExport, force: bool = False) -> None:
        if followed.reading:
            return
        followed.reading = True

        def read() -> None:
            try:
                followed.read(self.app, force)
            finally:
                followed.reading = False

        self.app.run_worker(read, thread=True, group="org-export-follow", exit_on_error=False)

    def changed(self, message: ExportRunChanged) -> None:
        """On the UI thread, from the app: a worker's news for its source and views."""
        source = message.source
        if message.locked_elsewhere and isinstance(source, ExportRun):
            # Another process took the lock first: follow it instead of refusing.
            self.runs.pop(source.state_path, None)
            followed = self.follow(source.spec, source.state_path)
            for view in list(source.views):
                view.follow_instead(followed)
            return
        source.apply(message)
        progress = source.last_progress
        counts = (
            progress.done if progress else 0,
            progress.total if progress else 0,
            source.running,
        )
        if self._counts.get(source.state_path) != counts:
            self._counts[source.state_path] = counts
            if self.on_counts_changed is not None:
                self.on_counts_changed()
        halted = message.halted
        if halted is not None and not source.views and isinstance(source, ExportRun):
            self._tell_end(source, halted)

    def _tell_end(self, run: ExportRun, halted: ExportHalted) -> None:
        """The end of an export nobody is looking at, said once."""
        name = sanitize(run.spec.organization_id)
        if halted.finished:
            progress = run.last_progress
            counts = f": {progress.done} of {progress.total} done" if progress else ""
            self.app.notify(f"Organization export of {name} finished{counts}.", markup=False)
        elif halted.problem is not None:
            self.app.notify(
                f"Organization export of {name} stopped: {sanitize(halted.problem, limit=300)}"
                " (O shows it; E with the same destination resumes it).",
                severity="error",
                markup=False,
                timeout=15,
            )

    def stop_all(self, wait: float = 0.0) -> None:
        """Tell every export to stop; with `wait`, give their workers that many seconds to let
        go of their locks (callable from any thread: the app's exit after a hang-up)."""
        runs = list(self.runs.values())
        for run in runs:
            run.stop.set()
        if wait > 0:
            deadline = time.monotonic() + wait
            for run in runs:
                run.done.wait(max(0.0, deadline - time.monotonic()))
