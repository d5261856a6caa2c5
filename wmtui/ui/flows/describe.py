"""Describe on select: once the cursor rests on a job that List alone has read, Describe it.

List gives no ErrorInfo, S3 path or role; one Describe per job and session fills them in, and
only for the job a person is looking at (`r` lets it be asked again).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.timer import Timer

from wmtui.core.models import JobKey
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.ui.flows.calls import call_service
from wmtui.ui.messages import JobDescribed

if TYPE_CHECKING:
    from wmtui.ui.screens.jobs import JobsScreen


class DescribeOnSelect:
    def __init__(self, screen: JobsScreen) -> None:
        self.screen = screen
        # The keys already described this session (r forgets them).
        self._described: set[JobKey] = set()
        self._timer: Timer | None = None

    @property
    def pending(self) -> bool:
        """A Describe of the job under the cursor waits for the cursor to rest."""
        return self._timer is not None

    def forget(self) -> None:
        """r asks again: the job under the cursor may be described once more."""
        self._described.clear()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def schedule(self) -> None:
        """Start waiting for the cursor to rest on the selected job, if it needs a Describe."""
        self.stop()
        screen = self.screen
        key = screen.selected_key()
        if key is None or key in self._described or screen.closed:
            return
        job = screen.board.jobs.get(key)
        if job is None or job.last_seen is None or job.described:
            return
        delay = screen.context.describe_delay
        if delay <= 0:
            # Textual's timers divide by their interval: no wait is no timer.
            screen.call_later(self._rested_on, key)
            return
        self._timer = screen.set_timer(delay, partial(self._rested_on, key))

    def _rested_on(self, key: JobKey) -> None:
        self._timer = None
        screen = self.screen
        if screen.closed or screen.selected_key() != key or key in self._described:
            return
        self._described.add(key)
        service = screen.service

        def quietly(exc: Exception) -> ServiceError:
            # Quietly: the refresh reports what is really wrong.
            return ServiceError(ErrorKind.OTHER, str(exc))

        call_service(
            screen,
            lambda: service.describe_job(key),
            lambda job, error: JobDescribed(key, job=job, error=error),
            group="describe",
            description="describe a job",
            unexpected=quietly,
        )
