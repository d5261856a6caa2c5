"""How close the organization-wide export comes to the physical limit.

With N mailboxes, jobs that each take D and at most 10 running at once, no schedule can finish
before ceil(N/10) x D. This runs `OrgExport` against the emulator (real boto3 over HTTP on
127.0.0.1) and reports, from the emulator's own job records:

- makespan / bound: the first job's start to the last job's end, over ceil(N/10) x D
  (with jittered durations the bound is max(sum of durations / 10, longest job));
- all-10-busy: the share of the makespan during which all 10 slots ran a job (aim: >= 95%);
- slot use: the sum of job durations over 10 x makespan;
- the requests the export made, per job.

Two ways to run the clock:
- manual: the emulator's clock moves only between ticks, by the poll interval: deterministic,
  and exactly what a CLI polling every P seconds would do, minus the time calls take;
- speed: the emulator runs X times faster than real time and the export polls in real time,
  calls' latency included.

    uv run python -m benchmarks.export_makespan [--mailboxes 200] [--minutes 10] [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wmtui.aws.service import Boto3ExportService
from wmtui.core.export import ExportProgress, ExportSpec, OrgExport, export_state_path
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatedJob, EmulatorClock, EmulatorState

REGION = "us-east-1"
CAP = 10
ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
CREDENTIALS = ("AKIDBENCHBENCHBENCH0", "benchmark-secret")
# The export's defaults: tick every 15 s, sooner (not under 2 s) when a job is about to end.
POLL = 15.0
MIN_POLL = 2.0


@dataclass(frozen=True)
class Case:
    label: str
    mailboxes: int
    duration: timedelta
    poll: float  # emulated seconds between ticks, at most
    speed: float | None = None  # None: manual clock
    jitter: float = 0.0
    adaptive: bool = True  # tick sooner when a job is about to end (the export's default)


@dataclass(frozen=True)
class Outcome:
    case: Case
    makespan: timedelta
    bound: timedelta
    all_busy: float
    busy_while_queued: float
    slot_use: float
    max_running: int
    ticks: int
    tick_seconds: float  # real time spent inside tick(), on average
    requests: Counter[str]
    wall: float
    exported_once: bool

    @property
    def ratio(self) -> float:
        return self.makespan / self.bound


@contextmanager
def emulated(case: Case) -> Iterator[tuple[EmulatorServer, str]]:
    clock = (
        EmulatorClock(manual=True, start=datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
        if case.speed is None
        else EmulatorClock(speed=case.speed)
    )
    # The emulator's own cap is set high so that the 10 measured is the export's doing.
    state = EmulatorState(
        clock=clock,
        seed=5,
        max_running=1000,
        job_duration=case.duration,
        job_duration_jitter=case.jitter,
        failure_rate=0.0,
    )
    org = state.add_organization("bench", region=REGION)
    for i in range(case.mailboxes):
        state.add_mailbox(org, f"user{i:04d}", display_name=f"User {i:04d}")
    server = EmulatorServer(state).start()
    try:
        yield server, org
    finally:
        server.stop()


def busy_shares(jobs: list[EmulatedJob]) -> tuple[timedelta, float, float, float, int]:
    """Makespan; the share of it with CAP jobs running, and of the time until the last start
    (while mailboxes were waiting: what the scheduler controls); slot use; most at once."""
    events: list[tuple[datetime, int]] = []
    for job in jobs:
        assert job.end_time is not None
        events.append((job.start_time, +1))
        events.append((job.end_time, -1))
    events.sort(key=lambda event: (event[0], event[1]))  # an end before a start at one instant
    first, last = events[0][0], events[-1][0]
    last_start = max(job.start_time for job in jobs)
    makespan = last - first
    full = full_while_queued = timedelta(0)
    running = peak = 0
    previous = first
    for when, step in events:
        if running >= CAP:
            full += when - previous
            if when <= last_start:
                full_while_queued += when - previous
        running += step
        peak = max(peak, running)
        previous = when
    work = sum(((job.end_time or job.start_time) - job.start_time for job in jobs), timedelta(0))
    queued_span = last_start - first
    while_queued = full_while_queued / queued_span if queued_span else 1.0
    return makespan, full / makespan, while_queued, work / (CAP * makespan), peak


def run_case(case: Case, folder: Path) -> Outcome:
    with emulated(case) as (server, org):
        state = server.state
        service = Boto3ExportService(
            endpoint_url=server.endpoint_url, region=REGION, credentials=CREDENTIALS
        )
        spec = ExportSpec(
            REGION,
            org,
            "bench-bucket",
            "run/" + "".join(c if c.isalnum() else "-" for c in case.label),
            ROLE,
            KMS,
        )
        export = OrgExport(
            spec,
            service,
            export_state_path(folder, spec),
            # The service answers on the wall clock's time line (EmulatorClock.to_wall).
            clock=lambda: state.clock.to_wall(state.clock.now()),
        )
        ticks = 0
        in_ticks = 0.0
        real_tick = export.tick

        def timed_tick() -> ExportProgress:
            nonlocal ticks, in_ticks
            ticks += 1
            began = time.perf_counter()
            try:
                return real_tick()
            finally:
                in_ticks += time.perf_counter() - began

        started = time.perf_counter()
        with export:
            if case.speed is None:
                while True:
                    progress = timed_tick()
                    if progress.finished:
                        break
                    delay = (
                        progress.suggested_delay(case.poll, MIN_POLL)
                        if case.adaptive
                        else case.poll
                    )
                    state.clock.advance(delay)
            else:
                export.tick = timed_tick  # type: ignore[method-assign]
                # The export sleeps in real seconds: the intervals shrink with the speed-up.
                export.run(
                    poll_interval=case.poll / case.speed,
                    min_poll_interval=(MIN_POLL if case.adaptive else case.poll) / case.speed,
                )
        wall = time.perf_counter() - started
        jobs = state.jobs(org)
        durations = [job.duration for job in jobs]
        per_round = math.ceil(case.mailboxes / CAP)
        if case.jitter:
            bound = max(sum(durations, timedelta(0)) / CAP, max(durations))
        else:
            bound = per_round * case.duration
        makespan, all_busy, while_queued, slot_use, peak = busy_shares(jobs)
        per_mailbox = state.exports_started(org)
        return Outcome(
            case=case,
            makespan=makespan,
            bound=bound,
            all_busy=all_busy,
            busy_while_queued=while_queued,
            slot_use=slot_use,
            max_running=max(peak, state.max_running_seen(org)),
            ticks=ticks,
            tick_seconds=in_ticks / max(1, ticks),
            requests=state.counters_snapshot(),
            wall=wall,
            exported_once=len(per_mailbox) == case.mailboxes
            and all(len(v) == 1 for v in per_mailbox.values()),
        )


def cases(mailboxes: int, minutes: float, quick: bool) -> list[Case]:
    d = timedelta(minutes=minutes)
    n = mailboxes
    chosen = [
        Case("fixed P=15s", n, d, POLL, jitter=0.2, adaptive=False),
        Case("adaptive P=15s", n, d, POLL, jitter=0.2),
        Case("adaptive P=60s", n, d, 60.0, jitter=0.2),
        Case("adaptive P=15s equal", n, d, POLL),
    ]
    if not quick:
        chosen.insert(1, Case("fixed P=5s", n, d, 5.0, jitter=0.2, adaptive=False))
        # Real time at x100: D=10 min lasts 6 s, so each tick's own time (HTTP to the
        # in-process emulator, fsync-ed saves: tens of ms) counts a hundredfold.
        chosen.append(Case("speed x100 equal", n, d, POLL, speed=100.0))
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.export_makespan")
    parser.add_argument("--mailboxes", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=10.0, help="job duration D")
    parser.add_argument("--quick", action="store_true", help="fewer cases, no real-time case")
    parser.add_argument("--case", default="", help="run only cases whose label contains this")
    parser.add_argument(
        "--no-fsync",
        action="store_true",
        help="skip fsync in state saves (shows what the saves cost the real-time case)",
    )
    args = parser.parse_args(argv)
    if args.no_fsync:
        os.fsync = lambda fd: None
    # Nothing here may reach AWS: static keys, no profile, no instance metadata.
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    print(
        f"Organization-wide export: N={args.mailboxes} mailboxes, D={args.minutes:g} min, "
        f"cap {CAP}; bound = ceil(N/{CAP}) x D = "
        f"{math.ceil(args.mailboxes / CAP) * args.minutes:g} min"
    )
    header = (
        f"{'case':<22} {'makespan':>9} {'bound':>9} {'ratio':>6} {'all-10':>7} {'queued':>7} "
        f"{'slots':>6} "
        f"{'max':>4} {'ticks':>5} {'tick':>6} {'List':>5} {'Start':>5} {'once':>5} {'wall':>6}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="wmtui-bench-") as folder:
        for case in cases(args.mailboxes, args.minutes, args.quick):
            if args.case not in case.label:
                continue
            outcome = run_case(case, Path(folder))
            print(
                f"{case.label:<22} {outcome.makespan.total_seconds() / 60:>8.1f}m "
                f"{outcome.bound.total_seconds() / 60:>8.1f}m {outcome.ratio:>6.3f} "
                f"{outcome.all_busy:>7.1%} {outcome.busy_while_queued:>7.1%} "
                f"{outcome.slot_use:>6.1%} {outcome.max_running:>4} "
                f"{outcome.ticks:>5} {outcome.tick_seconds * 1000:>4.0f}ms "
                f"{outcome.requests['ListMailboxExportJobs']:>5} "
                f"{outcome.requests['StartMailboxExportJob']:>5} "
                f"{'yes' if outcome.exported_once else 'NO':>5} {outcome.wall:>5.1f}s"
            )
    print(
        "all-10: share of the makespan with 10 jobs running; queued: the same until the last "
        "start\n(while mailboxes waited: the scheduler's part; after it only the jobs' own "
        "lengths matter);\nslots: job time / (10 x makespan); max: most running at once (the "
        "emulator's record);\nonce: every mailbox exported exactly once (the emulator's record); "
        "tick: real time a tick took, on average; List/Start: requests."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
