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
The lock file holds its holder's pid; `lock_holder` asks it who runs an export without getting
in its way, and `ExportFollower` reads the state file of an export another process runs each
time it changes (the app shows such an export read-only).

The package: `spec` (ExportSpec, selectors, export ids and client tokens), `state` (the record
format, reading the state file, its lock and its writer), `progress` (ExportProgress, the ETA, a
round told in lines), `pacing` (retries, back-off, the export-wide waits, refused starts),
`planning` (which mailboxes to queue, skip or start, matched against the organization's jobs)
and `engine` (OrgExport: the round itself).
"""

from wmtui.core.export.engine import OrgExport
from wmtui.core.export.follow import ExportFollower, FollowedRead
from wmtui.core.export.planning import NOT_SELECTED, RECENT_EXPORT_WINDOW, START_MATCH_SKEW
from wmtui.core.export.progress import ExportProgress, round_events
from wmtui.core.export.spec import (
    SERVICE_MAX_RUNNING,
    ExportSpec,
    client_token,
    export_id_for,
    read_selector_file,
)
from wmtui.core.export.state import (
    FORMAT_VERSION,
    ExportLockedError,
    ExportSnapshot,
    ExportStateError,
    LockHolder,
    MailboxRecord,
    MailboxStatus,
    export_state_path,
    find_exports,
    lock_holder,
    read_export_state,
)

__all__ = [
    "FORMAT_VERSION",
    "NOT_SELECTED",
    "RECENT_EXPORT_WINDOW",
    "SERVICE_MAX_RUNNING",
    "START_MATCH_SKEW",
    "ExportFollower",
    "ExportLockedError",
    "ExportProgress",
    "ExportSnapshot",
    "ExportSpec",
    "ExportStateError",
    "FollowedRead",
    "LockHolder",
    "MailboxRecord",
    "MailboxStatus",
    "OrgExport",
    "client_token",
    "export_id_for",
    "export_state_path",
    "find_exports",
    "lock_holder",
    "read_export_state",
    "read_selector_file",
    "round_events",
]
