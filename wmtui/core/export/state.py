"""The export's state file: the record of each mailbox, reading it, and writing it under a lock.

The state lives in `<data dir>/exports/<export_id>.json` (0600, folder 0700); the export id is
derived from (region, organization, bucket, prefix), so the same command finds the same file.
`read_export_state` and `find_exports` read it without taking the lock (for `wmtui report`);
`ExportLock` (a lock file beside it) keeps a second process off the same export.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from wmtui.core.export.spec import ExportSpec, is_str_list
from wmtui.core.locations import (
    JSONProblem,
    ensure_private_dir,
    parse_json,
    write_private_file,
)
from wmtui.core.models import JobKey, printable, s3_uri, utc

FORMAT_VERSION = 1
_MAX_FILE_BYTES = 64 * 1024 * 1024


class MailboxStatus(StrEnum):
    QUEUED = "queued"  # waiting for a slot (or for a backoff to end)
    STARTING = "starting"  # a start request may have been sent; its answer was not saved
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # out of retries, or refused for good
    SKIPPED = "skipped"  # not exported by this export: see `reason`

    @property
    def is_final(self) -> bool:
        return self in (MailboxStatus.COMPLETED, MailboxStatus.FAILED, MailboxStatus.SKIPPED)


class ExportStateError(Exception):
    """The export's state file cannot be used. str() says the file, the problem and the fix."""

    def __init__(self, path: Path, problem: str, fix: str = "") -> None:
        self.path = path
        self.problem = problem
        self.fix = fix
        super().__init__(f"{path}: {problem}" + (f"; {fix}" if fix else ""))


def export_state_path(data_dir: Path, spec: ExportSpec | str) -> Path:
    """`<data dir>/exports/<export id>.json`."""
    export_id = spec if isinstance(spec, str) else spec.export_id
    return data_dir / "exports" / f"{export_id}.json"


@dataclass
class MailboxRecord:
    """One mailbox's part in the export, as saved in the state file."""

    entity_id: str
    name: str | None = None
    email: str | None = None
    display_name: str | None = None
    kind: str = "USER"
    status: MailboxStatus = MailboxStatus.QUEUED
    # The attempt the next (or current) start belongs to; part of the ClientToken.
    attempt: int = 1
    job_id: str | None = None  # the latest job started for this mailbox (or the one skipped for)
    job_ids: list[str] = field(default_factory=list)  # every job this export started for it
    job_state: str | None = None  # the latest job's State as the service said it
    starting_at: datetime | None = None  # when the current attempt was marked "starting"
    not_before: datetime | None = None  # backoff: no start before this time
    limit_waits: int = 0  # LimitExceeded answers for this mailbox in a row
    start_errors: int = 0  # other refused starts in a row
    error: str | None = None  # the latest problem, for a person: a failed attempt, a refusal
    error_info: str | None = None  # ErrorInfo of this mailbox's latest FAILED job, as sent
    reason: str | None = None  # why it was skipped
    progress: int | None = None  # EstimatedProgress of the running job
    start_time: datetime | None = None
    end_time: datetime | None = None
    s3_bucket_name: str | None = None
    s3_path: str | None = None

    @property
    def label(self) -> str:
        return self.display_name or self.name or self.email or self.entity_id

    @property
    def s3_uri(self) -> str | None:
        return s3_uri(self.s3_bucket_name, self.s3_path)

    def to_json(self) -> dict[str, Any]:
        # Spelled out, not looped: it runs for every mailbox on every save.
        return {
            "entity_id": self.entity_id,
            "name": self.name,
            "email": self.email,
            "display_name": self.display_name,
            "kind": self.kind,
            "status": self.status.value,
            "attempt": self.attempt,
            "job_id": self.job_id,
            "job_ids": list(self.job_ids),
            "job_state": self.job_state,
            "starting_at": _iso_or_none(self.starting_at),
            "not_before": _iso_or_none(self.not_before),
            "limit_waits": self.limit_waits,
            "start_errors": self.start_errors,
            "error": self.error,
            "error_info": self.error_info,
            "reason": self.reason,
            "progress": self.progress,
            "start_time": _iso_or_none(self.start_time),
            "end_time": _iso_or_none(self.end_time),
            "s3_bucket_name": self.s3_bucket_name,
            "s3_path": self.s3_path,
        }

    @classmethod
    def from_json(cls, data: object) -> MailboxRecord:
        if not isinstance(data, dict):
            raise ValueError("a mailbox entry is not an object")
        entity_id = data.get("entity_id")
        if not isinstance(entity_id, str) or not entity_id:
            raise ValueError("a mailbox entry has no entity_id")
        record = cls(entity_id=entity_id)
        for name in _RECORD_FIELDS:
            if name == "entity_id" or name not in data or data[name] is None:
                continue
            value = data[name]
            if name == "status":
                try:
                    record.status = MailboxStatus(value)
                except ValueError:
                    raise ValueError(f"{entity_id}: status {value!r} is unknown") from None
            elif name in _RECORD_TIMES:
                setattr(record, name, _parse_time(value, entity_id, name))
            elif name in _RECORD_INTS:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError(f"{entity_id}: {name} is not a whole number")
                setattr(record, name, value)
            elif name == "job_ids":
                if not is_str_list(value):
                    raise ValueError(f"{entity_id}: job_ids is not a list of strings")
                record.job_ids = list(value)
            else:
                if not isinstance(value, str):
                    raise ValueError(f"{entity_id}: {name} is not a string")
                setattr(record, name, value)
        if record.attempt < 1:
            raise ValueError(f"{entity_id}: attempt must be at least 1")
        return record

    def copy(self) -> MailboxRecord:
        return replace(self, job_ids=list(self.job_ids))


