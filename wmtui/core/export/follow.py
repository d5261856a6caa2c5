"""Following an export another process runs, from its state file: read-only, nothing locked.

`wmtui export-org` (in cron, or another terminal) saves the state file after every step. A
reader that re-reads it whenever its stamp (inode, times and size) moves sees the export's
progress as that process does: the counts, what changed since the last read, and the jobs it
started (for the watch list). Whether a process still runs it is asked of its lock file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from wmtui.core.export.progress import ExportProgress, ProgressMeter, round_events
from wmtui.core.export.state import (
    ExportSnapshot,
    LockHolder,
    MailboxStatus,
    lock_holder,
    read_export_state,
)
from wmtui.core.models import JobKey, now_utc


@dataclass(frozen=True)
class FollowedRead:
    """One look at the state file. `snapshot` and `progress` are None when it did not change."""

    holder: LockHolder
    snapshot: ExportSnapshot | None = None
    progress: ExportProgress | None = None
    events: tuple[str, ...] = ()
    new_jobs: tuple[JobKey, ...] = ()  # started since the last read (all of them at first)


class ExportFollower:
    """Reads one export's state file again each time it changed. Not thread-safe: call `read`
    from one thread at a time."""

    def __init__(self, state_path: Path, *, clock: Callable[[], datetime] = now_utc) -> None:
        self.state_path = state_path
        self._clock = clock
        self._stamp: tuple[int, ...] | None = None
        self._known: dict[str, tuple[MailboxStatus, str | None, str | None]] = {}
        self._jobs_seen: set[JobKey] = set()
        self._meter = ProgressMeter()
        self._first = True

    def _file_stamp(self) -> tuple[int, ...] | None:
        try:
            stat = os.stat(self.state_path)
        except OSError:
            return None
        # Each save is a new file renamed into place: its inode and times move even when two
        # saves come within the clock's tick and have the same size.
        return stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size

    def read(self, *, force: bool = False) -> FollowedRead:
        """Who holds the lock, and (when the file changed, or `force`) where it stands.
        Raises ExportStateError when the file cannot be read."""
        holder = lock_holder(self.state_path)
        stamp = self._file_stamp()
        if stamp == self._stamp and not force:
            return FollowedRead(holder)
        snapshot = read_export_state(self.state_path)
        self._stamp = stamp
        if snapshot is None:
            return FollowedRead(holder)
        keys = snapshot.job_keys()
        new_jobs = tuple(key for key in keys if key not in self._jobs_seen)
        self._jobs_seen.update(new_jobs)
        records = snapshot.records
        progress = self._meter.measure(
            snapshot.export_id,
            records,
            snapshot.updated or self._clock(),
            # The other process's sweep is not saved: its own running jobs are what is known.
            organization_running=sum(r.status is MailboxStatus.RUNNING for r in records),
            started=new_jobs if not self._first else (),
            waiting=None,
            unmatched=(),
            next_event_in=None,
            jobs=(),
        )
        events = round_events(
            self._known, records, progress, first=self._first, head="Read from its state file"
        )
        self._first = False
        return FollowedRead(holder, snapshot, progress, tuple(events), new_jobs)
