"""One refresh over several AWS profiles: each profile's jobs on their own, in parallel.

Each profile has its own credentials, so a problem that stops every call (no credentials, an
expired SSO login, access denied, the network) stops only that profile's calls: its
organizations carry the error (their jobs show it) and `profile_errors` names the profile for
the banner, while the other profiles' jobs are read as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime

from wmtui.core.models import ExportJob, JobKey
from wmtui.core.refresh import RefreshPlanner, RefreshResult, _unexpected
from wmtui.core.service import ExportService

# (label, the profile's service, its watched keys)
ProfileGroup = tuple[str, ExportService, list[JobKey]]


def refresh_by_profile(
    planner: RefreshPlanner,
    groups: Sequence[ProfileGroup],
    known: Mapping[JobKey, ExportJob],
    force: Collection[JobKey],
    *,
    max_workers: int,
    is_cancelled: Callable[[], bool],
) -> RefreshResult:
    """Every profile's tick at once (a daemon thread each, as the pool's); never raises."""
    futures: list[tuple[str, list[JobKey], Future[RefreshResult]]] = []
    for label, service, keys in groups:
        future: Future[RefreshResult] = Future()
        thread = threading.Thread(
            target=_run_one,
            args=(future, planner, service, keys, known, force, max_workers, is_cancelled),
            name=f"wmtui-refresh-{len(futures)}",
            daemon=True,
        )
        futures.append((label, keys, future))
        thread.start()
    parts: list[tuple[str, list[JobKey], RefreshResult]] = []
    for label, keys, future in futures:
        try:
            part = future.result()
        except Exception as exc:  # the planner never raises; this guards the UI all the same
            part = RefreshResult(global_error=_unexpected(exc, None))
        parts.append((label, keys, part))
    return merge_profile_results(parts, planner.now())


def _run_one(
    future: Future[RefreshResult],
    planner: RefreshPlanner,
    service: ExportService,
    keys: list[JobKey],
    known: Mapping[JobKey, ExportJob],
    force: Collection[JobKey],
    max_workers: int,
    is_cancelled: Callable[[], bool],
) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        plan = planner.plan(keys, known, force)
        result = planner.run(
            plan, service, keys, known, max_workers=max_workers, is_cancelled=is_cancelled
        )
    except BaseException as exc:
        future.set_exception(exc)
    else:
        future.set_result(result)


def merge_profile_results(
    parts: Sequence[tuple[str, Sequence[JobKey], RefreshResult]],
    finished_at: datetime | None = None,
) -> RefreshResult:
    """The profiles' results as one: a profile's connection-wide error becomes its own
    organizations' error and a `profile_errors` entry, never the whole result's."""
    merged = RefreshResult()
    for label, keys, part in parts:
        merged.jobs.update(part.jobs)
        merged.job_errors.update(part.job_errors)
        merged.org_errors.update(part.org_errors)
        merged.calls.update(part.calls)
        merged.cancelled = merged.cancelled or part.cancelled
        merged.profile_errors.update(part.profile_errors)
        error = part.global_error
        if error is not None:
            merged.profile_errors[label] = error
            for key in keys:
                merged.org_errors.setdefault((key.region, key.organization_id), error)
    if finished_at is not None:
        merged.finished_at = finished_at
    return merged
