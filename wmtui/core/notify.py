"""Notifications that reach people: a program of the user's choosing, run once per event.

The `notify_command` setting names it; it is split with shlex and run without a shell, with
the event as one JSON object on its standard input (never on its command line), within a time
limit. Which events were sent is kept in a small state file in the data folder, claimed under
a lock before the program runs, so an event goes out once across the app, `status`, `verify`,
`export-org` and restarts, even when two of them see it at the same moment. A program that
fails or hangs is reported, never raised: the caller goes on.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import signal
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wmtui.core.locations import (
    JSONProblem,
    NotAFileProblem,
    ensure_private_dir,
    parse_json,
    read_file,
    write_private_file,
)
from wmtui.core.models import ExportJob, JobState, now_utc

if TYPE_CHECKING:
    from wmtui.core.export import ExportProgress, OrgExport

JOB_COMPLETED = "job_completed"
JOB_FAILED = "job_failed"
JOB_CANCELLED = "job_cancelled"
ORG_EXPORT_FINISHED = "org_export_finished"
VERIFICATION_FAILED = "verification_failed"
DEADLINE_RISK = "deadline_risk"
EVENT_KINDS = (
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_CANCELLED,
    ORG_EXPORT_FINISHED,
    VERIFICATION_FAILED,
    DEADLINE_RISK,
)
_JOB_EVENTS = {
    JobState.COMPLETED: JOB_COMPLETED,
    JobState.FAILED: JOB_FAILED,
    JobState.CANCELLED: JOB_CANCELLED,
}
STATE_NAME = "notified.json"
DEFAULT_TIMEOUT = 10.0
# The state file keeps this many event IDs, the newest: enough for any export's lifetime.
MAX_REMEMBERED = 20_000
MAX_STATE_BYTES = 8 * 1024 * 1024
# What of a failing program's stderr is quoted in the report.
STDERR_QUOTED = 200


def notify_state_path(data_dir: Path) -> Path:
    return data_dir / STATE_NAME


@dataclass(frozen=True)
class Event:
    """One thing worth telling someone. `id` decides what counts as the same event."""

    event: str
    id: str
    time: datetime
    profile: str | None = None
    region: str | None = None
    organization_id: str | None = None
    job_id: str | None = None
    mailbox: str | None = None
    state: str | None = None
    error_info: str | None = None
    s3_uri: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object the program reads: the issue's fields, then any extra ones."""
        return {
            "event": self.event,
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "profile": self.profile,
            "region": self.region,
            "organization_id": self.organization_id,
            "job_id": self.job_id,
            "mailbox": self.mailbox,
            "state": self.state,
            "error_info": self.error_info,
            "s3_uri": self.s3_uri,
            **self.extra,
        }


def ended(old: ExportJob | None, new: ExportJob) -> bool:
    """A job seen before not final, now COMPLETED, FAILED or CANCELLED."""
    return old is not None and not old.state.is_final and new.state in _JOB_EVENTS


def job_event(
    job: ExportJob,
    *,
    profile: str | None = None,
    mailbox: str | None = None,
    time: datetime | None = None,
) -> Event | None:
    """The event of a job in a final state; None while it runs."""
    kind = _JOB_EVENTS.get(job.state)
    if kind is None:
        return None
    key = job.key
    return Event(
        event=kind,
        id=f"{kind}:{key}",
        time=time or job.end_time or now_utc(),
        profile=profile,
        region=key.region,
        organization_id=key.organization_id,
        job_id=key.job_id,
        mailbox=mailbox or job.entity_id,
        state=job.raw_state or job.state.value,
        error_info=job.error_info,
        s3_uri=job.s3_uri,
    )


def parse_command(text: str | None) -> list[str] | None:
    """The setting as argv (shlex, no shell); None when unset or empty. ValueError if the
    quotes do not close."""
    if text is None or not text.strip():
        return None
    argv = shlex.split(text)
    return argv or None


@dataclass
class Delivery:
    """What became of one event."""

    event: Event
    sent: bool  # the program ran and exited 0
    skipped: bool = False  # sent before (by this or another process): not run again
    problem: str | None = None


Runner = Callable[[list[str], bytes, float], str | None]


