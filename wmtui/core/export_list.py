"""Every organization export saved in the data folder, and whether a process runs it now.

Read-only: the state files are read without their lock, and whether an export runs is asked of
its lock file (taken and let go at once). A held lock means a process runs it this moment: this
app, or `wmtui export-org` in cron or another terminal; its progress is then read from its state
file, which that process saves after every step.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from wmtui.core.export import ExportSnapshot, MailboxStatus, find_exports
from wmtui.core.export.state import lock_holder


def is_running(state_path: Path) -> bool:
    """Whether a process holds the export's lock right now (asked without taking it, so an
    export-org starting this moment is not turned away)."""
    return lock_holder(state_path).held


@dataclass(frozen=True)
class ExportSummary:
    snapshot: ExportSnapshot
    counts: Counter[MailboxStatus]
    running: bool

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return sum(n for status, n in self.counts.items() if status.is_final)

    @property
    def state(self) -> str:
        """running (a process runs it now), finished (every mailbox settled) or paused."""
        if self.running:
            return "running"
        return "finished" if self.done == self.total else "paused"

    def line(self) -> str:
        spec = self.snapshot.spec
        counts = self.counts
        return (
            f"{spec.organization_id} ({spec.region}) → s3://{spec.bucket}/{spec.prefix}:"
            f" {self.done}/{self.total} done, {self.state}"
            f" ({counts[MailboxStatus.COMPLETED]} exported, {counts[MailboxStatus.RUNNING]}"
            f" running, {counts[MailboxStatus.QUEUED]} queued, {counts[MailboxStatus.FAILED]}"
            f" failed, {counts[MailboxStatus.SKIPPED]} skipped)"
        )

    def short(self) -> str:
        """The status line's form: 'exporting org m-…: 120/300'."""
        return f"exporting org {self.snapshot.spec.organization_id}: {self.done}/{self.total}"


def export_summaries(data_dir: Path) -> list[ExportSummary]:
    """Every readable export in the data folder, running ones first, then by last update."""
    found = [
        ExportSummary(
            snapshot,
            Counter(record.status for record in snapshot.records),
            is_running(snapshot.path),
        )
        for snapshot in find_exports(data_dir)
    ]
    found.sort(
        key=lambda s: (
            not s.running,
            -(s.snapshot.updated.timestamp() if s.snapshot.updated else 0),
        )
    )
    return found
