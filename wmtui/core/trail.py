"""The trail: every call that changes something at AWS, in a JSON-lines file auditors can read.

`AuditedService` wraps an `ExportService` (wired once, in wmtui.factory): before each
StartMailboxExportJob or CancelMailboxExportJob it appends a "call" line, and after it an
"outcome" line with the same `id`. A run killed in between leaves the call line: the action
shows as `pending`, never as missing. The file is 0600 in the data folder, opened with
O_APPEND and never rewritten; past a size it is renamed to `trail.jsonl.<n>` and a new one
begun, so no line is ever lost. Nothing here knows boto3 or textual.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shlex
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wmtui.core.locations import ensure_private_dir
from wmtui.core.models import (
    ExportJob,
    JobKey,
    Mailbox,
    Organization,
    StartRequest,
    now_utc,
)
from wmtui.core.service import ExportService, ServiceError

TRAIL_NAME = "trail.jsonl"
# Past this size the file is set aside whole (trail.jsonl.1, .2 ...) and a new one begun.
MAX_TRAIL_BYTES = 4 * 1024 * 1024
# A line longer than this is not one wmtui wrote: skipped when reading.
MAX_LINE_BYTES = 64 * 1024
FILE_MODE = 0o600

START = "start"
CANCEL = "cancel"
PENDING = "pending"  # a call line with no outcome: the run ended between the two
_ROTATED = re.compile(re.escape(TRAIL_NAME) + r"\.(\d+)")


def trail_path(data_dir: Path) -> Path:
    return data_dir / TRAIL_NAME


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def aws_cli_command(
    action: str,
    *,
    region: str,
    organization_id: str,
    job_id: str | None = None,
    request: StartRequest | None = None,
    client_token: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> str:
    """The `aws workmail ...` line that makes the same call, shell-quoted (never run)."""
    argv = ["aws", "workmail"]
    if action == START and request is not None:
        argv += ["start-mailbox-export-job", "--organization-id", organization_id]
        argv += ["--entity-id", request.entity_id]
        argv += ["--s3-bucket-name", request.s3_bucket_name, "--s3-prefix", request.s3_prefix]
        argv += ["--role-arn", request.role_arn, "--kms-key-arn", request.kms_key_arn]
        if request.description:
            argv += ["--description", request.description]
    else:
        argv += ["cancel-mailbox-export-job", "--organization-id", organization_id]
        argv += ["--job-id", job_id or ""]
    if client_token:
        argv += ["--client-token", client_token]
    if region:
        argv += ["--region", region]
    if profile:
        argv += ["--profile", profile]
    if endpoint_url:
        argv += ["--endpoint-url", endpoint_url]
    return shlex.join(argv)


class Trail:
    """The trail file: appended to by any number of threads and processes at once.

    A line goes out in one write() on an O_APPEND descriptor, under an exclusive flock that
    also guards the rotation. A failure to write is kept in `last_problem` and never raised:
    an urgent cancel is not refused because the disk is full.
    """

    def __init__(self, path: Path, *, max_bytes: int = MAX_TRAIL_BYTES) -> None:
        self.path = path
        self.max_bytes = max(1, max_bytes)
        self.last_problem: str | None = None
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> bool:
        line = (json.dumps(entry, ensure_ascii=True, sort_keys=False) + "\n").encode("ascii")
        with self._lock:
            try:
                self._append_locked(line)
            except OSError as exc:
                # Kept until someone reads it: a later line written does not undo a lost one.
                self.last_problem = f"{self.path}: the trail could not be written ({exc})"
                return False
        return True

    def _open(self) -> int:
        ensure_private_dir(self.path.parent)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        return os.open(self.path, flags | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)

    def _append_locked(self, line: bytes) -> None:
        for _ in range(5):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                info = os.fstat(fd)
                try:
                    current = os.stat(self.path)
                except FileNotFoundError:
                    continue  # another process set it aside between our open and lock
                if (current.st_ino, current.st_dev) != (info.st_ino, info.st_dev):
                    continue
                if info.st_mode & 0o777 != FILE_MODE:
                    os.fchmod(fd, FILE_MODE)
                if info.st_size and info.st_size + len(line) > self.max_bytes:
                    # Renamed while we hold its lock: a writer that opened it before sees
                    # the inode change above and starts again on the new file.
                    os.rename(self.path, self._next_rotated())
                    continue
                os.write(fd, line)
                return
            finally:
                os.close(fd)
        raise OSError("the trail kept moving while being written")

    def _next_rotated(self) -> Path:
        numbers = [n for n, _ in rotated_files(self.path)]
        return self.path.with_name(f"{TRAIL_NAME}.{max(numbers, default=0) + 1}")


def rotated_files(path: Path) -> list[tuple[int, Path]]:
    """The set-aside trail files beside `path`, oldest first."""
    found: list[tuple[int, Path]] = []
    with contextlib.suppress(OSError):
        for child in path.parent.iterdir():
            match = _ROTATED.fullmatch(child.name)
            if match:
                found.append((int(match.group(1)), child))
    return sorted(found)


@dataclass(frozen=True)
class TrailAction:
    """One start or cancel: its call line, with the outcome line's result folded in."""

    id: str
    time: datetime
    action: str
    outcome: str  # "ok", "error" or PENDING
    caller_arn: str | None
    profile: str | None
    region: str | None
    organization_id: str | None
    mailbox: str | None
    job_id: str | None
    client_token: str | None
    error: str | None
    command: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": iso(self.time),
            "action": self.action,
            "outcome": self.outcome,
            "caller_arn": self.caller_arn,
            "profile": self.profile,
            "region": self.region,
            "organization_id": self.organization_id,
            "mailbox": self.mailbox,
            "job_id": self.job_id,
            "client_token": self.client_token,
            "error": self.error,
            "command": self.command,
        }


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _error_text(value: object) -> str | None:
    if isinstance(value, dict):
        message = _text(value.get("message")) or ""
        kind = _text(value.get("kind")) or "error"
        return f"{kind}: {message}" if message else kind
    return _text(value)


