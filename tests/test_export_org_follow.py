"""Who runs an organization export, and following one another process runs, from its files.

The lock file names the process that holds it (the app says "run by another process (pid N)");
asking it does not take it; the state file read again each time it changes tells the counts,
what changed since the last read and the jobs started since.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wmtui.core.export import (
    ExportFollower,
    ExportLockedError,
    ExportSpec,
    MailboxRecord,
    MailboxStatus,
    export_state_path,
    lock_holder,
)
from wmtui.core.export.state import ExportLock, StateWriter, lock_path_of
from wmtui.core.models import JobKey

REGION = "us-east-1"
ORG = "m-" + "b" * 32
ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KEY = "arn:aws:kms:us-east-1:123456789012:key/0000-1111"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SPEC = ExportSpec(REGION, ORG, "wm-export", "org", ROLE, KEY)
ROOT = Path(__file__).resolve().parent.parent


def records(*states: tuple[MailboxStatus, str | None]) -> list[MailboxRecord]:
    out = []
    for index, (status, job_id) in enumerate(states):
        record = MailboxRecord(entity_id=f"S-1-5-18-{index}", name=f"user{index}", status=status)
        if job_id is not None:
            record.job_id = job_id
            record.job_ids = [job_id]
        out.append(record)
    return out


def test_the_lock_names_its_holder_and_asking_does_not_take_it(tmp_path: Path) -> None:
    path = export_state_path(tmp_path, SPEC)
    assert not lock_holder(path).held  # never run: no lock file
    lock = ExportLock(path)
    lock.take()
    try:
        holder = lock_holder(path)
        assert holder.held and holder.pid == os.getpid() and holder.here
        assert lock_holder(path).held  # asked twice: still held, still named
        assert lock_path_of(path).read_text().strip() == str(os.getpid())
    finally:
        lock.release()
    # Let go: free, and the pid is wiped (no stale name for the next holder).
    assert not lock_holder(path).held
    assert lock_path_of(path).read_text() == ""
    # Asking never stands in the way of a run that starts next.
    assert not lock_holder(path).held
    again = ExportLock(path)
    again.take()
    again.release()


def test_another_process_holding_it_is_named_and_refused_with_its_pid(tmp_path: Path) -> None:
    path = export_state_path(tmp_path, SPEC)
    holder_code = (
        "import sys; from pathlib import Path; from wmtui.core.export.state import ExportLock;"
        f" lock = ExportLock(Path({str(path)!r})); lock.take(); print('held', flush=True);"
        " sys.stdin.read()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", holder_code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        holder = lock_holder(path)
        assert holder.held and holder.pid == process.pid and not holder.here
        try:
            ExportLock(path).take()
        except ExportLockedError as exc:
            assert f"pid {process.pid}" in exc.problem
        else:
            raise AssertionError("a second holder was let in")
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)
    assert not lock_holder(path).held


def test_the_follower_reads_what_changed_and_the_new_jobs(tmp_path: Path) -> None:
    path = export_state_path(tmp_path, SPEC)
    writer = StateWriter(path)
    follower = ExportFollower(path, clock=lambda: T0)
    assert follower.read().snapshot is None  # nothing saved yet
    writer.save(
        SPEC,
        T0,
        T0,
        records(
            (MailboxStatus.RUNNING, "job-1"),
            (MailboxStatus.QUEUED, None),
            (MailboxStatus.QUEUED, None),
        ),
    )
    first = follower.read()
    assert first.progress is not None and first.snapshot is not None
    assert (first.progress.running, first.progress.queued, first.progress.total) == (1, 2, 3)
    assert first.events[0].startswith("Read from its state file: 3 mailboxes")
    assert first.new_jobs == (JobKey(REGION, ORG, "job-1"),)  # every job, the first time
    # Unchanged: nothing read again, nothing told twice.
    same = follower.read()
    assert same.snapshot is None and same.events == () and same.new_jobs == ()
    later = T0 + timedelta(minutes=5)
    writer.save(
        SPEC,
        T0,
        later,
        records(
            (MailboxStatus.COMPLETED, "job-1"),
            (MailboxStatus.RUNNING, "job-2"),
            (MailboxStatus.QUEUED, None),
        ),
    )
    second = follower.read()
    assert second.progress is not None
    assert (second.progress.done, second.progress.running) == (1, 1)
    assert second.progress.at == later  # the time the other process saved it
    assert "user0 completed" in second.events
    assert any(event.startswith("started user1 (job job-2") for event in second.events)
    assert second.new_jobs == (JobKey(REGION, ORG, "job-2"),)
    assert not second.holder.held
