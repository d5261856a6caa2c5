"""Export every mailbox of an organization, within the service's limits, resumably.

WorkMail runs at most 10 export jobs per organization at once and one export per mailbox per
24 hours. `OrgExport` queues every enabled mailbox (users and resources), keeps up to
`max_running` jobs running for the whole organization (jobs somebody else started count too),
starts the next one as soon as a slot frees, retries a FAILED job a bounded number of times,
and waits out LimitExceeded and throttling. Its state is saved as it goes, so a quit, a crash
or `kill -9` followed by the same command resumes where it was.

Never two jobs for one mailbox by accident:
- each start sends a ClientToken derived from the export, the mailbox and the attempt number,
  so a request that is sent again (a retry, or a restart after a crash between "sent" and
  "saved") gets the job the first one made: the service's idempotency answers with its JobId;
- the state file says "starting" (with the attempt) BEFORE the request goes out and "running"
  (with the JobId) after; a "starting" mailbox found on resume is matched to the job the list
  shows for it before anything is sent again;
- a mailbox with a RUNNING or COMPLETED export in the last 24 hours (any export, seen in
  ListMailboxExportJobs) is skipped, not exported again.

Driving it. The CLI (`wmtui export-org`) blocks in `run`:

    spec = ExportSpec(region, org, bucket, prefix, role_arn, kms_key_arn,
                      max_running=10, only=read_selector_file(path) or None, exclude=frozenset())
    with OrgExport(spec, service, export_state_path(data_dir, spec)) as export:  # takes the lock
        final = export.run(poll_interval=15, on_progress=show, should_stop=stop.is_set)
    # show(progress): watchlist.add(progress.started); print done/running/queued/failed,
    # progress.fraction, progress.eta, progress.waiting. Ctrl-C: set `stop`, or just let the
    # KeyboardInterrupt through; the file is always current and the same command resumes.

A TUI worker (a thread) calls `tick()` instead, one round at a time (no sleeping inside), and
posts the immutable `ExportProgress` (plus `records()` copies for a table) to the UI; it waits
`progress.suggested_delay(poll_interval)` before the next tick. The object is not thread-safe:
tick it and read `records()`/`snapshot()`/`job_keys()` from that one thread, and `close()` it
(or use `with`) when done. `retry_failed()` queues the FAILED mailboxes again (a new attempt,
so a new token, only for a job that ran and failed). `build_report([export.snapshot(), *jobs],
names)` in wmtui.core.report turns it into the migration record.

`tick` raises ServiceError only for what waiting will not cure (credentials, access denied,
organization not found, InvalidParameter on a start before any start of the export succeeded:
the bucket, role or key is wrong and every mailbox would fail the same way). Throttling,
timeouts, 5xx and LimitExceeded are waited out and reported in `ExportProgress.waiting`.
`ExportStateError` means the state file is unreadable or cannot be saved, or another process
is running the same export (a lock file beside the state file).

Pacing: `run` ticks every `poll_interval` seconds, sooner (down to `min_poll_interval`) when a
running job's EstimatedProgress says it may end, so a freed slot is refilled within seconds;
a TUI worker gets the same from `progress.suggested_delay(poll_interval)`. Each tick costs
one ListMailboxExportJobs sweep (a page per 100 jobs of the last seven days) plus one start
per free slot; DescribeMailboxExportJob only for a FAILED job's ErrorInfo.

The state lives in `<data dir>/exports/<export_id>.json` (0600, folder 0700); the export id is
derived from (region, organization, bucket, prefix), so the same command finds the same file.
`read_export_state` and `find_exports` read it without taking the lock (for `wmtui report`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any

from wmtui.core.locations import (
    JSONProblem,
    ensure_private_dir,
    parse_json,
    write_private_file,
)
from wmtui.core.models import (
    ExportJob,
    JobKey,
    JobState,
    Mailbox,
    StartRequest,
    ValidationError,
    now_utc,
    printable,
    s3_uri,
    utc,
    validate_kms_key_arn,
    validate_organization_id,
    validate_region,
    validate_role_arn,
    validate_s3_bucket,
    validate_s3_prefix,
)
from wmtui.core.service import ErrorKind, ExportService, ServiceError

__all__ = [
    "SERVICE_MAX_RUNNING",
    "ExportProgress",
    "ExportSnapshot",
    "ExportSpec",
    "ExportStateError",
    "MailboxRecord",
    "MailboxStatus",
    "OrgExport",
    "client_token",
    "export_id_for",
    "export_state_path",
    "find_exports",
    "read_export_state",
    "read_selector_file",
]

FORMAT_VERSION = 1
# The service's own cap: 10 export jobs running per organization.
SERVICE_MAX_RUNNING = 10
# One export per mailbox per 24 hours.
RECENT_EXPORT_WINDOW = timedelta(hours=24)
# A job whose StartTime is this much before our "starting" mark may still be ours (clock skew).
START_MATCH_SKEW = timedelta(minutes=10)
_MAX_FILE_BYTES = 64 * 1024 * 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Reasons a mailbox is skipped that a later run may lift (a wider selection, a re-enabled user).
NOT_SELECTED = "not selected (--only/--exclude)"
_DISABLED_PREFIX = "the mailbox is "


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


# ---- the spec ------------------------------------------------------------------------------


def export_id_for(region: str, organization_id: str, bucket: str, prefix: str) -> str:
    """A short, stable name for the export: the same destination is the same export."""
    digest = hashlib.sha256(f"{region}\n{organization_id}\n{bucket}\n{prefix}".encode()).hexdigest()
    return f"{organization_id[-8:]}-{digest[:16]}"


def client_token(export_id: str, entity_id: str, attempt: int) -> str:
    """The ClientToken of one start attempt: 64 hex digits (the API allows [\\x21-\\x7e]{1,128})."""
    raw = f"wmtui-export\n{export_id}\n{entity_id}\n{attempt}".encode()
    return hashlib.sha256(raw).hexdigest()


def read_selector_file(path: Path) -> frozenset[str]:
    """Mailboxes named one per line (entity ID, user name or email); blank lines and # comments
    ignored. Raises OSError or UnicodeDecodeError for the caller to report."""
    selectors: set[str] = set()
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            selectors.add(text)
    return frozenset(selectors)


@dataclass(frozen=True)
class ExportSpec:
    """What to export and where: the input of every StartMailboxExportJob of the export."""

    region: str
    organization_id: str
    bucket: str
    prefix: str
    role_arn: str
    kms_key_arn: str
    max_running: int = SERVICE_MAX_RUNNING
    # Entity IDs, user names or emails (case-insensitive for the last two). None: every mailbox.
    only: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    # Sent as each job's Description; empty: "wmtui export-org <export id>".
    description: str = ""

    @property
    def export_id(self) -> str:
        return export_id_for(self.region, self.organization_id, self.bucket, self.prefix)

    @property
    def job_description(self) -> str:
        return self.description or f"wmtui export-org {self.export_id}"

    @property
    def running_limit(self) -> int:
        return max(1, min(self.max_running, SERVICE_MAX_RUNNING))

    def validate(self, *, endpoint_url: str | None = None) -> ExportSpec:
        """Check every field against the API's rules before any call; raises ValidationError."""
        validate_region(self.region, endpoint_url=endpoint_url)
        validate_organization_id(self.organization_id)
        validate_s3_bucket(self.bucket)
        validate_s3_prefix(self.prefix)
        validate_role_arn(self.role_arn)
        validate_kms_key_arn(self.kms_key_arn)
        if len(self.job_description) > 1023:
            raise ValidationError(
                "description", self.description, "must be at most 1023 characters"
            )
        if not 1 <= self.max_running <= SERVICE_MAX_RUNNING:
            raise ValidationError(
                "maximum running", self.max_running, f"must be 1 to {SERVICE_MAX_RUNNING}"
            )
        return self

    def selects(self, mailbox: Mailbox) -> bool:
        names = _mailbox_names(mailbox)
        if self.only is not None and not names & _folded(self.only):
            return False
        return not names & _folded(self.exclude)

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "organization_id": self.organization_id,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "role_arn": self.role_arn,
            "kms_key_arn": self.kms_key_arn,
            "max_running": self.max_running,
            "only": sorted(self.only) if self.only is not None else None,
            "exclude": sorted(self.exclude),
            "description": self.description,
        }

    @classmethod
    def from_json(cls, data: object) -> ExportSpec:
        if not isinstance(data, dict):
            raise ValueError("'spec' is not an object")
        text: dict[str, str] = {}
        for name in (
            "region",
            "organization_id",
            "bucket",
            "prefix",
            "role_arn",
            "kms_key_arn",
            "description",
        ):
            value = data.get(name, "")
            if not isinstance(value, str):
                raise ValueError(f"spec.{name} is not a string")
            text[name] = value
        max_running = data.get("max_running", SERVICE_MAX_RUNNING)
        if not isinstance(max_running, int) or isinstance(max_running, bool):
            raise ValueError("spec.max_running is not a number")
        only = data.get("only")
        exclude = data.get("exclude", [])
        if only is not None and not _is_str_list(only):
            raise ValueError("spec.only is not a list of strings")
        if not _is_str_list(exclude):
            raise ValueError("spec.exclude is not a list of strings")
        return cls(
            max_running=max_running,
            only=frozenset(only) if only is not None else None,
            exclude=frozenset(exclude),
            **text,
        )


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _folded(selectors: Iterable[str]) -> set[str]:
    return {s.casefold() for s in selectors}