def _read_lines(path: Path) -> Iterable[bytes]:
    try:
        with open(path, "rb") as handle:
            for line in handle:
                if len(line) <= MAX_LINE_BYTES:
                    yield line
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return


def read_trail(path: Path) -> tuple[list[TrailAction], int]:
    """Every action in the trail (its set-aside files first), oldest first, and how many
    lines could not be read. An outcome line completes the call line with its id."""
    calls: dict[str, TrailAction] = {}
    outcomes: dict[str, dict[str, Any]] = {}
    broken = 0
    files = [p for _, p in rotated_files(path)] + [path]
    for file in files:
        for raw in _read_lines(file):
            try:
                entry = json.loads(raw)
                if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                    raise ValueError
                if entry.get("phase") == "outcome":
                    outcomes[entry["id"]] = entry
                    continue
                calls[entry["id"]] = _call_from(entry)
            except (ValueError, TypeError, KeyError):
                broken += 1
    actions: list[TrailAction] = []
    for action_id, call in calls.items():
        done = outcomes.get(action_id)
        if done is not None:
            call = replace(
                call,
                outcome=_text(done.get("outcome")) or "error",
                job_id=_text(done.get("job_id")) or call.job_id,
                error=_error_text(done.get("error")),
            )
        actions.append(call)
    actions.sort(key=lambda a: a.time)
    return actions, broken


