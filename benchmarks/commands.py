"""Item 7: wmtui's commands for scripts against one call of AWS's own CLI, side by side.

Each case is a new process, as cron or a shell runs it: `aws workmail
describe-mailbox-export-job` (the AWS CLI from the dev dependencies: one call, its own start-up),
`wmtui status --json` cold (no job cache, no names cache) and warm (both caches as the previous
status left them), and `wmtui list`, `add`, `remove` (no AWS call). The cases take turns in every
round, so all of them see the same machine; the figure is the median over the rounds, and each
wmtui case is held to a ratio of the AWS CLI call's median.

The emulator serves 1,000 watched jobs in 10 organizations from a process of its own (its
answers do not compete with the client for a CPU), with L ms added to every answer. Its clock
stands still, so every round finds the same jobs RUNNING.

The counts of calls are held to those of the way `status` made them before it read names in
parallel: the same refresh, then each organization's names one after another, run here in this
process against the same emulator (the reference).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import (
    BENCH_CREDENTIALS,
    Options,
    Section,
    isolated_aws_environ,
    median,
    ms,
    ratio,
)
from benchmarks.emulator_process import EmulatorProcess
from benchmarks.world import REGION, World, build_world
from wmtui.aws.service import Boto3ExportService
from wmtui.core.cache import JobCache
from wmtui.core.locations import watchlist_path
from wmtui.core.models import ExportJob, JobKey
from wmtui.core.names import NameDirectory
from wmtui.core.refresh import RefreshPlanner
from wmtui.core.watchlist import WatchList

ITEM = 7
JOBS = 1_000
ORGANIZATIONS = 10
# Ratios to one AWS CLI call (issue 16).
WARM_TARGET = 1.25
COLD_TARGET = 1.6
NO_CALL_TARGET = 0.5
RUN_TIMEOUT = 120.0
CASES = ("aws", "status cold", "status warm", "list", "add", "remove")


def _environ(root: Path, pycache: Path) -> dict[str, str]:
    env = isolated_aws_environ(root / "home")
    # Compiled modules as an installed program has them, in a folder of the benchmark's own.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(
        {
            "WMTUI_CONFIG_DIR": str(root / "config"),
            "WMTUI_CACHE_DIR": str(root / "cache"),
            "WMTUI_DATA_DIR": str(root / "data"),
        }
    )
    return env


def _commands(world: World, endpoint_url: str) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    where = ["--endpoint-url", endpoint_url, "--region", REGION]
    probe = world.watched[0]
    extra = "bench-extra-job"
    wmtui = [str(bin_dir / "wmtui")]
    return {
        "aws": [
            str(bin_dir / "aws"),
            "workmail",
            "describe-mailbox-export-job",
            "--organization-id",
            probe.organization_id,
            "--job-id",
            probe.job_id,
            *where,
            "--output",
            "json",
        ],
        "status cold": [*wmtui, "status", "--json", *where],
        "status warm": [*wmtui, "status", "--json", *where],
        "list": [*wmtui, "list", *where],
        "add": [*wmtui, "add", probe.organization_id, extra, *where],
        "remove": [*wmtui, "remove", probe.organization_id, extra, *where],
    }


def _timed(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:3])} exited {done.returncode}: {done.stderr.decode()[-500:]}"
        )
    return seconds


def _reference_counts(
    world: World, emulator: EmulatorProcess, root: Path
) -> tuple[Counter[str], Counter[str]]:
    """The calls of `status` as it made them before (cold, then warm): the refresh, then the
    names of each organization one after another."""
    service = Boto3ExportService(
        endpoint_url=emulator.endpoint_url, region=REGION, credentials=BENCH_CREDENTIALS
    )
    names = NameDirectory(root / "reference-names.json")
    found: list[Counter[str]] = []
    known: dict[JobKey, ExportJob] = {}
    emulator.take_counts()
    for _ in range(2):
        result = RefreshPlanner().refresh(service, world.watched, known)
        known = result.applied_to(known)
        wanted: dict[tuple[str, str], set[str]] = {}
        for key in world.watched:
            job = known.get(key)
            if job is not None and job.entity_id:
                wanted.setdefault((key.region, key.organization_id), set()).add(job.entity_id)
        for (region, organization), entity_ids in wanted.items():
            names.refresh_org(service, region, organization)
            names.resolve_missing(service, region, organization, sorted(entity_ids))
        found.append(emulator.take_counts())
    return found[0], found[1]


def _calls(counts: Counter[str]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items())) or "none"


def run(options: Options, log: Callable[[str], None]) -> list[Section]:
    root = Path(tempfile.mkdtemp(prefix="wmtui-bench-commands-"))
    pycache = Path(tempfile.mkdtemp(prefix="wmtui-bench-pycache-"))
    try:
        return [_measure(options, log, root, pycache)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(pycache, ignore_errors=True)


def _measure(options: Options, log: Callable[[str], None], root: Path, pycache: Path) -> Section:
    began = time.perf_counter()
    start = datetime.now(UTC).replace(microsecond=0)
    emulator = EmulatorProcess(
        JOBS, ORGANIZATIONS, start=start, latency_ms=options.latency_ms, home=root / "emulator"
    )
    with emulator:
        world = build_world(JOBS, ORGANIZATIONS, start=start)
        endpoint_url = emulator.ready(world)
        cold_reference, warm_reference = _reference_counts(world, emulator, root)
        WatchList(watchlist_path(root / "config")).add(world.watched)
        env = _environ(root, pycache)
        commands = _commands(world, endpoint_url)
        # One untimed round: compiled modules written, the disk cache warm for every program.
        for case in CASES:
            _timed(commands[case], env)
        emulator.take_counts()
        times: dict[str, list[float]] = {case: [] for case in CASES}
        counts: dict[str, list[Counter[str]]] = {case: [] for case in CASES}
        rounds = max(options.repeats, 3)
        for round_number in range(rounds):
            log(f"  round {round_number + 1} of {rounds}")
            for case in CASES:
                if case == "status cold":
                    shutil.rmtree(root / "cache", ignore_errors=True)
                times[case].append(_timed(commands[case], env))
                counts[case].append(emulator.take_counts())
        cached = JobCache(next((root / "cache").rglob("jobs.json"))).load()
        errors = emulator.internal_errors()
    section = Section(
        ITEM,
        "commands against one AWS CLI call",
        ["case", "median", "min", "max", "ratio to the AWS CLI call", "calls per run"],
    )
    aws = median(times["aws"])
    for case in CASES:
        distinct = {_calls(c) for c in counts[case]}
        section.rows.append(
            [
                case,
                ms(median(times[case])),
                ms(min(times[case])),
                ms(max(times[case])),
                "1.00x" if case == "aws" else ratio(median(times[case]), aws),
                " / ".join(sorted(distinct)),
            ]
        )
    targets = {
        "status warm": WARM_TARGET,
        "status cold": COLD_TARGET,
        "list": NO_CALL_TARGET,
        "add": NO_CALL_TARGET,
        "remove": NO_CALL_TARGET,
    }
    for case, target in targets.items():
        value = median(times[case]) / aws
        section.check(
            f"`wmtui {case.replace(' ', ' --json, ', 1) if 'status' in case else case}` / one "
            "AWS CLI call",
            ratio(median(times[case]), aws),
            f"<= {target:g}x",
            value <= target,
            "" if value <= target else f"{ms(median(times[case]))} against {ms(aws)}",
        )
    for case, reference in (("status cold", cold_reference), ("status warm", warm_reference)):
        same = all(c == reference for c in counts[case])
        section.check(
            f"calls of `wmtui status` {case.split()[1]} = calls made names one organization "
            "at a time",
            _calls(counts[case][-1]),
            _calls(reference),
            same,
            "" if same else "the calls differ: " + " / ".join({_calls(c) for c in counts[case]}),
        )
    no_calls = all(not c for case in ("list", "add", "remove") for c in counts[case])
    section.check(
        "calls of `list`, `add`, `remove`", "none" if no_calls else "some", "none", no_calls
    )
    aws_calls = all(c == Counter({"DescribeMailboxExportJob": 1}) for c in counts["aws"])
    section.check(
        "the AWS CLI case made its one call",
        "yes" if aws_calls else "no",
        "one DescribeMailboxExportJob",
        aws_calls,
    )
    section.notes += [
        f"{JOBS:,} watched jobs in {ORGANIZATIONS} organizations, emulator latency "
        f"{options.latency_ms:g} ms per answer, {rounds} rounds; every case is a new process "
        "started by its real entry point (`.venv/bin/wmtui`, `.venv/bin/aws`).",
        "Cold: the job and names caches deleted before the run; warm: both as the previous "
        f"status left them ({len(cached):,} jobs in the job cache).",
        "The reference counts come from the same refresh and the names read one organization "
        "after another, in this process, against the same emulator.",
        f"The emulator's internal errors: {len(errors)}.",
    ]
    section.seconds = time.perf_counter() - began
    return section


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m benchmarks.commands [L]`: this item alone, printed."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    latency = float(arguments[0]) if arguments else 50.0
    section = run(Options(quick=False, latency_ms=latency, repeats=5), print)[0]
    for row in section.rows:
        print(" | ".join(row))
    for check in section.checks:
        print(
            ("met " if check.met else "NOT MET ")
            + f"{check.figure}: {check.value} ({check.target})"
        )
    return 0 if all(c.met for c in section.checks) else 1


if __name__ == "__main__":
    sys.exit(main())