def _mailbox_names(mailbox: Mailbox) -> set[str]:
    """Every spelling a person or a job may use for the mailbox, case-folded."""
    return {n.casefold() for n in (mailbox.entity_id, mailbox.email, mailbox.name) if n}


def export_state_path(data_dir: Path, spec: ExportSpec | str) -> Path:
    """`<data dir>/exports/<export id>.json`."""
    export_id = spec if isinstance(spec, str) else spec.export_id
    return data_dir / "exports" / f"{export_id}.json"


# ---- per-mailbox state ---------------------------------------------------------------------


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
                if not _is_str_list(value):
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


# ---- progress ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportProgress:
    """Where the export stands after a tick."""

    export_id: str
    at: datetime
    total: int
    done: int  # COMPLETED
    running: int  # this export's jobs RUNNING
    queued: int  # not started yet (waiting for a slot, a backoff, or a retry)
    failed: int
    skipped: int
    retrying: int  # of `queued`: mailboxes whose earlier attempt FAILED
    organization_running: int  # RUNNING in the organization, anyone's: the sweep + our starts
    fraction: float  # 0-1; a running job counts by its EstimatedProgress
    eta: timedelta | None  # from the rate observed since this process began; None if unknown
    started: tuple[JobKey, ...] = ()  # jobs started by this tick: add them to the watch list
    waiting: str | None = None  # why nothing starts right now (LimitExceeded, throttling ...)
    unmatched: tuple[str, ...] = ()  # `only` entries that named no mailbox
    # Seconds until something may change: the earliest a running job can end (from its
    # EstimatedProgress), a backoff or a wait runs out. None: nothing to expect.
    next_event_in: float | None = None
    # The organization's jobs as this tick read them (its list, and any Describe over it):
    # for the job cache. Empty when the tick made no call.
    jobs: tuple[ExportJob, ...] = ()

    @property
    def finished(self) -> bool:
        """Every mailbox is completed, failed or skipped."""
        return self.queued == 0 and self.running == 0

    @property
    def all_started(self) -> bool:
        return self.queued == 0

    def suggested_delay(self, poll_interval: float, min_interval: float = 2.0) -> float:
        """How long to wait before the next tick: `poll_interval`, or less when a slot may free
        sooner (a freed slot is only seen by a tick), never under `min_interval`."""
        if self.next_event_in is None:
            return poll_interval
        return max(min_interval, min(poll_interval, self.next_event_in))


