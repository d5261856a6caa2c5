"""`wmtui status`: every watched job refreshed once, printed as a table or JSON.

The rules are core's, shared with the app: `RefreshPlanner` decides the calls, a `JobBoard`
folds the result in and says which error each job shows, and a `NameLearner` reads mailbox names
for every organization in parallel. With names not yet known (an empty names cache), the
organizations' mailbox lists are read while the jobs are, not after them: the same calls, less
time. Nothing here imports more than the command uses (boto3 loads on the first call).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from wmtui.cli.errors import EXIT_OK
from wmtui.cli.jobs import (
    NameOf,
    OwnerOf,
    name_lookup,
    owner_lookup,
    print_jobs_table,
    profile_fields,
    warn_names_problem,
)
from wmtui.cli.output import PROG, error_line, error_object, job_record, json_dump, note, plain, say
from wmtui.core.board import JobBoard, OrgKey
from wmtui.core.display import iso_timestamp
from wmtui.core.models import ExportJob, JobKey
from wmtui.core.name_learning import NameLearner, NamesOutcome
from wmtui.core.refresh import RefreshPlanner, RefreshResult
from wmtui.core.service import ServiceError
from wmtui.factory import Backend

_T = TypeVar("_T")


@dataclass
class StatusReport:
    watched: list[JobKey]
    jobs: dict[JobKey, ExportJob]
    fresh: set[JobKey]
    job_errors: dict[JobKey, ServiceError]
    other_errors: list[dict[str, Any]]
    shown_errors: list[str]
    calls: dict[str, int]
    finished_at: datetime
    exit_code: int
    # Where reading failed: no point asking those for names as well.
    all_failed: bool = False
    failed_orgs: frozenset[OrgKey] = frozenset()
    # Jobs this refresh saw end (RUNNING in the cache, final now): for notifications.
    ended: tuple[ExportJob, ...] = ()
    # Names problems found while the jobs were read, said once the refresh has said its own.
    early_names: NamesOutcome = field(default_factory=NamesOutcome)


def refresh_once(backend: Backend, learner: NameLearner) -> StatusReport:
    """Read what can have changed (the planner's normal plan: RUNNING and never-seen jobs;
    final ones come from the cache), save it, and fold it into a board."""
    watched = backend.watchlist.load()
    known = backend.cache.load()
    if not watched:
        return StatusReport(watched, dict(known), set(), {}, [], [], {}, datetime.now(UTC), 0)
    if backend.cache.last_problem:
        note(f"{PROG}: warning: {plain(backend.cache.last_problem)}")
    board = JobBoard()
    board.set_watched(watched)
    board.jobs.update((key, known[key]) for key in watched if key in known)
    stale = _orgs_without_names(backend, watched)
    early: Future[NamesOutcome] | None = None
    if stale:
        # The mailbox lists do not depend on the jobs: read them while the jobs are read.
        early = _in_daemon_thread(learner.learn, backend.service, dict.fromkeys(stale, ()))
    result = RefreshPlanner().refresh(backend.service, watched, known)
    board.apply(result)
    merged = result.applied_to(known)
    if not backend.cache.save(merged) and backend.cache.last_problem:
        note(f"{PROG}: warning: {plain(backend.cache.last_problem)}")
    names = early.result() if early is not None else NamesOutcome()
    return _report(watched, known, merged, board, result, names)


def _in_daemon_thread(function: Callable[..., _T], *args: Any) -> Future[_T]:
    """`function(*args)` on a daemon thread: a call hung on a dead network must not hold up
    the exit after Ctrl+C (ThreadPoolExecutor's threads would)."""
    future: Future[_T] = Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(function(*args))
            except BaseException as exc:
                future.set_exception(exc)

    threading.Thread(target=run, name="wmtui-names-early", daemon=True).start()
    return future


def _orgs_without_names(backend: Backend, watched: list[JobKey]) -> list[OrgKey]:
    names = backend.names
    orgs = dict.fromkeys((key.region, key.organization_id) for key in watched)
    return [org for org in orgs if not names.is_fresh(*org)]


def _report(
    watched: list[JobKey],
    known: Mapping[JobKey, ExportJob],
    merged: dict[JobKey, ExportJob],
    board: JobBoard,
    result: RefreshResult,
    early: NamesOutcome,
) -> StatusReport:
    fresh = set(result.jobs)
    other_errors: list[dict[str, Any]] = []
    shown: list[str] = []
    codes: list[int] = []
    if result.global_error is not None:
        error = result.global_error
        codes.append(error.exit_code)
        other_errors.append({"scope": "all", **error_object(error)})
        shown.append(error_line(error.message, error.fix))
    # A profile's own connection-wide error, said once for the profile, not per organization.
    profile_wide = {id(error) for error in result.profile_errors.values()}
    for label, error in sorted(result.profile_errors.items()):
        codes.append(error.exit_code)
        other_errors.append({"scope": "profile", "profile": label, **error_object(error)})
        # Said with the profile's name, unless the message names it already.
        named = f"profile {label}" in error.message
        said = error.message if named else f"profile {label}: {error.message}"
        shown.append(error_line(said, error.fix))
    for (region, organization), error in sorted(result.org_errors.items()):
        if id(error) in profile_wide:
            continue
        codes.append(error.exit_code)
        other_errors.append(
            {
                "scope": "organization",
                "region": region,
                "organization_id": organization,
                **error_object(error),
            }
        )
        shown.append(error_line(f"{organization} ({region}): {error.message}", error.fix))
    for key, error in sorted(result.job_errors.items()):
        codes.append(error.exit_code)
        other_errors.append({"scope": "job", **key.to_dict(), **error_object(error)})
        shown.append(error_line(f"job {key}: {error.message}", error.fix))
    return StatusReport(
        watched=watched,
        jobs=merged,
        fresh=fresh,
        job_errors=board.unread_errors(fresh),
        other_errors=other_errors,
        shown_errors=shown,
        calls=dict(result.calls),
        finished_at=result.finished_at,
        exit_code=max(codes, default=EXIT_OK),
        all_failed=result.global_error is not None,
        failed_orgs=frozenset(result.org_errors),
        ended=tuple(
            merged.get(k, job) for k, job in result.jobs.items() if _ended(known.get(k), job)
        ),
        early_names=early,
    )


def _ended(old: ExportJob | None, new: ExportJob) -> bool:
    from wmtui.core.notify import ended

    return ended(old, new)


def learn_names(backend: Backend, learner: NameLearner, report: StatusReport) -> None:
    """Who the watched mailboxes are, every organization at once. Names are a nicety: a failure
    is a warning (the first problem that affects every call is said once), never an exit code."""
    if not report.watched or report.all_failed:
        return
    wanted: dict[OrgKey, list[str]] = {}
    for key in report.watched:
        job = report.jobs.get(key)
        if job is not None and job.entity_id:
            wanted.setdefault((key.region, key.organization_id), []).append(job.entity_id)
    skip = report.failed_orgs
    outcome = learner.learn(backend.service, wanted, skip=skip) if wanted else NamesOutcome()
    failures = {**report.early_names.failures, **outcome.failures}
    router = backend.router
    # A problem with a profile's credentials is said once, not for each of its organizations.
    failed_profiles: set[str] = set()
    for org in wanted:
        error = failures.get(org)
        label = router.label_of(*org) if router is not None else ""
        if error is None or org in skip or label in failed_profiles:
            continue
        said = error.message if isinstance(error, ServiceError) else str(error)
        note(
            f"{PROG}: warning: mailbox names of {org[1]} ({org[0]}) could not be read, "
            f"showing IDs: {plain(said)}"
        )
        if isinstance(error, ServiceError) and error.kind.affects_all:
            failed_profiles.add(label)
    warn_names_problem(backend)


def cmd_status(args: argparse.Namespace, backend: Backend) -> int:
    learner = NameLearner(backend.names)
    report = refresh_once(backend, learner)
    learn_names(backend, learner, report)
    name_of = name_lookup(backend)
    # With several profiles: who each organization's account is (STS, once per profile).
    owner_of = owner_lookup(backend, report.watched, ask=True)
    if report.ended:
        from wmtui.cli.notifications import job_events, send_events

        send_events(backend, job_events(backend, report.ended, name_of))
    if args.json:
        _print_json(report, name_of, backend)
    elif not report.watched:
        note("No jobs are watched. Add one with: wmtui add ORG_ID JOB_ID")
    else:
        _print_table(report, name_of, owner_of)
    for line in report.shown_errors:
        note(line)
    return report.exit_code


def _print_json(report: StatusReport, name_of: NameOf, backend: Backend) -> None:
    jobs = []
    for key in report.watched:
        record = job_record(key, report.jobs.get(key), name_of(key, report.jobs.get(key)))
        record["fresh"] = key in report.fresh
        error = report.job_errors.get(key)
        record["error"] = error_object(error) if error else None
        record.update(profile_fields(backend, key))
        jobs.append(record)
    say(
        json_dump(
            {
                "jobs": jobs,
                "errors": report.other_errors,
                "refreshed_at": iso_timestamp(report.finished_at),
                "calls": report.calls,
            }
        )
    )


def _print_table(report: StatusReport, name_of: NameOf, owner_of: OwnerOf | None) -> None:
    print_jobs_table(
        report.watched,
        report.jobs,
        name_of=name_of,
        fresh=report.fresh,
        failed=report.job_errors,
        owner_of=owner_of,
    )
    say()
    cached = sum(
        1
        for key in report.watched
        if key not in report.fresh and key in report.jobs and key not in report.job_errors
    )
    calls = sum(report.calls.values())
    summary = f"{len(report.fresh)} read now ({calls} call{'s' if calls != 1 else ''})"
    if cached:
        summary += f", {cached} final from the cache (final states never change)"
    if report.job_errors:
        summary += f", {len(report.job_errors)} could not be read (!)"
    say(summary + ".")
