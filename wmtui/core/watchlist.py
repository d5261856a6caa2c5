"""The watched jobs, kept in `<config dir>/watchlist.json`.

The one file wmtui must never lose. Every change is a read-merge-write under a lock, so two
running wmtuis (a TUI and a cron `wmtui add`, or two TUIs) never drop each other's additions;
every write is atomic; and a file wmtui cannot fully understand is never written over.

Format (human-readable, stable order so it diffs well):

    {
      "version": 1,
      "jobs": [
        {"region": "us-east-1", "organization_id": "m-...", "job_id": "...", "added": "ISO-8601",
         "profile": "client-a"}
      ]
    }

"profile" is optional: the AWS profile the job's organization belongs to (none: the default
chain). An organization has one account, so one entry naming a profile names it for all of the
organization's jobs (`WatchList.owners`).

Keys wmtui does not know (in an entry or at the top) are kept as they are.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shlex
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from wmtui.core.locations import (
    JSONProblem,
    NotAFileProblem,
    ensure_private_dir,
    move_aside,
    parse_json,
    read_file,
)
from wmtui.core.locations import write_private_file as _write_private_file
from wmtui.core.models import (
    REGION_PATTERN,
    JobKey,
    ValidationError,
    printable,
    validate_job_id,
    validate_organization_id,
    validate_profile_name,
)
from wmtui.core.profiles import OrgKey, ProfileBook

FORMAT_VERSION = 1
# Far above any real list (100,000 jobs is ~15 MB) and far below what hurts to read.
MAX_FILE_BYTES = 64 * 1024 * 1024
DEFAULT_LOCK_TIMEOUT = 5.0
_LOCK_POLL_SECONDS = 0.05
_KNOWN_ENTRY_KEYS = ("region", "organization_id", "job_id", "added", "profile")


class WatchListProblem(StrEnum):
    CORRUPT = "corrupt"  # not a watch list wmtui can read: fix by hand or move aside
    UNREADABLE = "unreadable"  # permissions or I/O: moving it aside would not help
    NEWER_VERSION = "newer-version"  # written by a newer wmtui: left alone
    LOCKED = "locked"  # another wmtui held the lock for too long
    WRITE_FAILED = "write-failed"  # disk full, read-only folder ...: nothing was changed


class WatchListError(Exception):
    """The watch list could not be read or saved. str() says the file, the problem and the fix."""

    def __init__(
        self,
        path: Path,
        problem: str,
        fix: str = "",
        *,
        kind: WatchListProblem = WatchListProblem.CORRUPT,
    ) -> None:
        self.path = path
        self.problem = problem
        self.fix = fix
        self.kind = kind
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.path}: {self.problem}"
        return f"{text}; {self.fix}" if self.fix else text

    @property
    def can_move_aside(self) -> bool:
        """True when renaming the file to a backup lets wmtui start a fresh one."""
        return self.kind is WatchListProblem.CORRUPT


@dataclass
class _Entry:
    key: JobKey
    added: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    profile: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = self.key.to_dict()
        if self.added is not None:
            out["added"] = self.added
        if self.profile is not None:
            out["profile"] = self.profile
        out.update(sorted(self.extra.items()))
        return out


@dataclass
class _Contents:
    entries: dict[JobKey, _Entry]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        document: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "jobs": [self.entries[key].to_json() for key in sorted(self.entries)],
        }
        document.update(sorted(self.extra.items()))
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    def owners(self) -> dict[OrgKey, str]:
        """Each organization's profile: the first entry (in key order) that names one."""
        found: dict[OrgKey, tuple[tuple[str, str, str], str]] = {}
        for key, entry in self.entries.items():
            if entry.profile is None:
                continue  # an old file: no entry names one, and this loop is all it costs
            org, order = (key.region, key.organization_id), _key_order(key)
            known = found.get(org)
            if known is None or order < known[0]:
                found[org] = (order, entry.profile)
        return {org: profile for org, (_, profile) in found.items()}


def _key_order(key: JobKey) -> tuple[str, str, str]:
    return (key.region, key.organization_id, key.job_id)


def _utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_key(key: JobKey) -> JobKey:
    """The same rules the loader applies, so wmtui never writes a file it cannot read back."""
    if not isinstance(key, JobKey):
        raise TypeError(f"expected a JobKey, got {type(key).__name__}")
    if not isinstance(key.region, str) or not REGION_PATTERN.fullmatch(key.region):
        raise ValidationError("region", key.region, "is not a region name such as us-east-1")
    validate_organization_id(key.organization_id)
    validate_job_id(key.job_id)
    return key