# ---- the scheduler -------------------------------------------------------------------------


def _hms(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%H:%M:%S UTC")


def _exponential(base: timedelta, exponent: int, ceiling: timedelta) -> timedelta:
    factor: int = 2 ** max(0, min(exponent, 30))
    return min(ceiling, base * factor)


class OrgExport:
    """The organization-wide export, one `tick` at a time. Not thread-safe: drive it from one
    thread (the CLI's loop or one TUI worker)."""

    def __init__(
        self,
        spec: ExportSpec,
        service: ExportService,
        state_path: Path,
        *,
        clock: Callable[[], datetime] = now_utc,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 2,
        retry_backoff: timedelta = timedelta(minutes=1),
        limit_wait: timedelta = timedelta(seconds=30),
        transient_backoff: timedelta = timedelta(seconds=5),
        max_backoff: timedelta = timedelta(minutes=15),
        endpoint_url: str | None = None,
    ) -> None:
        self.spec = spec.validate(endpoint_url=endpoint_url)
        self.service = service
        self.state_path = state_path
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.limit_wait = limit_wait
        self.transient_backoff = transient_backoff
        self.max_backoff = max_backoff
        self._clock = clock
        self._sleep = sleep
        self._records: dict[str, MailboxRecord] = {}
        self._saved_lines: dict[str, tuple[MailboxRecord, str]] = {}
        self._created: datetime | None = None
        self._opened = False
        self._lock_fd: int | None = None
        self._mailboxes_listed = False
        self._unmatched: tuple[str, ...] = ()
        self._any_start_succeeded = False
        # The jobs the tick running now has read, by key (see ExportProgress.jobs).
        self._read: dict[JobKey, ExportJob] = {}
        self._limit_refusals = 0  # LimitExceeded answers in the current round
        # Waits that apply to the whole export rather than one mailbox.
        self._calls_paused_until: datetime | None = None  # throttled / unreachable
        self._calls_wait_reason = ""
        self._transient_failures = 0
        self._starts_paused_until: datetime | None = None  # organization at its limit
        self._starts_wait_reason = ""
        self._full_reason: str | None = None  # every slot taken at the last sweep
        self._organization_running = 0
        self._first_seen: tuple[datetime, float] | None = None

    @property
    def export_id(self) -> str:
        return self.spec.export_id

    # -- lifetime ----------------------------------------------------------------------------

    def __enter__(self) -> OrgExport:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Take the export's lock and read its state (tick does this by itself)."""
        if self._opened:
            return
        self._take_lock()
        try:
            snapshot = read_export_state(self.state_path)
        except BaseException:
            self.close()
            raise
        if snapshot is not None:
            stored = snapshot.spec
            if stored.export_id != self.spec.export_id or (
                stored.region,
                stored.organization_id,
                stored.bucket,
                stored.prefix,
            ) != (self.spec.region, self.spec.organization_id, self.spec.bucket, self.spec.prefix):
                self.close()
                raise ExportStateError(
                    self.state_path,
                    "belongs to another export (organization, bucket or prefix differ)",
                    "give this export its own state file",
                )
            self._records = {r.entity_id: r for r in snapshot.records}
            self._created = snapshot.created
            self._any_start_succeeded = any(r.job_ids for r in snapshot.records)
        self._opened = True

    def __del__(self) -> None:
        # The lock is a raw descriptor: a dropped export must not hold it until exit.
        if getattr(self, "_lock_fd", None) is not None:
            with contextlib.suppress(Exception):  # at interpreter exit, os may be half gone
                self.close()

    def close(self) -> None:
        """Let go of the lock. The state on disk is always current; nothing else to do."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None
        self._opened = False

    def _take_lock(self) -> None:
        lock_path = self.state_path.with_name(self.state_path.name + ".lock")
        try:
            ensure_private_dir(lock_path.parent)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ExportStateError(
                lock_path, f"cannot be opened ({exc.strerror or exc})", "check the folder"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ExportStateError(
                    self.state_path,
                    "another wmtui is running this export right now",
                    "let it finish, or stop it and run the command again",
                ) from None
            raise ExportStateError(lock_path, f"cannot be locked ({exc.strerror or exc})") from None
        self._lock_fd = fd

    # -- reading -----------------------------------------------------------------------------

    def records(self) -> list[MailboxRecord]:
        """Every mailbox of the export (copies), in the order they are queued."""
        return [record.copy() for record in self._records.values()]

    def job_keys(self) -> list[JobKey]:
        """Every job this export started (for the watch list and the report)."""
        return [
            JobKey(self.spec.region, self.spec.organization_id, job_id)
            for record in self._records.values()
            for job_id in record.job_ids
        ]

    def snapshot(self) -> ExportSnapshot:
        """The export as it stands (for `build_report`), without reading the file again."""
        return ExportSnapshot(
            path=self.state_path,
            export_id=self.export_id,
            spec=self.spec,
            created=self._created,
            updated=self._clock(),
            records=tuple(self.records()),
        )

    # -- acting ------------------------------------------------------------------------------

    def retry_failed(self) -> int:
        """Queue every FAILED mailbox again, with a fresh attempt; returns how many."""
        self.open()
        count = 0
        for record in self._records.values():
            if record.status is MailboxStatus.FAILED:
                record.status = MailboxStatus.QUEUED
                if record.job_id in record.job_ids and record.job_state in ("FAILED", "CANCELLED"):
                    # A job ended badly: a new attempt, a new token. A refused start keeps
                    # its token: sending it again cannot make a second job.
                    record.attempt += 1
                record.not_before = None
                record.start_errors = 0
                record.limit_waits = 0
                count += 1
        if count:
            self._save()
        return count

    def tick(self) -> ExportProgress:
        """One round: read the organization's jobs, bring every mailbox up to date, start as
        many as there are free slots. Never sleeps."""
        self.open()
        now = self._clock()
        started: list[JobKey] = []
        self._read = {}
        if self._calls_paused_until is not None and now < self._calls_paused_until:
            return self._progress(now, started)
        self._calls_paused_until = None
        try:
            if not self._mailboxes_listed:
                self._list_mailboxes(now)
            jobs = self.service.list_jobs(self.spec.region, self.spec.organization_id)
        except ServiceError as exc:
            self._transient_or_raise(exc, now)
            return self._progress(now, started)
        self._read = {job.key: job for job in jobs}
        self._transient_failures = 0
        self._full_reason = None
        changed = self._reconcile(jobs, now)
        if changed:
            self._save()
        try:
            self._start_some(jobs, now, started)
        except ServiceError as exc:
            self._transient_or_raise(exc, now)
        return self._progress(now, started)

    def run(
        self,
        *,
        until_done: bool = True,
        poll_interval: float = 15.0,
        min_poll_interval: float = 2.0,
        on_progress: Callable[[ExportProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> ExportProgress:
        """Tick until every mailbox is finished (or, with `until_done=False`, until every
        mailbox has been started), or `should_stop()`. Returns the last progress; raises what
        `tick` raises. Ticks come every `poll_interval` seconds, sooner (down to
        `min_poll_interval`) when a running job is about to end, so its slot is refilled
        without waiting out a whole interval."""
        stop = should_stop or (lambda: False)
        while True:
            progress = self.tick()
            if on_progress is not None:
                on_progress(progress)
            if progress.finished or (not until_done and progress.all_started) or stop():
                return progress
            delay = progress.suggested_delay(poll_interval, min_poll_interval)
            if self._calls_paused_until is not None:
                pause = (self._calls_paused_until - self._clock()).total_seconds()
                delay = max(delay, pause)
            self._pause(delay, stop)

    def _pause(self, seconds: float, stop: Callable[[], bool]) -> None:
        # In slices, so a stop request is seen within a second.
        remaining = seconds
        while remaining > 0 and not stop():
            step = min(1.0, remaining)
            self._sleep(step)
            remaining -= step

    # -- the round ---------------------------------------------------------------------------

    def _transient_or_raise(self, exc: ServiceError, now: datetime) -> None:
        if exc.kind.is_transient or exc.kind is ErrorKind.OTHER:
            self._transient_failures += 1
            wait = _exponential(
                self.transient_backoff, self._transient_failures - 1, self.max_backoff
            )
            self._calls_paused_until = now + wait
            self._calls_wait_reason = (
                f"{exc.kind.value}: {exc.message}; trying again at {_hms(now + wait)}"
            )
            return
        raise exc

    def _list_mailboxes(self, now: datetime) -> None:
        mailboxes = self.service.list_mailboxes(self.spec.region, self.spec.organization_id)
        selected = [m for m in mailboxes if self.spec.selects(m)]
        if self.spec.only is not None:
            named: set[str] = set()
            for mailbox in mailboxes:
                named |= _mailbox_names(mailbox)
            self._unmatched = tuple(sorted(s for s in self.spec.only if s.casefold() not in named))
        selected_ids = {m.entity_id for m in selected}
        for mailbox in selected:
            record = self._records.get(mailbox.entity_id)
            if record is None:
                record = MailboxRecord(entity_id=mailbox.entity_id)
                self._records[mailbox.entity_id] = record
            record.name = mailbox.name
            record.email = mailbox.email
            record.display_name = mailbox.display_name
            record.kind = mailbox.kind
            state = (mailbox.state or "ENABLED").upper()
            liftable = record.status is MailboxStatus.SKIPPED and (
                record.reason == NOT_SELECTED or (record.reason or "").startswith(_DISABLED_PREFIX)
            )
            if state != "ENABLED":
                if record.status is MailboxStatus.QUEUED or liftable:
                    record.status = MailboxStatus.SKIPPED
                    record.reason = _DISABLED_PREFIX + state.lower()
            elif liftable:
                record.status = MailboxStatus.QUEUED
                record.reason = None
        for record in self._records.values():
            # A selection narrowed since the last run: what has not started stays unstarted.
            if record.entity_id not in selected_ids and record.status is MailboxStatus.QUEUED:
                record.status = MailboxStatus.SKIPPED
                record.reason = NOT_SELECTED
        if self._created is None:
            self._created = now
        self._mailboxes_listed = True
        self._save()

    def _reconcile(self, jobs: Sequence[ExportJob], now: datetime) -> bool:
        """Bring every record up to date with the sweep. Returns whether anything that must be
        saved changed."""
        by_id = {job.job_id: job for job in jobs}
        by_name: dict[str, list[ExportJob]] = {}
        for job in jobs:
            if job.entity_id:
                by_name.setdefault(job.entity_id.casefold(), []).append(job)
        self._organization_running = sum(1 for job in jobs if job.state is JobState.RUNNING)
        changed = False
        for record in self._records.values():
            before = record.copy()
            if record.status is MailboxStatus.RUNNING and record.job_id:
                seen = by_id.get(record.job_id)
                if seen is None:
                    # Not in the list (just started, or older than its seven days): ask for it.
                    seen = self._describe(record.job_id)
                    if seen is not None and seen.state is JobState.RUNNING:
                        self._organization_running += 1
                if seen is not None:
                    self._apply_job(record, seen, now)
            elif record.status is MailboxStatus.STARTING:
                # The answer to a start we sent may have been lost: the list shows its job.
                match = self._job_for(
                    record, by_name, since=record.starting_at, exclude=record.job_ids
                )
                if match is not None:
                    self._adopt(record, match, now)
            elif record.status is MailboxStatus.QUEUED:
                recent = self._job_for(
                    record,
                    by_name,
                    since=now - RECENT_EXPORT_WINDOW,
                    states=(JobState.RUNNING, JobState.COMPLETED),
                )
                if recent is not None:
                    record.status = MailboxStatus.SKIPPED
                    record.reason = (
                        f"exported in the last 24 hours by job {recent.job_id} "
                        f"({recent.state.value})"
                    )
                    self._copy_job_fields(record, recent)
            elif (
                record.status is MailboxStatus.SKIPPED
                and record.job_id is not None
                and record.job_state == JobState.RUNNING.value
                and record.job_id not in record.job_ids
            ):
                # Skipped for an export running elsewhere: followed until it ends, and the
                # mailbox queued again if that export does not complete.
                other = by_id.get(record.job_id)
                if other is not None:
                    self._copy_job_fields(record, other)
                    if other.state in (JobState.FAILED, JobState.CANCELLED):
                        record.status = MailboxStatus.QUEUED
                        record.reason = None
                        record.error = (
                            f"the export running elsewhere (job {other.job_id}) ended "
                            f"{other.state.value}"
                        )
                    elif other.state is JobState.COMPLETED:
                        record.reason = (
                            f"exported in the last 24 hours by job {other.job_id} (COMPLETED)"
                        )
            # A job's EstimatedProgress moving is not worth a write (resuming does not need
            # it): only what a restart would act on is saved at once.
            if record != before and replace(record, progress=before.progress) != before:
                changed = True
        return changed

    @staticmethod
    def _job_for(
        record: MailboxRecord,
        by_name: dict[str, list[ExportJob]],
        *,
        since: datetime | None,
        states: tuple[JobState, ...] | None = None,
        exclude: Collection[str] = (),
    ) -> ExportJob | None:
        """The newest job in the sweep for this mailbox started after `since` (less the skew
        between our clock and the service's)."""
        names = {record.entity_id.casefold()}
        for alias in (record.email, record.name):
            if alias:
                names.add(alias.casefold())
        earliest = since - START_MATCH_SKEW if since is not None else None
        best: ExportJob | None = None
        for name in names:
            for job in by_name.get(name, ()):
                if job.job_id in exclude or (states is not None and job.state not in states):
                    continue
                if earliest is not None and (job.start_time is None or job.start_time < earliest):
                    continue
                if best is None or (job.start_time or _EPOCH) > (best.start_time or _EPOCH):
                    best = job
        return best

    def _adopt(self, record: MailboxRecord, job: ExportJob, now: datetime) -> None:
        record.job_id = job.job_id
        if job.job_id not in record.job_ids:
            record.job_ids.append(job.job_id)
        record.status = MailboxStatus.RUNNING
        self._any_start_succeeded = True
        self._apply_job(record, job, now)

    def _describe(self, job_id: str) -> ExportJob | None:
        key = JobKey(self.spec.region, self.spec.organization_id, job_id)
        try:
            job = self.service.describe_job(key)
        except ServiceError as exc:
            if exc.kind.affects_all:
                raise
            return None
        listed = self._read.get(key)
        self._read[key] = listed.merged_with(job) if listed is not None else job
        return job

    @staticmethod
    def _copy_job_fields(record: MailboxRecord, job: ExportJob) -> None:
        record.job_id = job.job_id
        record.job_state = job.raw_state or job.state.value
        record.progress = job.progress
        record.start_time = job.start_time or record.start_time
        record.end_time = job.end_time
        record.s3_bucket_name = job.s3_bucket_name or record.s3_bucket_name
        record.s3_path = job.s3_path or record.s3_path

    def _apply_job(self, record: MailboxRecord, job: ExportJob, now: datetime) -> None:
        self._copy_job_fields(record, job)
        if job.state is JobState.COMPLETED:
            record.status = MailboxStatus.COMPLETED
            record.progress = 100
            record.error = None
        elif job.state is JobState.FAILED:
            info = job.error_info
            if info is None:
                described = self._describe(job.job_id)
                info = described.error_info if described is not None else None
            record.error_info = info
            problem = info or "the job failed and the service gave no reason"
            if record.attempt <= self.max_retries:
                record.error = f"attempt {record.attempt} failed: {problem}"
                record.status = MailboxStatus.QUEUED
                record.not_before = now + _exponential(
                    self.retry_backoff, record.attempt - 1, self.max_backoff
                )
                record.attempt += 1
                record.limit_waits = 0
                record.start_errors = 0
            else:
                record.status = MailboxStatus.FAILED
                record.error = f"attempt {record.attempt} failed: {problem}"
        elif job.state is JobState.CANCELLED:
            # Somebody cancelled it on purpose: not retried behind their back.
            record.status = MailboxStatus.FAILED
            record.error = f"job {job.job_id} was cancelled"
        else:
            record.status = MailboxStatus.RUNNING

    def _start_some(self, jobs: Sequence[ExportJob], now: datetime, started: list[JobKey]) -> None:
        if self._starts_paused_until is not None and now < self._starts_paused_until:
            return
        self._starts_paused_until = None
        running = self._organization_running
        free = self.spec.running_limit - running
        if free <= 0:
            if any(
                not r.status.is_final and r.status is not MailboxStatus.RUNNING
                for r in self._records.values()
            ):
                self._full_reason = (
                    f"{running} exports running in the organization (limit "
                    f"{self.spec.running_limit}): the next starts when one ends"
                )
            return
        due = [
            r
            for r in self._records.values()
            if r.status in (MailboxStatus.STARTING, MailboxStatus.QUEUED)
            and (r.not_before is None or r.not_before <= now)
        ]
        # A start that may already have been sent goes first: it holds a slot already.
        due.sort(key=lambda r: r.status is not MailboxStatus.STARTING)
        batch = due[:free]
        if not batch:
            return
        self._limit_refusals = 0
        for record in batch:
            if record.status is MailboxStatus.QUEUED:
                record.status = MailboxStatus.STARTING
                record.starting_at = now
        # Written before any request goes out: a crash from here on leaves "starting".
        self._save()
        try:
            self._send_starts(batch, now, started, running)
        finally:
            self._organization_running = max(self._organization_running, running + len(started))

    def _send_starts(
        self, batch: list[MailboxRecord], now: datetime, started: list[JobKey], running: int
    ) -> None:
        for record in batch:
            request = StartRequest(
                entity_id=record.entity_id,
                s3_bucket_name=self.spec.bucket,
                s3_prefix=self.spec.prefix,
                role_arn=self.spec.role_arn,
                kms_key_arn=self.spec.kms_key_arn,
                description=self.spec.job_description,
                client_token=client_token(self.export_id, record.entity_id, record.attempt),
            )
            try:
                key = self.service.start_job(self.spec.region, self.spec.organization_id, request)
            except ServiceError as exc:
                stop = self._refused(record, exc, now, running)
                self._save()
                if stop:
                    return
                continue
            record.status = MailboxStatus.RUNNING
            record.job_id = key.job_id
            if key.job_id not in record.job_ids:
                record.job_ids.append(key.job_id)
            record.job_state = JobState.RUNNING.value
            record.progress = 0
            record.error_info = None
            record.limit_waits = 0
            record.start_errors = 0
            record.not_before = None
            record.end_time = None
            self._any_start_succeeded = True
            self._save()
            started.append(key)
            running += 1

    def _refused(
        self, record: MailboxRecord, exc: ServiceError, now: datetime, running: int
    ) -> bool:
        """Handle a start the service refused; returns whether to stop starting this round.

        The record stays STARTING (same attempt, same token: sending it again can only return
        the job a lost answer made) unless the refusal settles it.
        """
        kind = exc.kind
        if kind is ErrorKind.LIMIT_EXCEEDED:
            if running >= SERVICE_MAX_RUNNING:
                self._pause_starts(now, "LimitExceeded: 10 exports running in the organization")
                return True
            # Fewer than 10 running that we know of: jobs started elsewhere since the sweep,
            # or this mailbox's one export a day. Back this mailbox off; a second refusal in
            # the round means the organization is full.
            record.limit_waits += 1
            wait = _exponential(self.limit_wait, record.limit_waits - 1, timedelta(hours=1))
            record.not_before = now + wait
            record.error = f"LimitExceeded: {exc.message}; trying again at {_hms(now + wait)}"
            self._limit_refusals += 1
            if self._limit_refusals > 1:
                self._pause_starts(now, "LimitExceeded from the service")
                return True
            return False
        if kind is ErrorKind.JOB_NOT_FOUND:
            record.status = MailboxStatus.SKIPPED
            record.reason = f"the mailbox was not found: {exc.message}"
            return False
        if exc.code == "EntityStateException":
            # Disabled or deleted since the organization was listed.
            record.status = MailboxStatus.SKIPPED
            record.reason = _DISABLED_PREFIX + "disabled or deleted"
            return False
        if kind is ErrorKind.INVALID_PARAMETER:
            if not self._any_start_succeeded:
                # Most likely the bucket, role or key: every mailbox would fail the same way.
                raise exc
            record.status = MailboxStatus.FAILED
            record.error = f"refused: {exc.message}"
            return False
        if kind.is_transient or kind is ErrorKind.OTHER:
            # The request may or may not have reached the service: it is sent again, same
            # token, after the pause.
            record.start_errors += 1
            record.error = f"start not confirmed ({kind.value}): {exc.message}"
            if kind is ErrorKind.OTHER and record.start_errors > self.max_retries + 2:
                # The same unexplained refusal again and again: leave it to a person. The
                # attempt (and token) stays, so a later retry cannot make a second job.
                record.status = MailboxStatus.FAILED
                record.error = f"refused {record.start_errors} times: {exc.message}"
            self._transient_or_raise(exc, now)
            return True
        raise exc

    def _pause_starts(self, now: datetime, why: str) -> None:
        self._starts_paused_until = now + self.limit_wait
        self._starts_wait_reason = f"{why}; starting more at {_hms(now + self.limit_wait)}"

    def _waiting(self, now: datetime) -> str | None:
        if self._calls_paused_until is not None and now < self._calls_paused_until:
            return self._calls_wait_reason
        if self._starts_paused_until is not None and now < self._starts_paused_until:
            return self._starts_wait_reason
        return self._full_reason

    # -- saving and telling ------------------------------------------------------------------

    def _save(self) -> None:
        head = {
            "version": FORMAT_VERSION,
            "export_id": self.export_id,
            "spec": self.spec.to_json(),
            "created": (self._created or self._clock()).astimezone(UTC).isoformat(),
            "updated": self._clock().astimezone(UTC).isoformat(),
        }
        # One mailbox a line: readable and diffable, and the C encoder does the work (an
        # indented dump is pure Python, and this runs after every start).
        lines = [self._line(record) for record in self._records.values()]
        text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
        text += ',\n "mailboxes": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"
        if not lines:
            text = json.dumps(head | {"mailboxes": []}, indent=1, ensure_ascii=False) + "\n"
        data = text.encode("utf-8")
        try:
            write_private_file(self.state_path, data)
        except OSError as exc:
            raise ExportStateError(
                self.state_path,
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

    def _progress(self, now: datetime, started: list[JobKey]) -> ExportProgress:
        counts = dict.fromkeys(MailboxStatus, 0)
        retrying = 0
        work = 0.0
        for record in self._records.values():
            counts[record.status] += 1
            if record.status.is_final:
                work += 1.0
            elif record.status is MailboxStatus.RUNNING:
                work += min(99, max(0, record.progress or 0)) / 100.0
            elif record.attempt > 1:
                retrying += 1
        total = len(self._records)
        fraction = work / total if total else 1.0
        if self._first_seen is None:
            self._first_seen = (now, fraction)
        eta: timedelta | None = None
        first_at, first_fraction = self._first_seen
        if fraction >= 1.0:
            eta = timedelta(0)
        elif fraction > first_fraction and now > first_at:
            rate = (fraction - first_fraction) / (now - first_at).total_seconds()
            eta = timedelta(seconds=(1.0 - fraction) / rate)
        return ExportProgress(
            export_id=self.export_id,
            at=now,
            total=total,
            done=counts[MailboxStatus.COMPLETED],
            running=counts[MailboxStatus.RUNNING],
            queued=counts[MailboxStatus.QUEUED] + counts[MailboxStatus.STARTING],
            failed=counts[MailboxStatus.FAILED],
            skipped=counts[MailboxStatus.SKIPPED],
            retrying=retrying,
            organization_running=self._organization_running,
            fraction=fraction,
            eta=eta,
            started=tuple(started),
            waiting=self._waiting(now),
            unmatched=self._unmatched,
            next_event_in=self._next_event_in(now),
            jobs=tuple(self._read.values()),
        )

    def _next_event_in(self, now: datetime) -> float | None:
        soonest: float | None = None

        def consider(seconds: float) -> None:
            nonlocal soonest
            soonest = seconds if soonest is None else min(soonest, seconds)

        for record in self._records.values():
            if record.status is MailboxStatus.RUNNING:
                done = record.progress or 0
                if done <= 0 or record.start_time is None:
                    continue
                elapsed = max(0.0, (now - record.start_time).total_seconds())
                # EstimatedProgress is whole percent: at most (p+1)% done, so the job cannot
                # end sooner than this (at its pace so far).
                share = min(100, done + 1)
                consider(elapsed * (100 - share) / share)
            elif record.status is MailboxStatus.QUEUED and record.not_before is not None:
                consider(max(0.0, (record.not_before - now).total_seconds()))
        for until in (self._calls_paused_until, self._starts_paused_until):
            if until is not None and until > now:
                consider((until - now).total_seconds())
        return soonest
