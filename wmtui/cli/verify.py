"""`wmtui verify`: proof in S3 that each watched COMPLETED export's file is there and right.

Exit codes: 0 every checked export VERIFIED; 1 any is not (missing, empty, wrong key,
suspicious); 254 a check could not be made (access denied, throttled, unreachable); and the
usual 252/253 for a bad command line or configuration.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from wmtui.cli.errors import EXIT_BAD_PARAMETERS, EXIT_OK, EXIT_SERVICE, CliError
from wmtui.cli.jobs import learn_names, name_lookup, remember_jobs, several_profiles
from wmtui.cli.notifications import tell_verifications
from wmtui.cli.output import PROG, error_line, json_dump, note, plain, say, table_lines
from wmtui.core.display import compact_timestamp, iso_timestamp, mailbox_name
from wmtui.core.models import ExportJob, JobKey, JobState, validate_organization_id
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.core.verification import Outcome, Verification, human_size, is_checkable
from wmtui.factory import Backend

EXIT_NOT_VERIFIED = 1
# Describe calls in flight at once for jobs the cache cannot settle.
_DESCRIBE_WORKERS = 8


def add_verify_arguments(add_command: Any) -> None:
    """`verify` for the parser (the parser module stays the one place that lists commands)."""
    verify = add_command(
        "verify",
        help="prove each watched COMPLETED export is in S3 (HeadObject)",
        description="HeadObject on each watched COMPLETED export: VERIFIED when the object is "
        "there, not empty and encrypted (SSE-KMS) with the job's KMS key; else MISSING, EMPTY, "
        "WRONG_KEY, SUSPICIOUS (far smaller than its mailbox), FORBIDDEN (with the permission "
        "to add) or ERROR. Needs s3:GetObject on the export objects. Results are kept in the "
        "job cache. Exit codes: 0 all VERIFIED, 1 any not, 254 a check could not be made.",
    )
    verify.add_argument("organization_ids", metavar="ORG_ID", nargs="*")
    verify.add_argument("--all", action="store_true", help="every watched organization")
    verify.add_argument("--json", action="store_true", help="one JSON object per job")
    from wmtui.cli.fetch import add_fetch_arguments

    add_fetch_arguments(add_command)


def _wanted(args: argparse.Namespace, backend: Backend) -> list[JobKey]:
    organizations = [validate_organization_id(org) for org in args.organization_ids]
    if organizations and args.all:
        raise CliError(
            "give organization IDs or --all, not both", "drop one of them", EXIT_BAD_PARAMETERS
        )
    if not organizations and not args.all:
        raise CliError("which organizations?", "name ORG_IDs, or pass --all", EXIT_BAD_PARAMETERS)
    watched = backend.watchlist.load()
    if args.all:
        return watched
    chosen = set(organizations)
    return [key for key in watched if key.organization_id in chosen]


def _described(
    backend: Backend, keys: Sequence[JobKey], known: Mapping[JobKey, ExportJob]
) -> tuple[dict[JobKey, ExportJob], dict[JobKey, ServiceError]]:
    """Each job as far as verification needs it: COMPLETED with its KMS key. The cache settles
    a described final job; anything else is Described (in parallel)."""
    jobs: dict[JobKey, ExportJob] = {}
    to_read: list[JobKey] = []
    for key in keys:
        cached = known.get(key)
        if (
            cached is not None
            and cached.state.is_final
            and (cached.state is not JobState.COMPLETED or cached.kms_key_arn)
        ):
            jobs[key] = cached
        else:
            to_read.append(key)
    errors: dict[JobKey, ServiceError] = {}
    if not to_read:
        return jobs, errors
    with ThreadPoolExecutor(min(_DESCRIBE_WORKERS, len(to_read))) as pool:
        answers = {key: pool.submit(backend.service.describe_job, key) for key in to_read}
        for key, future in answers.items():
            try:
                fresh = future.result()
            except ServiceError as exc:
                if exc.kind.affects_all and exc.kind is not ErrorKind.THROTTLED:
                    raise
                errors[key] = exc
                continue
            cached = known.get(key)
            jobs[key] = cached.merged_with(fresh) if cached is not None else fresh
    return jobs, errors


def mailbox_sizes(backend: Backend, jobs: Sequence[ExportJob]) -> dict[JobKey, float]:
    """Each job's mailbox size (GetMailboxDetails, cached a day beside the job cache), so an
    export far smaller than its mailbox is flagged; a failure is a warning, never an exit."""
    from wmtui.core.mailbox_sizes import MailboxSizes

    store = MailboxSizes(backend.cache.path.with_name("mailbox-sizes.json"))
    by_org: dict[tuple[str, str], list[ExportJob]] = {}
    for job in jobs:
        if job.entity_id:
            by_org.setdefault((job.key.region, job.key.organization_id), []).append(job)
    sizes: dict[JobKey, float] = {}
    for (region, organization), org_jobs in by_org.items():
        found = store.lookup(
            backend.objects.mailbox_size_mb,
            region,
            organization,
            [job.entity_id for job in org_jobs if job.entity_id],
        )
        for job in org_jobs:
            size = found.get(job.entity_id or "")
            if size is not None:
                sizes[job.key] = size
    if store.last_problem:
        note(
            f"{PROG}: warning: mailbox sizes not read, so SUSPICIOUS is not judged: "
            f"{plain(store.last_problem)}"
        )
    return sizes


def _record(job: ExportJob, result: Verification, backend: Backend) -> dict[str, Any]:
    router = backend.router
    profile = router.profile_of(*_org(job)) if router is not None else None
    return {
        "JobId": job.job_id,
        "OrganizationId": job.key.organization_id,
        "Region": job.key.region,
        "S3Path": job.s3_path,
        "verification": result.outcome.value,
        "object_size": result.object_size,
        "etag": result.etag,
        "kms_key": result.kms_key,
        "checked_at": iso_timestamp(result.checked_at),
        "error": result.error,
        # The AWS profile whose credentials checked it (null: the default chain).
        "profile": profile,
    }


def _org(job: ExportJob) -> tuple[str, str]:
    return (job.key.region, job.key.organization_id)


def exit_code_for(results: Mapping[JobKey, Verification]) -> int:
    """254 when a check could not be made, else 1 when any export is not VERIFIED, else 0."""
    outcomes = {result.outcome for result in results.values()}
    if outcomes & {Outcome.ERROR, Outcome.FORBIDDEN}:
        return EXIT_SERVICE
    if outcomes - {Outcome.VERIFIED}:
        return EXIT_NOT_VERIFIED
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, backend: Backend) -> int:
    wanted = _wanted(args, backend)
    known = backend.cache.load()
    jobs, read_errors = _described(backend, wanted, known)
    checkable = [jobs[key] for key in wanted if key in jobs and is_checkable(jobs[key])]
    sizes = mailbox_sizes(backend, checkable)
    results = backend.objects.check_many(checkable, mailbox_sizes=sizes) if checkable else {}
    checked = [replace(job, verification=results[job.key]) for job in checkable]
    # Kept with each job: the app and `report` show them without checking again.
    problem = remember_jobs(backend, [*jobs.values(), *checked], set(wanted))
    tell_verifications(backend, checked)
    if problem:
        note(f"{PROG}: warning: {plain(problem)}")
    if args.json:
        say(json_dump([_record(job, results[job.key], backend) for job in checked]))
    else:
        _print_results(backend, checked, results)
    for key, error in read_errors.items():
        note(error_line(f"job {key} could not be read: {error.message}", error.fix))
    skipped = len(wanted) - len(checked) - len(read_errors)
    counts: dict[str, int] = {}
    for result in results.values():
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
    shown = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
    note(
        f"{len(checked)} export(s) checked"
        + (f": {shown}" if shown else "")
        + (f"; {skipped} not COMPLETED, not checked" if skipped else "")
        + "."
    )
    code = exit_code_for(results)
    if read_errors:
        code = max(code, max(error.exit_code for error in read_errors.values()))
    return code


def _print_results(
    backend: Backend, checked: Sequence[ExportJob], results: Mapping[JobKey, Verification]
) -> None:
    if not checked:
        note("No watched COMPLETED export to verify.")
        return
    wanted: dict[tuple[str, str], list[str]] = {}
    for job in checked:
        if job.entity_id:
            wanted.setdefault((job.key.region, job.key.organization_id), []).append(job.entity_id)
    learn_names(backend, wanted)
    name_of = name_lookup(backend)
    router = backend.router if several_profiles(backend, [job.key for job in checked]) else None
    rows = []
    for job in checked:
        result = results[job.key]
        name = mailbox_name(job, name_of(job.key, job))
        rows.append(
            [
                plain(job.job_id),
                plain(name) if name else "-",
                result.outcome.value,
                human_size(result.object_size) if result.object_size is not None else "-",
                compact_timestamp(result.checked_at),
                plain(result.error or ""),
            ]
        )
        if router is not None:
            rows[-1].insert(-1, plain(router.label_of(*_org(job))))
    header = ["JOB", "MAILBOX", "RESULT", "SIZE", "CHECKED", "DETAIL"]
    if router is not None:
        header.insert(-1, "PROFILE")  # several accounts: whose credentials checked it
    for line in table_lines(header, rows):
        say(line)