class WatchList:
    """Load, add and remove watched jobs; safe against crashes, races and hand-broken files."""

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        clock: Callable[[], str] = _utc_now_iso,
        profiles: ProfileBook | None = None,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        # Gives the "added" time of new entries (ISO-8601); tests pin it.
        self._clock = clock
        # Told each organization's profile at every read: the file is the truth.
        self.profiles = profiles if profiles is not None else ProfileBook()

    def __repr__(self) -> str:
        return f"WatchList({str(self.path)!r})"

    # -- reading -------------------------------------------------------------------------

    def load(self) -> list[JobKey]:
        """The watched keys, sorted; [] if the file does not exist (or is empty).

        Raises WatchListError if the file is corrupt, unreadable or from a newer wmtui.
        """
        # Sorted on a plain tuple: JobKey's generated __lt__ builds two tuples per comparison.
        return sorted(self._read().entries, key=_key_order)

    def _read(self) -> _Contents:
        data = self._read_bytes()
        if data is None or not data.strip():
            # Nothing there, or a file someone emptied: an empty list, and nothing to lose
            # by writing one.
            self.profiles.learn({})
            return _Contents({})
        try:
            document = parse_json(data)
        except JSONProblem as exc:
            raise self._corrupt(str(exc)) from None
        contents = self._parse(document)
        self._tell_profiles(contents)
        return contents

    def _tell_profiles(self, contents: _Contents) -> None:
        owners = contents.owners()
        # Which organizations use the default chain matters only once some name a profile.
        orgs = {(key.region, key.organization_id) for key in contents.entries} if owners else ()
        self.profiles.learn(owners, orgs)

    def owners(self) -> dict[OrgKey, str]:
        """Each watched organization's profile (those with one), read from the file now."""
        return self._read().owners()

    def _read_bytes(self) -> bytes | None:
        """The file's bytes, None if it does not exist."""
        try:
            return read_file(self.path, MAX_FILE_BYTES)
        except NotAFileProblem as exc:
            raise WatchListError(
                self.path,
                f"{exc}, not a watch list file",
                f"wmtui writes nothing there until you move it aside: {self._mv_command()}",
                kind=WatchListProblem.CORRUPT,
            ) from None
        except OSError as exc:
            raise self._unreadable(exc) from None

    def _parse(self, document: object) -> _Contents:
        if not isinstance(document, dict):
            raise self._corrupt(
                f'it holds {_described(document)}, not an object with "version" and "jobs"'
            )
        version = document.get("version")
        if "version" not in document:
            raise self._corrupt('it has no "version"')
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise self._corrupt(
                f'"version" is {_described(version)} ({printable(version)}), '
                f"expected the number {FORMAT_VERSION}"
            )
        if version > FORMAT_VERSION:
            raise WatchListError(
                self.path,
                f"it was written by a newer wmtui (format version {version}; "
                f"this one understands {FORMAT_VERSION}), so it is left alone",
                "upgrade wmtui to use it",
                kind=WatchListProblem.NEWER_VERSION,
            )
        jobs = document.get("jobs")
        if not isinstance(jobs, list):
            what = "missing" if "jobs" not in document else _described(jobs)
            raise self._corrupt(f'"jobs" is {what}, expected a list')
        entries: dict[JobKey, _Entry] = {}
        # Regions and organizations repeat over thousands of entries: each is checked once.
        checked: set[tuple[str, str]] = set()
        for index, item in enumerate(jobs):
            entry = self._parse_entry(index, item, checked)
            known = entries.get(entry.key)
            if known is None:
                entries[entry.key] = entry
                continue
            # A duplicate (two wmtuis of old, or a hand edit): one entry, the earliest time.
            if entry.added is not None and (
                known.added is None or _instant(entry.added) < _instant(known.added)
            ):
                known.added = entry.added
            known.profile = known.profile or entry.profile
            known.extra = {**entry.extra, **known.extra}
        extra = {k: v for k, v in document.items() if k not in ("version", "jobs")}
        return _Contents(entries, extra)

    def _parse_entry(self, index: int, item: object, checked: set[tuple[str, str]]) -> _Entry:
        where = f"jobs[{index}]"
        if not isinstance(item, dict):
            raise self._corrupt(f"{where} is {_described(item)}, expected an object")
        for name in ("region", "organization_id", "job_id"):
            if name not in item:
                raise self._corrupt(f'{where} has no "{name}"')
            if not isinstance(item[name], str):
                raise self._corrupt(
                    f'{where}: "{name}" is {_described(item[name])}, expected a string'
                )
        region, organization_id, job_id = item["region"], item["organization_id"], item["job_id"]
        try:
            if (region, organization_id) not in checked:
                if not REGION_PATTERN.fullmatch(region):
                    raise ValidationError(
                        "region", region, "is not a region name such as us-east-1"
                    )
                validate_organization_id(organization_id)
                checked.add((region, organization_id))
            validate_job_id(job_id)
        except ValidationError as exc:
            raise self._corrupt(f"{where}: {exc}") from None
        added = item.get("added")
        if added is not None:
            if not isinstance(added, str):
                raise self._corrupt(f'{where}: "added" is {_described(added)}, expected a time')
            try:
                _instant(added)
            except ValueError:
                raise self._corrupt(
                    f'{where}: "added" is {printable(added)}, not an ISO-8601 time'
                ) from None
        profile = item.get("profile")
        if profile is not None:
            try:
                validate_profile_name(profile)
            except ValidationError as exc:
                raise self._corrupt(f"{where}: {exc}") from None
        extra = {k: v for k, v in item.items() if k not in _KNOWN_ENTRY_KEYS}
        return _Entry(JobKey(region, organization_id, job_id), added, extra, profile)

    def stamp(self) -> tuple[int, int, int] | None:
        """What tells a change by another process at the cost of one stat: the file's
        modification time (ns), size and inode (a save replaces the file); None if absent."""
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    # -- changing ------------------------------------------------------------------------

    def add(self, keys: Iterable[JobKey], *, profile: str | None = None) -> list[JobKey]:
        """Add keys (read-merge-write under the lock); returns those not already watched.

        `profile` names the AWS profile the jobs belong to (kept on new entries, and set on
        those already watched). Raises ValidationError for a malformed key or profile (nothing
        written) and WatchListError if the file cannot be read, is corrupt, is locked too
        long or cannot be written.
        """
        wanted = list(dict.fromkeys(_check_key(key) for key in keys))
        if profile is not None:
            validate_profile_name(profile)
        if not wanted:
            return []

        def unchanged(contents: _Contents) -> list[JobKey]:
            return [
                key
                for key in wanted
                if key in contents.entries
                and (profile is None or contents.entries[key].profile == profile)
            ]

        # Nothing new is a common case (re-adding): answer without the lock or a write, which
        # also works in a read-only folder.
        if len(unchanged(self._read())) == len(wanted):
            return []
        with self._locked():
            contents = self._read()
            added = [key for key in wanted if key not in contents.entries]
            if len(unchanged(contents)) < len(wanted):
                stamp = self._clock()
                # A new job of an organization with a profile keeps it in its own entry.
                owners = contents.owners() if profile is None else {}
                for key in added:
                    org = (key.region, key.organization_id)
                    own = profile or owners.get(org) or self.profiles.owner(*org)
                    contents.entries[key] = _Entry(key, stamp, profile=own)
                if profile is not None:
                    for key in wanted:
                        contents.entries[key].profile = profile
                self._write(contents)
                self._tell_profiles(contents)
            return added

    def remove(self, keys: Iterable[JobKey]) -> list[JobKey]:
        """Remove keys (read-merge-write under the lock); returns those that were watched."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        if not any(key in self._read().entries for key in wanted):
            return []
        with self._locked():
            contents = self._read()
            removed = [key for key in wanted if key in contents.entries]
            if removed:
                for key in removed:
                    del contents.entries[key]
                self._write(contents)
                self._tell_profiles(contents)
            return removed

    def move_aside(self) -> Path:
        """Rename the (corrupt) file to `<name>.corrupt-<UTC time>` and return the new path.

        The file is kept, not deleted: the user decides what to do with it. A symlink is
        moved itself; its target is left untouched.
        """
        with self._locked():
            if not (self.path.exists() or self.path.is_symlink()):
                raise WatchListError(
                    self.path,
                    "there is no file to move aside",
                    kind=WatchListProblem.WRITE_FAILED,
                )
            try:
                return move_aside(self.path)
            except OSError as exc:
                raise self._write_failed(exc, "move it aside") from None

    def _write(self, contents: _Contents) -> None:
        try:
            _write_private_file(self.path, contents.to_bytes())
        except OSError as exc:
            raise self._write_failed(exc, "save it") from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold an exclusive flock on `<path>.lock` (waiting at most lock_timeout seconds).

        The lock file is never deleted: removing a flock file while another process waits on
        it lets two processes each believe they hold the lock.
        """
        lock_path = self._lock_path()
        try:
            ensure_private_dir(lock_path.parent)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise self._write_failed(exc, "lock it") from None
        try:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise self._locked_error(fd) from None
                    time.sleep(_LOCK_POLL_SECONDS)
                except OSError as exc:
                    raise self._write_failed(exc, "lock it") from None
            # Who holds it, for the message another wmtui will show while it waits.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _lock_path(self) -> Path:
        # Beside the path wmtui was given, even for a symlink: no lock file appears in the
        # folder the link points into (often a dotfiles repository).
        return self.path.with_name(self.path.name + ".lock")

    # -- errors --------------------------------------------------------------------------

    def _mv_command(self) -> str:
        """The command to paste, quoted so a folder name with spaces survives the shell."""
        return f"mv {shlex.quote(str(self.path))} {shlex.quote(str(self.path) + '.bak')}"

    def _corrupt(self, problem: str) -> WatchListError:
        return WatchListError(
            self.path,
            f"not a watch list wmtui can read: {problem}",
            "wmtui writes nothing to it until you "
            f"fix it by hand or move it aside: {self._mv_command()}",
            kind=WatchListProblem.CORRUPT,
        )

    def _unreadable(self, exc: OSError) -> WatchListError:
        reason = exc.strerror or str(exc)
        quoted = shlex.quote(str(self.path))
        return WatchListError(
            self.path,
            f"cannot be read ({reason}); wmtui writes nothing to it until it can",
            f"check its owner and permissions (ls -l {quoted}; chmod 600 {quoted})",
            kind=WatchListProblem.UNREADABLE,
        )

    def _write_failed(self, exc: OSError, action: str) -> WatchListError:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            fix = "free some disk space and try again"
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            fix = (
                f"make {self.path.parent} writable, or point WMTUI_CONFIG_DIR / --config-dir "
                "at a folder you can write"
            )
        else:
            fix = "try again once that is fixed"
        return WatchListError(
            self.path,
            f"could not {action} ({reason}); the file was left as it was",
            fix,
            kind=WatchListProblem.WRITE_FAILED,
        )

    def _locked_error(self, fd: int) -> WatchListError:
        holder = "pid unknown"
        with contextlib.suppress(OSError, ValueError):
            text = os.pread(fd, 32, 0).decode("ascii").strip()
            if text.isdigit():
                holder = f"pid {int(text)}"
        return WatchListError(
            self.path,
            f"locked by another wmtui ({holder}) for more than {self.lock_timeout:g} s; "
            "nothing was written",
            "try again in a moment, or close the other wmtui",
            kind=WatchListProblem.LOCKED,
        )


