"""`wmtui fetch`: download export files from S3, resumably, checked, never overwriting.

    wmtui fetch ORG JOB [-o DIR]              one job's export
    wmtui fetch ORG --all-verified -o DIR     every watched export of ORG last VERIFIED

Each file lands in DIR as `<JobId>.zip` (the S3 key never decides a path). Exit codes: 0 every
file there (fetched now or already), 1 an export is not in S3 as it should be, 254 S3 refused
or failed, 255 a local problem (a file in the way, a full disk: the `.part` is kept).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from wmtui.cli.arguments import resolve_region
from wmtui.cli.errors import EXIT_BAD_PARAMETERS, EXIT_OK, EXIT_OTHER, CliError
from wmtui.cli.output import error_line, note, plain
from wmtui.core.display import precise_span
from wmtui.core.fetching import LocalFileError
from wmtui.core.models import (
    ExportJob,
    JobKey,
    JobState,
    now_utc,
    validate_job_id,
    validate_organization_id,
)
from wmtui.core.service import ServiceError
from wmtui.core.verification import Outcome, human_size, judge
from wmtui.factory import Backend

EXIT_NOT_THERE = 1


def add_fetch_arguments(add_command: Any) -> None:
    fetch = add_command(
        "fetch",
        help="download export files from S3 (resumable, checked, never overwriting)",
        description="Download export .zip files with boto3's transfer manager (multipart, "
        "parallel) into DIR as <JobId>.zip. An interrupted download leaves <JobId>.zip.part, "
        "which the next run continues; a finished file is checked against the object's size "
        "and ETag, and an existing file is never overwritten. Needs s3:GetObject on the "
        "objects and kms:Decrypt on the export KMS key.",
    )
    fetch.add_argument("organization_id", metavar="ORG_ID")
    fetch.add_argument("job_id", metavar="JOB_ID", nargs="?")
    fetch.add_argument(
        "--all-verified",
        action="store_true",
        help="every watched export of ORG_ID whose last verification is VERIFIED",
    )
    fetch.add_argument(
        "-o", "--output-dir", type=Path, default=Path("."), metavar="DIR", help="default: ."
    )


class _ProgressBar:
    """One line on a terminal: percent, bytes, rate, ETA. Silent when stderr is not one."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()
        self.started = time.monotonic()
        self.first: int | None = None
        self.last_drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.first is None:
            self.first = done
        if now - self.last_drawn < 0.2 and done < total:
            return
        self.last_drawn = now
        elapsed = max(now - self.started, 1e-6)
        rate = (done - self.first) / elapsed
        eta = precise_span((total - done) / rate) if rate > 0 else "?"
        percent = 100 * done // total if total else 100
        sys.stderr.write(
            f"\r{self.label}: {percent:3d}% {human_size(done)} of {human_size(total)}  "
            f"{human_size(int(rate))}/s  ETA {eta}   "
        )
        sys.stderr.flush()

    def end(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _jobs_to_fetch(args: argparse.Namespace, backend: Backend) -> list[ExportJob]:
    organization = validate_organization_id(args.organization_id)
    if bool(args.job_id) == bool(args.all_verified):
        raise CliError(
            "name one JOB_ID or pass --all-verified",
            "see `wmtui fetch --help`",
            EXIT_BAD_PARAMETERS,
        )
    region = resolve_region(backend)
    known = backend.cache.load()
    if args.job_id:
        key = JobKey(region, organization, validate_job_id(args.job_id))
        cached = known.get(key)
        if cached is None or cached.state is not JobState.COMPLETED or not cached.kms_key_arn:
            fresh = backend.service.describe_job(key)
            cached = cached.merged_with(fresh) if cached is not None else fresh
        if cached.state is not JobState.COMPLETED:
            raise CliError(
                f"job {key.job_id} is {cached.state.value}, not COMPLETED: there is no file yet",
                "wait for the export to complete",
                EXIT_NOT_THERE,
            )
        return [cached]
    watched = set(backend.watchlist.load())
    return [
        job
        for key, job in known.items()
        if key in watched
        and key.organization_id == organization
        and job.verification is not None
        and job.verification.outcome is Outcome.VERIFIED
    ]


def cmd_fetch(args: argparse.Namespace, backend: Backend) -> int:
    jobs = _jobs_to_fetch(args, backend)
    if not jobs:
        note("No watched export of this organization is VERIFIED: run `wmtui verify` first.")
        return EXIT_OK
    folder: Path = args.output_dir
    folder.mkdir(parents=True, exist_ok=True)
    codes: list[int] = []
    for job in jobs:
        codes.append(_fetch_one(backend, job, folder))
    return max(codes, default=EXIT_OK)


def _fetch_one(backend: Backend, job: ExportJob, folder: Path) -> int:
    label = plain(job.job_id)
    try:
        facts = backend.objects.head_object(job)
    except ServiceError as exc:
        note(error_line(f"{label}: {exc.message}", exc.fix))
        return exc.exit_code
    verdict = judge(job, facts, checked_at=now_utc())
    if facts is None or verdict.outcome is Outcome.EMPTY:
        note(error_line(f"{label}: {verdict.summary}", "start the export again"))
        return EXIT_NOT_THERE
    if verdict.outcome is Outcome.WRONG_KEY:
        note(f"wmtui: warning: {label}: {plain(verdict.summary)}")
    bar = _ProgressBar(label)
    try:
        result = backend.objects.download(job, folder, facts, progress=bar)
    except LocalFileError as exc:
        bar.end()
        note(error_line(f"{label}: {exc}"))
        return EXIT_OTHER
    except ServiceError as exc:
        bar.end()
        note(error_line(f"{label}: {exc.message}", exc.fix))
        return exc.exit_code
    bar.end()
    if result.already_there:
        note(f"{label}: {result.path} is already there ({human_size(result.size)}), not fetched")
    elif result.resumed_from:
        note(
            f"{label}: {result.path} ({human_size(result.size)}), continued from "
            f"{human_size(result.resumed_from)}"
        )
    else:
        note(f"{label}: {result.path} ({human_size(result.size)})")
    return EXIT_OK
