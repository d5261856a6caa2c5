"""The app's side of notifications: events handed to the notify_command in a thread worker.

What an event is and the once-only rule live in wmtui.core.notify; here the jobs screen's
board changes and a finished organization export become events, sent off the event loop so
a slow or hanging program never holds up the screen. A problem is one warning toast.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from wmtui.core.models import ExportJob
from wmtui.core.notify import (
    Event,
    Notifier,
    export_finished_event,
    job_event,
    notify_state_path,
    problems,
)
from wmtui.core.profiles import ProfileRouter
from wmtui.core.settings import Settings
from wmtui.ui.safe_text import sanitize

if TYPE_CHECKING:
    from textual.app import App

    from wmtui.core.export import ExportProgress, OrgExport
    from wmtui.core.service import ExportService
    from wmtui.ui.screens.jobs import JobsScreen

NOTIFY_GROUP = "notify"


def profile_of(
    service: ExportService,
    settings: Settings,
    region: str | None = None,
    organization_id: str | None = None,
) -> str | None:
    """The profile acting for an organization (its own, with several profiles), else the app's."""
    if isinstance(service, ProfileRouter) and region and organization_id:
        return service.profile_of(region, organization_id)
    profile = getattr(service, "profile", None)
    return profile if isinstance(profile, str) else settings.profile


def _deliver(app: App[Any], settings: Settings, events: Sequence[Event]) -> None:
    """In a worker thread: run the program for each event; each problem one warning toast."""
    notifier = Notifier(settings.notify_command, notify_state_path(settings.data_dir))
    for problem in problems(notifier.send(events)):
        # RuntimeError: the app ended while the program ran; nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            app.call_from_thread(
                app.notify, sanitize(problem, limit=300), severity="warning", markup=False
            )


def send_job_events(screen: JobsScreen, jobs: Iterable[ExportJob]) -> None:
    """job_completed, job_failed, job_cancelled for jobs the board saw end."""
    settings = screen.settings
    if not settings.notify_command:
        return
    names = screen.context.names
    events: list[Event] = []
    for job in jobs:
        mailbox = None
        if job.entity_id:
            known = names.lookup(job.key.region, job.key.organization_id, job.entity_id)
            mailbox = (known.email or known.name) if known is not None else None
        profile = profile_of(screen.service, settings, job.key.region, job.key.organization_id)
        event = job_event(job, profile=profile, mailbox=mailbox)
        if event is not None:
            events.append(event)
    if events:
        app = screen.app
        app.run_worker(
            lambda: _deliver(app, settings, events),
            thread=True,
            group=NOTIFY_GROUP,
            exit_on_error=False,
        )


def export_finished_notifier(
    app: App[Any], service: ExportService, settings: Settings
) -> Callable[[OrgExport, ExportProgress], None] | None:
    """What the organization export's worker calls (in its thread) when it has finished."""
    if not settings.notify_command:
        return None

    def finished(export: OrgExport, progress: ExportProgress) -> None:
        spec = export.spec
        profile = profile_of(service, settings, spec.region, spec.organization_id)
        event = export_finished_event(export, progress, profile=profile)
        if event is not None:
            _deliver(app, settings, [event])

    return finished