def _call_from(entry: dict[str, Any]) -> TrailAction:
    moment = datetime.fromisoformat(str(entry["time"]).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return TrailAction(
        id=entry["id"],
        time=moment,
        action=_text(entry.get("action")) or "?",
        outcome=PENDING,
        caller_arn=_text(entry.get("caller_arn")),
        profile=_text(entry.get("profile")),
        region=_text(entry.get("region")),
        organization_id=_text(entry.get("organization_id")),
        mailbox=_text(entry.get("mailbox")),
        job_id=_text(entry.get("job_id")),
        client_token=_text(entry.get("client_token")),
        error=None,
        command=_text(entry.get("command")) or "",
    )


def select_actions(
    actions: Sequence[TrailAction],
    *,
    since: datetime | None = None,
    organization_id: str | None = None,
    text: str = "",
) -> list[TrailAction]:
    """The actions at or after `since`, of one organization, holding `text` (any field)."""
    needle = text.strip().lower()
    chosen: list[TrailAction] = []
    for action in actions:
        if since is not None and action.time < since:
            continue
        if organization_id is not None and action.organization_id != organization_id:
            continue
        if needle and needle not in json.dumps(action.to_dict()).lower():
            continue
        chosen.append(action)
    return chosen


class AuditedService:
    """An ExportService whose starts and cancels go into the trail, before and after.

    Each call gets a ClientToken here when it has none, so the trail names the token the
    service saw. Everything else passes straight through to the wrapped service.
    """

    def __init__(
        self,
        service: ExportService,
        trail: Trail,
        *,
        profile: str | None = None,
        endpoint_url: str | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.wrapped = service
        self.trail = trail
        self._profile = profile
        self._endpoint_url = endpoint_url
        self._clock = clock
        self._caller: str | None = None
        self._caller_known = False
        self._caller_lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        # default_region, profile, endpoint_url ...: whatever the wrapped service offers.
        return getattr(self.wrapped, name)

    def caller_arn(self) -> str | None:
        """Who is acting (STS GetCallerIdentity), asked once; None when it cannot be known."""
        with self._caller_lock:
            if not self._caller_known:
                ask = getattr(self.wrapped, "caller_arn", None)
                arn: object = None
                if callable(ask):
                    try:
                        arn = ask()
                    except Exception:
                        arn = None  # the action goes ahead; the trail says null
                self._caller = arn if isinstance(arn, str) else None
                self._caller_known = True
            return self._caller

    # -- what is recorded ----------------------------------------------------------------

    def _call(self, action: str, **fields: Any) -> str:
        action_id = uuid.uuid4().hex
        entry = {
            "time": iso(self._clock()),
            "phase": "call",
            "id": action_id,
            "action": action,
            "caller_arn": self.caller_arn(),
            "profile": self._profile,
            **fields,
        }
        self.trail.append(entry)
        return action_id

    def _outcome(
        self, action_id: str, action: str, job_id: str | None, error: BaseException | None
    ) -> None:
        entry: dict[str, Any] = {
            "time": iso(self._clock()),
            "phase": "outcome",
            "id": action_id,
            "action": action,
            "job_id": job_id,
            "outcome": "ok" if error is None else "error",
            "error": None,
        }
        if isinstance(error, ServiceError):
            entry["error"] = {
                "kind": error.kind.value,
                "code": error.code,
                "message": error.message,
            }
        elif error is not None:
            entry["error"] = {"kind": type(error).__name__, "code": None, "message": str(error)}
        self.trail.append(entry)

    # -- the calls that change something -------------------------------------------------

    def start_job(self, region: str, organization_id: str, request: StartRequest) -> JobKey:
        if request.client_token is None:
            request = replace(request, client_token=str(uuid.uuid4()))
        action_id = self._call(
            START,
            region=region,
            organization_id=organization_id,
            mailbox=request.entity_id,
            job_id=None,
            client_token=request.client_token,
            command=aws_cli_command(
                START,
                region=region,
                organization_id=organization_id,
                request=request,
                client_token=request.client_token,
                profile=self._profile,
                endpoint_url=self._endpoint_url,
            ),
        )
        try:
            key = self.wrapped.start_job(region, organization_id, request)
        except BaseException as exc:
            self._outcome(action_id, START, None, exc)
            raise
        self._outcome(action_id, START, key.job_id, None)
        return key

    def cancel_job(self, key: JobKey, client_token: str | None = None) -> None:
        token = client_token if client_token is not None else str(uuid.uuid4())
        action_id = self._call(
            CANCEL,
            region=key.region,
            organization_id=key.organization_id,
            mailbox=None,
            job_id=key.job_id,
            client_token=token,
            command=aws_cli_command(
                CANCEL,
                region=key.region,
                organization_id=key.organization_id,
                job_id=key.job_id,
                client_token=token,
                profile=self._profile,
                endpoint_url=self._endpoint_url,
            ),
        )
        try:
            self.wrapped.cancel_job(key, token)
        except BaseException as exc:
            self._outcome(action_id, CANCEL, key.job_id, exc)
            raise
        self._outcome(action_id, CANCEL, key.job_id, None)

    # -- passed straight through ---------------------------------------------------------

    @property
    def target(self) -> str:
        return self.wrapped.target

    def describe_job(self, key: JobKey) -> ExportJob:
        return self.wrapped.describe_job(key)

    def list_jobs(self, region: str, organization_id: str) -> list[ExportJob]:
        return self.wrapped.list_jobs(region, organization_id)

    def list_organizations(self, region: str) -> list[Organization]:
        return self.wrapped.list_organizations(region)

    def list_mailboxes(self, region: str, organization_id: str) -> list[Mailbox]:
        return self.wrapped.list_mailboxes(region, organization_id)

    def describe_mailbox(self, region: str, organization_id: str, entity_id: str) -> Mailbox:
        return self.wrapped.describe_mailbox(region, organization_id, entity_id)

    def presign_url(self, job: ExportJob, expires_in: int) -> str:
        return self.wrapped.presign_url(job, expires_in)
