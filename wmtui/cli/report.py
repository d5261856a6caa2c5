"""`wmtui report`: the migration record of an organization, from saved exports and fresh reads."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from wmtui.cli.arguments import resolve_region
from wmtui.cli.errors import EXIT_OK
from wmtui.cli.jobs import learn_names, remember_jobs, warn_names_problem
from wmtui.cli.output import PROG, error_line, note, plain
from wmtui.core.models import ExportJob, JobKey, JobState, validate_organization_id
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.core.watchlist import WatchListError
from wmtui.factory import Backend

if TYPE_CHECKING:
    from wmtui.core.export import ExportSnapshot
    from wmtui.core.report import ReportFormat


def _organization_exports(data_dir: Path, region: str, organization: str) -> list[ExportSnapshot]:
    """The saved exports of the organization; a file that cannot be read is named on stderr."""
    from wmtui.core.export import ExportStateError, find_exports, read_export_state
    from wmtui.core.locations import exports_dir

    found = find_exports(data_dir, region=region, organization_id=organization)
    read = {snapshot.path for snapshot in found}
    try:
        paths = sorted(exports_dir(data_dir).glob("*.json"))
    except OSError:
        paths = []
    for path in paths:
        if path in read:
            continue
        try:
            read_export_state(path)
        except ExportStateError as exc:
            note(f"{PROG}: warning: left out of the report: {plain(str(exc))}")
    return found


def _read_jobs_for_report(
    backend: Backend,
    region: str,
    organization: str,
    wanted: Iterable[JobKey],
    known: Mapping[JobKey, ExportJob],
    settled: set[JobKey],
) -> dict[JobKey, ExportJob]:
    """ListMailboxExportJobs (last seven days), then Describe what the list cannot say: a
    wanted job older than seven days that is not known to be final, and a FAILED job whose
    ErrorInfo is not known (List leaves it out). Raises ServiceError."""
    service = backend.service
    fresh = {job.key: job for job in service.list_jobs(region, organization)}
    to_describe: list[JobKey] = []
    for key in dict.fromkeys(wanted):
        cached = known.get(key)
        if key in fresh or key in settled or (cached is not None and cached.state.is_final):
            continue
        to_describe.append(key)
    for key, job in fresh.items():
        cached = known.get(key)
        if (
            job.state is JobState.FAILED
            and not job.error_info
            and not (cached is not None and cached.error_info)
            and key not in settled
        ):
            to_describe.append(key)
    for key in to_describe:
        try:
            described = service.describe_job(key)
        except ServiceError as exc:
            if exc.kind is ErrorKind.JOB_NOT_FOUND:
                note(
                    f"{PROG}: warning: job {plain(key.job_id)} was not found: {plain(exc.message)}"
                )
                continue
            raise
        fresh[key] = fresh[key].merged_with(described) if key in fresh else described
    return fresh


def _owner(
    backend: Backend, region: str, organization: str, *, ask: bool
) -> tuple[str | None, str | None]:
    """The organization's profile (None: the default chain) and account ID (STS, when `ask`)."""
    router = backend.router
    if router is None:
        return None, None
    profile = router.profile_of(region, organization)
    return profile, router.learn_account(profile) if ask else None


def cmd_report(args: argparse.Namespace, backend: Backend) -> int:
    from wmtui.core.export import MailboxStatus
    from wmtui.core.report import build_report, write_report

    organization = validate_organization_id(args.organization_id)
    region = resolve_region(backend, organization)
    snapshots = _organization_exports(backend.settings.data_dir, region, organization)
    try:
        watched = [
            key
            for key in backend.watchlist.load()
            if (key.region, key.organization_id) == (region, organization)
        ]
    except WatchListError as exc:
        note(f"{PROG}: warning: the watch list is left out: {plain(str(exc))}")
        watched = []
    known = backend.cache.load()
    # Jobs an export recorded as final need no call; its file says how they ended.
    settled: set[JobKey] = set()
    from_exports: list[JobKey] = []
    for snapshot in snapshots:
        for record in snapshot.records:
            if not record.job_id:
                continue
            key = JobKey(region, organization, record.job_id)
            from_exports.append(key)
            if record.status in (MailboxStatus.COMPLETED, MailboxStatus.FAILED) and (
                record.job_state in ("COMPLETED", "FAILED", "CANCELLED")
            ):
                settled.add(key)

    error: ServiceError | None = None
    fresh: dict[JobKey, ExportJob] = {}
    try:
        fresh = _read_jobs_for_report(
            backend, region, organization, [*watched, *from_exports], known, settled
        )
    except ServiceError as exc:
        error = exc
        note(error_line(f"jobs not read now, the report uses saved states: {exc.message}", exc.fix))

    problem = remember_jobs(backend, fresh.values(), set(watched))
    if problem:
        note(f"{PROG}: warning: {plain(problem)}")
    cached = [known[key] for key in watched if key in known]
    if error is None or not error.kind.affects_all:
        entity_ids = {job.entity_id for job in [*cached, *fresh.values()] if job.entity_id}
        learn_names(backend, {(region, organization): sorted(entity_ids)})
    else:
        warn_names_problem(backend)
    rows = build_report([*snapshots, *cached, *fresh.values()], backend.names)
    profile, account = _owner(backend, region, organization, ask=error is None)
    for row in rows:
        row["Profile"], row["Account"] = profile, account

    fmt: ReportFormat = "json" if args.format == "json" else "csv"
    if args.output and args.output != "-":
        import io

        from wmtui.core.locations import write_private_file

        buffer = io.StringIO()
        write_report(rows, fmt, buffer)
        target = Path(args.output)
        write_private_file(target, buffer.getvalue().encode("utf-8"))
        where = f"written to {target}"
    else:
        write_report(rows, fmt, sys.stdout)
        where = "written"
    states: dict[str, int] = {}
    for row in rows:
        state = row.get("State") or "-"
        states[state] = states.get(state, 0) + 1
    counts = ", ".join(f"{count} {plain(state)}" for state, count in sorted(states.items()))
    note(f"{len(rows)} row(s) {where}" + (f": {counts}" if counts else "") + ".")
    return error.exit_code if error is not None else EXIT_OK
