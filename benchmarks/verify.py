"""Item 6: verifying 1,000 COMPLETED exports in S3 (HeadObject each), at the emulator's latency L.

wmtui's parallel check (`Boto3ExportObjects.check_many`, a thread pool over one boto3 client)
against a loop of `aws s3api head-object`, one process per object (timed on a small sample and
extrapolated). The emulator's S3 runs in a process of its own, as S3 does not share the
client's CPU:

    python -m benchmarks.verify --serve JOBS --latency-ms L

builds the jobs, prints {"endpoint_url": ...} and serves until its stdin closes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Set
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.common import (
    BENCH_CREDENTIALS,
    Options,
    Section,
    isolated_aws_environ,
    load_average,
    median,
    ms,
    ratio,
)

ITEM = 6
JOBS = 1_000
TARGET_SECONDS = 2.0
AWSCLI_SAMPLE = 10
REGION = "us-east-1"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/bench-0000"
ROOT = Path(__file__).resolve().parent.parent


def _build_state(jobs: int) -> object:
    from wmtui.emulator.state import EmulatorClock, EmulatorState

    state = EmulatorState(clock=EmulatorClock(manual=True), seed=11)
    org = state.add_organization("bench", region=REGION)
    for index in range(jobs):
        entity = state.add_mailbox(org, f"user{index:05d}")
        state.add_job(
            org,
            entity,
            state="COMPLETED",
            started_ago=timedelta(days=1),
            duration=timedelta(minutes=10),
            kms_key_arn=KMS_KEY,
            s3_bucket="bench-exports",
            s3_prefix="wm",
        )
    return state


def _serve(jobs: int, latency_ms: float) -> int:
    from wmtui.emulator.s3 import S3Server

    state = _build_state(jobs)
    server = S3Server(state, latency=lambda: latency_ms).start()  # type: ignore[arg-type]
    print(json.dumps({"endpoint_url": server.endpoint_url}), flush=True)
    sys.stdin.read()  # until the benchmark closes it
    server.stop()
    return 0


def _export_jobs(jobs: int) -> list[object]:
    """The same jobs as the child serves, as wmtui reads them (COMPLETED, described)."""
    from wmtui.core.models import ExportJob, JobKey, JobState

    state = _build_state(jobs)
    org = state.organization_ids[0]  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    return [
        ExportJob(
            key=JobKey(REGION, org, job.job_id),
            state=JobState.COMPLETED,
            entity_id=job.entity_id,
            kms_key_arn=job.kms_key_arn,
            s3_bucket_name=job.s3_bucket_name,
            s3_path=job.s3_path,
            last_seen=now,
            described=True,
        )
        for job in state.jobs(org)  # type: ignore[attr-defined]
    ]


def _awscli_loop(endpoint: str, jobs: list[object], sample: int, home: Path) -> list[float]:
    env = isolated_aws_environ(home)
    times: list[float] = []
    for job in jobs[:sample]:
        command = [
            sys.executable,
            "-m",
            "awscli",
            "s3api",
            "head-object",
            "--bucket",
            job.s3_bucket_name,  # type: ignore[attr-defined]
            "--key",
            job.s3_path,  # type: ignore[attr-defined]
            "--endpoint-url",
            endpoint,
            "--region",
            REGION,
        ]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, timeout=120, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"aws s3api head-object failed: {done.stderr[-300:]!r}")
    return times


def _why_not(wall: float, outcomes: Set[object], cpu: float) -> str:
    from wmtui.core.verification import Outcome

    if outcomes != {Outcome.VERIFIED}:
        return f"outcomes {sorted(str(o) for o in outcomes)}"
    if wall < TARGET_SECONDS:
        return ""
    return (
        f"bound by the client's CPU ({cpu * 1000 / JOBS:.1f} ms a HeadObject in botocore, one "
        f"core under the GIL); load average {load_average()} on this machine during the run"
    )


def run(options: Options, log: Callable[[str], None]) -> list[Section]:
    from wmtui.aws.s3 import Boto3ExportObjects
    from wmtui.core.verification import Outcome

    section = Section(
        ITEM,
        f"verifying {JOBS:,} completed exports in S3 (HeadObject)",
        ["method", "calls", "wall time (median)", "first repetition", "per export", "vs warm"],
    )
    jobs = _export_jobs(JOBS)
    with tempfile.TemporaryDirectory(prefix="wmtui-bench-s3-") as home:
        env = isolated_aws_environ(Path(home) / "child")
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.verify",
                "--serve",
                str(JOBS),
                "--latency-ms",
                str(options.latency_ms),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            endpoint = json.loads(child.stdout.readline())["endpoint_url"]
            times: list[float] = []
            cold: list[float] = []
            cpu_times: list[float] = []
            outcomes: set[Outcome] = set()
            for _ in range(options.repeats):
                started = time.perf_counter()
                store = Boto3ExportObjects(
                    region=REGION, s3_endpoint_url=endpoint, credentials=BENCH_CREDENTIALS
                )
                results = store.check_many(jobs)  # type: ignore[arg-type]
                cold.append(time.perf_counter() - started)
                # Warm: the same client again, as the app and a long CLI run have it.
                started, cpu_started = time.perf_counter(), time.process_time()
                results = store.check_many(jobs)  # type: ignore[arg-type]
                times.append(time.perf_counter() - started)
                cpu_times.append(time.process_time() - cpu_started)
                outcomes |= {result.outcome for result in results.values()}
            log(f"  wmtui: {JOBS} checks, median {ms(median(times))} ({store.workers} at once)")
            cli: list[float] = []
            sample = 3 if options.quick else AWSCLI_SAMPLE
            if importlib.util.find_spec("awscli") is not None:
                cli = _awscli_loop(endpoint, jobs, sample, Path(home) / "cli")
                log(f"  aws cli: {sample} calls, median {ms(median(cli))} each")
        finally:
            if child.stdin is not None:
                child.stdin.close()
            child.wait(timeout=30)
    wall = median(times)
    cpu = median(cpu_times)
    section.rows.append(
        [
            f"wmtui check_many ({store.workers} threads, one client, warm)",
            f"{JOBS:,} HeadObject",
            ms(wall),
            ms(times[0]),
            ms(wall / JOBS),
            "1x",
        ]
    )
    section.rows.append(
        [
            "the same with a new client (botocore loads S3's model first)",
            f"{JOBS:,} HeadObject",
            ms(median(cold)),
            ms(cold[0]),
            ms(median(cold) / JOBS),
            ratio(median(cold), wall),
        ]
    )
    if cli:
        loop = median(cli) * JOBS
        section.rows.append(
            [
                "loop of `aws s3api head-object` (extrapolated)",
                f"{JOBS:,} processes",
                ms(loop),
                "-",
                ms(median(cli)),
                ratio(loop, wall),
            ]
        )
    section.check(
        f"verify {JOBS:,} completed exports at L={options.latency_ms:g} ms",
        ms(wall),
        f"< {TARGET_SECONDS:g} s",
        wall < TARGET_SECONDS and outcomes == {Outcome.VERIFIED},
        _why_not(wall, outcomes, cpu),
    )
    section.notes.append(
        "The emulator's S3 serves from a process of its own; each HeadObject waits L before it "
        "answers. wmtui's figures are a whole `check_many` (judging included): warm with a client "
        "that has already checked them once (the app's steady state), and cold with a new one "
        f"(a CLI run); the AWS CLI loop is {len(cli)} timed calls times {JOBS:,}. The client's "
        "CPU (botocore's per-call work, about 1.5 ms a HeadObject here) is what bounds it."
    )
    return [section]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    sys.exit(_serve(args.serve, args.latency_ms))