_RECORD_FIELDS = (
    "entity_id",
    "name",
    "email",
    "display_name",
    "kind",
    "status",
    "attempt",
    "job_id",
    "job_ids",
    "job_state",
    "starting_at",
    "not_before",
    "limit_waits",
    "start_errors",
    "error",
    "error_info",
    "reason",
    "progress",
    "start_time",
    "end_time",
    "s3_bucket_name",
    "s3_path",
)
_RECORD_TIMES = frozenset({"starting_at", "not_before", "start_time", "end_time"})
_RECORD_INTS = frozenset({"attempt", "limit_waits", "start_errors", "progress"})


def _iso_or_none(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _parse_time(value: object, entity_id: str, name: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{entity_id}: {name} is not a time")
    try:
        parsed = utc(datetime.fromisoformat(value))
    except ValueError:
        raise ValueError(f"{entity_id}: {name} {printable(value)} is not a time") from None
    assert parsed is not None
    return parsed


@dataclass(frozen=True)
class ExportSnapshot:
    """An export's state file as read (for reports and lists; changes nothing)."""

    path: Path
    export_id: str
    spec: ExportSpec
    created: datetime | None
    updated: datetime | None
    records: tuple[MailboxRecord, ...]

    def job_keys(self) -> list[JobKey]:
        keys: list[JobKey] = []
        for record in self.records:
            for job_id in record.job_ids:
                keys.append(JobKey(self.spec.region, self.spec.organization_id, job_id))
        return keys


def read_export_state(path: Path) -> ExportSnapshot | None:
    """The export's saved state; None if there is none. ExportStateError if unreadable."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ExportStateError(path, "is a folder, not an export state file") from None
    except OSError as exc:
        raise ExportStateError(
            path, f"cannot be read ({exc.strerror or exc})", "check its permissions"
        ) from None
    try:
        if len(data) > _MAX_FILE_BYTES:
            raise ValueError("it is too large to be an export state file")
        document = parse_json(data)
        if not isinstance(document, dict):
            raise ValueError("it is not a JSON object")
        version = document.get("version")
        if version != FORMAT_VERSION:
            raise ValueError(f"its version {version!r} is not {FORMAT_VERSION}")
        spec = ExportSpec.from_json(document.get("spec"))
        mailboxes = document.get("mailboxes")
        if not isinstance(mailboxes, list):
            raise ValueError("'mailboxes' is not a list")
        records = tuple(MailboxRecord.from_json(item) for item in mailboxes)
        created = document.get("created")
        updated = document.get("updated")
        return ExportSnapshot(
            path=path,
            export_id=spec.export_id,
            spec=spec,
            created=_parse_time(created, "export", "created") if created else None,
            updated=_parse_time(updated, "export", "updated") if updated else None,
            records=records,
        )
    except (JSONProblem, ValueError, TypeError) as exc:
        raise ExportStateError(
            path,
            f"is not an export state wmtui can read: {exc}",
            "it is left as it is; fix it or move it aside to start this export afresh "
            "(jobs already started are then skipped as exported in the last 24 hours)",
        ) from None


def find_exports(
    data_dir: Path, *, region: str | None = None, organization_id: str | None = None
) -> list[ExportSnapshot]:
    """Every readable export state under `<data dir>/exports`, optionally for one organization.
    Unreadable files are left out (read one with `read_export_state` to see why)."""
    folder = data_dir / "exports"
    found: list[ExportSnapshot] = []
    with contextlib.suppress(OSError):
        for path in sorted(folder.glob("*.json")):
            try:
                snapshot = read_export_state(path)
            except ExportStateError:
                continue
            if snapshot is None:
                continue
            if region is not None and snapshot.spec.region != region:
                continue
            if organization_id is not None and snapshot.spec.organization_id != organization_id:
                continue
            found.append(snapshot)
    return found


# A lock asked for while a reader probes it (the app's list, the status line) is asked again
# this many times, this far apart: a probe holds it for a moment only.
LOCK_TRIES = 6
LOCK_RETRY_SECONDS = 0.05


class ExportLockedError(ExportStateError):
    """Another process runs this export right now (it holds the lock)."""


@dataclass(frozen=True)
class LockHolder:
    """Whether a process holds an export's lock now, and its pid when it wrote one."""

    held: bool
    pid: int | None = None

    @property
    def here(self) -> bool:
        """Held by this very process (the app's own background run)."""
        return self.held and self.pid == os.getpid()


def lock_path_of(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


def lock_holder(state_path: Path) -> LockHolder:
    """Ask the lock file whether a process runs the export, without getting in its way: a
    shared lock for a moment (never the exclusive one, and nothing written)."""
    try:
        fd = os.open(lock_path_of(state_path), os.O_RDONLY)
    except OSError:
        return LockHolder(False)  # no lock file: nobody ever ran it, or its folder is gone
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return LockHolder(False)
            return LockHolder(True, _pid_in(os.pread(fd, 32, 0)))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return LockHolder(False)
    except OSError:
        return LockHolder(False)
    finally:
        os.close(fd)


def _pid_in(data: bytes) -> int | None:
    text = data.decode("ascii", "replace").strip()
    return int(text) if text.isdigit() and 0 < int(text) < 2**31 else None


class ExportLock:
    """The lock file beside the state file: one process at a time runs an export. The holder
    writes its pid in it (and wipes it when it lets go), so a reader can say who runs it."""

    def __init__(self, state_path: Path) -> None:
        self.state_path = state_path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def take(self) -> None:
        """Take it without waiting; ExportStateError if another process holds it."""
        lock_path = lock_path_of(self.state_path)
        try:
            ensure_private_dir(lock_path.parent)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ExportStateError(
                lock_path, f"cannot be opened ({exc.strerror or exc})", "check the folder"
            ) from None
        for attempt in range(LOCK_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                busy = exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
                if busy and attempt + 1 < LOCK_TRIES:
                    time.sleep(LOCK_RETRY_SECONDS)
                    continue
                holder = _pid_in(os.pread(fd, 32, 0)) if busy else None
                os.close(fd)
                if busy:
                    who = f" (pid {holder})" if holder is not None else ""
                    raise ExportLockedError(
                        self.state_path,
                        f"another wmtui is running this export right now{who}",
                        "let it finish, or stop it and run the command again",
                    ) from None
                raise ExportStateError(
                    lock_path, f"cannot be locked ({exc.strerror or exc})"
                ) from None
        with contextlib.suppress(OSError):  # who holds it is a courtesy to readers
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        # The lock is a raw descriptor: a dropped export must not hold it until exit.
        if getattr(self, "_fd", None) is not None:
            with contextlib.suppress(Exception):  # at interpreter exit, os may be half gone
                self.release()


class StateWriter:
    """Saves the export's state file, re-encoding only the mailboxes that changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved_lines: dict[str, tuple[MailboxRecord, str]] = {}

    def save(
        self,
        spec: ExportSpec,
        created: datetime,
        updated: datetime,
        records: Iterable[MailboxRecord],
    ) -> None:
        head = {
            "version": FORMAT_VERSION,
            "export_id": spec.export_id,
            "spec": spec.to_json(),
            "created": created.astimezone(UTC).isoformat(),
            "updated": updated.astimezone(UTC).isoformat(),
        }
        # One mailbox a line: readable and diffable, and the C encoder does the work (an
        # indented dump is pure Python, and this runs after every start).
        lines = [self._line(record) for record in records]
        text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
        text += ',\n "mailboxes": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"
        if not lines:
            text = json.dumps(head | {"mailboxes": []}, indent=1, ensure_ascii=False) + "\n"
        data = text.encode("utf-8")
        try:
            write_private_file(self.path, data)
        except OSError as exc:
            raise ExportStateError(
                self.path,
                f"could not be saved ({exc.strerror or exc})",
                "free some disk space or fix the folder's permissions, then run the same "
                "command again: it resumes",
            ) from None

    def _line(self, record: MailboxRecord) -> str:
        # A save after a start changes one mailbox of hundreds: the rest are not encoded again.
        cached = self._saved_lines.get(record.entity_id)
        if cached is not None and cached[0] == record:
            return cached[1]
        line = json.dumps(record.to_json(), ensure_ascii=False)
        self._saved_lines[record.entity_id] = (record.copy(), line)
        return line
