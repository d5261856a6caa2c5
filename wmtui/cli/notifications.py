"""The commands' side of notifications: the notifier for a backend, and its problems on stderr.

`status` tells the jobs its refresh saw end, `export-org` an export that finished, `verify`
an export whose object is not right; the policy (what an event is, once only, the time
limit) lives in wmtui.core.notify.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from wmtui.cli.output import PROG, note, plain
from wmtui.core.models import ExportJob, JobKey, Mailbox
from wmtui.core.notify import (
    Event,
    Notifier,
    export_finished_event,
    job_event,
    notify_state_path,
    problems,
    verification_event,
)

if TYPE_CHECKING:
    from wmtui.core.export import ExportProgress, OrgExport
    from wmtui.factory import Backend


def notifier_for(backend: Backend) -> Notifier:
    settings = backend.settings
    return Notifier(settings.notify_command, notify_state_path(settings.data_dir))


def profile_of(
    backend: Backend, region: str | None = None, organization_id: str | None = None
) -> str | None:
    """The profile acting for an organization (its own, with several profiles), else the run's."""
    router = backend.router
    if router is not None and region and organization_id:
        return router.profile_of(region, organization_id)
    profile = getattr(backend.service, "profile", None)
    return profile if isinstance(profile, str) else backend.settings.profile


def send_events(backend: Backend, events: Iterable[Event]) -> None:
    """Run the notify_command for each new event; each problem is one warning line."""
    wanted = list(events)
    if not wanted or not backend.settings.notify_command:
        return
    for problem in problems(notifier_for(backend).send(wanted)):
        note(f"{PROG}: warning: {plain(problem)}")


def job_events(
    backend: Backend,
    jobs: Iterable[ExportJob],
    name_of: Callable[[JobKey, ExportJob | None], Mailbox | None] | None = None,
) -> list[Event]:
    """The events of jobs that have just ended (COMPLETED, FAILED, CANCELLED)."""
    events: list[Event] = []
    for job in jobs:
        mailbox = name_of(job.key, job) if name_of is not None else None
        shown = (mailbox.email or mailbox.name) if mailbox is not None else None
        profile = profile_of(backend, job.key.region, job.key.organization_id)
        event = job_event(job, profile=profile, mailbox=shown)
        if event is not None:
            events.append(event)
    return events


def tell_export_finished(backend: Backend, export: OrgExport, progress: ExportProgress) -> None:
    """org_export_finished, once per export, when every mailbox is done, failed or skipped."""
    spec = export.spec
    profile = profile_of(backend, spec.region, spec.organization_id)
    event = export_finished_event(export, progress, profile=profile)
    if event is not None:
        send_events(backend, [event])


# What makes a verification an event: the export must be redone, or looks like it must.
_TOLD_OUTCOMES = frozenset({"MISSING", "EMPTY", "WRONG_KEY", "SUSPICIOUS"})


def tell_verifications(backend: Backend, checked: Iterable[ExportJob]) -> None:
    """verification_failed for each checked export whose object is not right (once per job
    and outcome); a check that could not be made is the command's error, not an event."""
    events = [
        verification_event(
            job,
            job.verification.outcome.value,
            job.verification.error,
            profile=profile_of(backend, job.key.region, job.key.organization_id),
        )
        for job in checked
        if job.verification is not None and job.verification.outcome.value in _TOLD_OUTCOMES
    ]
    send_events(backend, events)