def run_program(argv: list[str], payload: bytes, timeout: float) -> str | None:
    """Run `argv` with `payload` on stdin; None if it exited 0, else what went wrong.

    In its own process group, so a hung program and anything it started are killed together
    when the time is up. Its stdout is discarded; the start of its stderr is quoted.
    """
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            close_fds=True,
            start_new_session=True,
        )
    except OSError as exc:
        return f"could not run {argv[0]!r}: {exc.strerror or exc}"
    try:
        _, stderr = process.communicate(payload, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            process.communicate(timeout=2)
        return f"{argv[0]!r} took longer than {timeout:g} s and was stopped"
    finally:
        if process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if process.returncode != 0:
        said = (stderr or b"").decode("utf-8", "replace").strip().splitlines()
        quoted = f": {said[-1][:STDERR_QUOTED]}" if said else ""
        return f"{argv[0]!r} exited with status {process.returncode}{quoted}"
    return None


class Notifier:
    """Sends events to the notify_command, each once. Safe to use from several threads and
    processes (the claim on an event is taken under an exclusive lock on the state file)."""

    def __init__(
        self,
        command: str | None,
        state_path: Path,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        runner: Runner = run_program,
    ) -> None:
        self.command = command
        self.state_path = state_path
        self.timeout = timeout
        self._runner = runner
        try:
            self.argv = parse_command(command)
            self.command_problem: str | None = None
        except ValueError as exc:
            self.argv = None
            self.command_problem = f"notify_command cannot be split into words: {exc}"

    @property
    def enabled(self) -> bool:
        return self.argv is not None

    def send(self, events: Iterable[Event]) -> list[Delivery]:
        """Run the program once for each event not sent before. Never raises."""
        wanted = list({event.id: event for event in events}.values())
        if not wanted:
            return []
        if self.argv is None:
            if self.command_problem:
                return [
                    Delivery(event, sent=False, problem=self.command_problem) for event in wanted
                ]
            return []
        try:
            fresh = self._claim([event.id for event in wanted])
        except OSError as exc:
            why = f"{self.state_path}: cannot remember sent events ({exc.strerror or exc})"
            return [Delivery(event, sent=False, problem=why) for event in wanted]
        deliveries: list[Delivery] = []
        for event in wanted:
            if event.id not in fresh:
                deliveries.append(Delivery(event, sent=False, skipped=True))
                continue
            payload = (json.dumps(event.to_dict(), ensure_ascii=True) + "\n").encode("ascii")
            try:
                problem = self._runner(self.argv, payload, self.timeout)
            except Exception as exc:  # a runner's bug must not stop the caller either
                problem = f"notify_command failed: {exc}"
            if problem is not None:
                problem = f"notification {event.event} for {_about(event)}: {problem}"
            deliveries.append(Delivery(event, sent=problem is None, problem=problem))
        return deliveries

    def _claim(self, ids: list[str]) -> set[str]:
        """Mark `ids` as sent and return those that were not: at most once, whoever asks."""
        folder = ensure_private_dir(self.state_path.parent)
        lock_path = folder / f".{self.state_path.name}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            sent = self._load()
            fresh = {event_id for event_id in ids if event_id not in sent}
            if fresh:
                stamp = now_utc().isoformat()
                for event_id in ids:
                    if event_id in fresh:
                        sent[event_id] = stamp
                kept = dict(list(sent.items())[-MAX_REMEMBERED:])
                data = json.dumps({"version": 1, "sent": kept}, indent=0) + "\n"
                write_private_file(self.state_path, data.encode())
            return fresh
        finally:
            os.close(fd)

    def _load(self) -> dict[str, str]:
        try:
            data = read_file(self.state_path, MAX_STATE_BYTES)
            document = parse_json(data) if data is not None else {}
        except (NotAFileProblem, JSONProblem):
            # Forgetting what was sent costs a repeated message, not a lost one.
            return {}
        sent = document.get("sent") if isinstance(document, dict) else None
        if not isinstance(sent, dict):
            return {}
        return {str(k): str(v) for k, v in sent.items()}


def _about(event: Event) -> str:
    if event.job_id:
        return f"job {event.job_id}"
    if event.organization_id:
        return event.organization_id
    return event.id


def problems(deliveries: Iterable[Delivery]) -> list[str]:
    """Each distinct problem once, for a warning line or a toast."""
    return list(dict.fromkeys(d.problem for d in deliveries if d.problem))


def org_export_event(
    export_id: str,
    *,
    region: str,
    organization_id: str,
    state: str,
    s3_uri: str | None,
    counts: dict[str, int],
    profile: str | None = None,
    time: datetime | None = None,
) -> Event:
    """An organization export that has finished every mailbox (`state` FINISHED or FAILED)."""
    return Event(
        event=ORG_EXPORT_FINISHED,
        id=f"{ORG_EXPORT_FINISHED}:{export_id}",
        time=time or now_utc(),
        profile=profile,
        region=region,
        organization_id=organization_id,
        state=state,
        s3_uri=s3_uri,
        extra={"export_id": export_id, "counts": dict(counts)},
    )


def export_finished_event(
    export: OrgExport, progress: ExportProgress, *, profile: str | None = None
) -> Event | None:
    """org_export_finished once every mailbox is done, failed or skipped; None before."""
    if not progress.finished:
        return None
    spec = export.spec
    return org_export_event(
        export.export_id,
        region=spec.region,
        organization_id=spec.organization_id,
        state="FAILED" if progress.failed else "COMPLETED",
        s3_uri=f"s3://{spec.bucket}/{spec.prefix}",
        counts={
            "total": progress.total,
            "done": progress.done,
            "failed": progress.failed,
            "skipped": progress.skipped,
        },
        profile=profile,
        time=progress.at,
    )


def verification_event(
    job: ExportJob,
    outcome: str,
    detail: str | None = None,
    *,
    profile: str | None = None,
    time: datetime | None = None,
) -> Event:
    """A completed export whose object in S3 is not right (issue 12's checks): once per
    job and outcome."""
    key = job.key
    return Event(
        event=VERIFICATION_FAILED,
        id=f"{VERIFICATION_FAILED}:{key}:{outcome}",
        time=time or now_utc(),
        profile=profile,
        region=key.region,
        organization_id=key.organization_id,
        job_id=key.job_id,
        mailbox=job.entity_id,
        state=outcome,
        error_info=detail,
        s3_uri=job.s3_uri,
    )


def deadline_event(
    subject: str,
    day: str,
    *,
    region: str | None = None,
    organization_id: str | None = None,
    job_id: str | None = None,
    detail: str | None = None,
    profile: str | None = None,
    time: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> Event:
    """The deadline at risk (wmtui.core.deadline.deadline_risk_event): once per subject (a job
    or organization) and `day` (the end of support and why it is at risk)."""
    return Event(
        event=DEADLINE_RISK,
        id=f"{DEADLINE_RISK}:{subject}:{day}",
        time=time or now_utc(),
        profile=profile,
        region=region,
        organization_id=organization_id,
        job_id=job_id,
        state="AT_RISK",
        error_info=detail,
        extra=dict(extra or {}),
    )