@dataclass(frozen=True)
class OutsideChange:
    """How the file differs from what a session shows: what another process added and
    removed, and the list to show now (the shown order kept, new jobs after it)."""

    keys: list[JobKey]
    added: list[JobKey]
    removed: list[JobKey]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)

    def summary(self) -> str:
        """ "2 jobs added by another wmtui", "1 job removed by another wmtui", or both."""
        parts = [
            f"{len(keys)} job{'s' if len(keys) != 1 else ''} {verb}"
            for keys, verb in ((self.added, "added"), (self.removed, "removed"))
            if keys
        ]
        return " and ".join(parts) + " by another wmtui" if parts else ""


def outside_change(shown: Iterable[JobKey], on_file: Iterable[JobKey]) -> OutsideChange:
    """The file is the truth: what a session showing `shown` must add and drop to show it."""
    shown = list(shown)
    present = set(on_file)
    known = set(shown)
    kept = [key for key in shown if key in present]
    added = sorted(present - known, key=_key_order)
    removed = [key for key in shown if key not in present]
    return OutsideChange([*kept, *added], added, removed)


def _instant(text: str) -> datetime:
    """An "added" time as an aware UTC datetime (a time without a zone is taken as UTC)."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _described(value: object) -> str:
    """A JSON value's type, with its article, for a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"
