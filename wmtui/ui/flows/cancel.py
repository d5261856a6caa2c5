"""c: cancel the selected RUNNING export, after asking."""

from __future__ import annotations

import uuid
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text

from wmtui.core.models import JobKey, JobState
from wmtui.ui.flows.calls import call_service
from wmtui.ui.messages import ExportCancelled
from wmtui.ui.safe_text import safe_text, sanitize
from wmtui.ui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from wmtui.ui.screens.jobs import JobsScreen


class CancelFlow:
    def __init__(self, screen: JobsScreen) -> None:
        self.screen = screen

    def _why_not(self, key: JobKey) -> str | None:
        job = self.screen.board.jobs.get(key)
        job_id = sanitize(key.job_id)
        if job is None or job.last_seen is None:
            return f"Job {job_id} has not been read yet: r reads it, then c can cancel it."
        if job.state is not JobState.RUNNING:
            state = sanitize(job.raw_state or job.state.value)
            final = " and will not change again" if job.state.is_final else ""
            return f"Job {job_id} is {state}{final}: only a RUNNING export can be cancelled."
        return None

    def ask(self) -> None:
        screen = self.screen
        if screen.settings.read_only:
            screen.refuse_read_only("cancel_export")
            return
        key = screen.selected_key()
        if key is None:
            screen.notify("No job selected.", severity="warning", markup=False)
            return
        why_not = self._why_not(key)
        job = screen.board.jobs.get(key)
        if why_not is not None or job is None:
            screen.notify(why_not or "", severity="warning", markup=False)
            return
        question = Text("Cancel the export ")
        question.append(safe_text(key.job_id, style="bold"))
        question.append(" of ")
        question.append(safe_text(screen.name_for(key, job) or job.entity_id or "?", limit=60))
        if job.progress is not None:
            question.append(f" ({job.progress}% done)")
        question.append(
            "?\n\nWorkMail stops the export and the job ends CANCELLED. This cannot be undone:"
            " exporting the mailbox again is a new job."
        )
        screen.app.push_screen(
            ConfirmScreen("Cancel an export", question, yes_label="Cancel export"),
            partial(self._confirmed, key),
        )

    def _confirmed(self, key: JobKey, yes: bool | None) -> None:
        if not yes:
            return
        service = self.screen.service
        call_service(
            self.screen,
            lambda: service.cancel_job(key, client_token=str(uuid.uuid4())),
            lambda _, error: ExportCancelled(key, error),
            group="cancel",
            description="cancel an export",
        )

    def done(self, message: ExportCancelled) -> None:
        screen = self.screen
        key = message.key
        job_id = sanitize(key.job_id)
        if message.error is not None:
            screen.notify(
                f"Job {job_id} was not cancelled: {sanitize(str(message.error), limit=400)}",
                severity="error",
                markup=False,
                timeout=12,
            )
            return
        screen.notify(f"Cancelled job {job_id}.", markup=False)
        if screen.board.is_watched(key):
            # Read it now: the row shows CANCELLED without waiting for the next round.
            screen.start_refresh({key})
