"""The background refresh: one at a time, the next scheduled when the last has finished.

dolphie's WorkerManager habit: slow calls never pile up, because the timer for the next round is
set only when a round's result is in. The round runs in a thread worker (the refresh plan over
the service, then who the mailboxes are) and posts `RefreshFinished` and `NamesLearned`; the
screen folds them in on the UI thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta

from textual.timer import Timer
from textual.widget import Widget
from textual.worker import get_current_worker

from wmtui.core.board import JobBoard, OrgKey, wanted_names
from wmtui.core.models import ExportJob, JobKey
from wmtui.core.name_learning import NameLearner, NamesOutcome
from wmtui.core.profiles import ProfileRouter
from wmtui.core.refresh import RefreshPlanner, RefreshResult
from wmtui.core.service import ErrorKind, ExportService, ServiceError
from wmtui.ui.messages import NamesLearned, RefreshFinished
from wmtui.ui.widgets.job_table import JobTable


def names_message(
    learner: NameLearner, outcome: NamesOutcome, *, force: OrgKey | None = None
) -> NamesLearned | None:
    """What a round of name learning has to tell the UI thread; None when nothing new."""
    problems: list[str] = []
    for (_, organization_id), exc in outcome.failures.items():
        detail = str(exc) if isinstance(exc, ServiceError) else f"{type(exc).__name__}: {exc}"
        problems.append(
            f"Mailbox names of {organization_id} could not be read: {detail}."
            " Showing mailbox IDs; N tries again."
        )
    if outcome.cache_problem:
        problems.append(outcome.cache_problem)
    news = learner.news(outcome.names)
    if not news and not problems and force is None:
        return None  # the usual round: nothing new, nothing for the UI thread to do
    return NamesLearned(news, tuple(problems), requested=force)


class RefreshLoop:
    """Runs refreshes for `host` (the jobs screen) and keeps their schedule."""

    def __init__(
        self,
        host: Widget,
        service: ExportService,
        board: JobBoard,
        learner: NameLearner,
        clock: Callable[[], datetime],
    ) -> None:
        self._host = host
        self._service = service
        self._board = board
        self._learner = learner
        self._clock = clock
        self.planner = RefreshPlanner(clock=clock)
        self.running = False
        self.first_pending = False
        self.paused = False
        self.next_refresh: datetime | None = None
        self.count = 0
        self._pending_force: set[JobKey] | None = None
        self._timer: Timer | None = None

    @property
    def timer(self) -> Timer | None:
        """The timer waiting for the next round, if one is set."""
        return self._timer

    def start(self, force: Collection[JobKey] = ()) -> bool:
        """Start a refresh now, or right after the one running (never two at once).

        False if there is nothing to refresh (no job watched)."""
        self.first_pending = False
        if self.running:
            self._pending_force = (self._pending_force or set()) | set(force)
            return True
        self.stop_timer()
        self.next_refresh = None
        board = self._board
        if not board.watched:
            return False
        self.running = True
        watched, known = tuple(board.watched), dict(board.jobs)
        self._host.run_worker(
            lambda: self._run(watched, known, frozenset(force)),
            thread=True,
            exclusive=True,
            group="refresh",
            exit_on_error=False,
            # Textual would otherwise repr() every argument (10,000 jobs).
            description="refresh the watched jobs",
        )
        return True

    def stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _run(
        self, watched: tuple[JobKey, ...], known: dict[JobKey, ExportJob], force: frozenset[JobKey]
    ) -> None:
        worker = get_current_worker()
        try:
            result = self.planner.refresh(
                self._service, watched, known, force, is_cancelled=lambda: worker.is_cancelled
            )
        except Exception as exc:  # the planner never raises; this guards the UI all the same
            result = self.failed(exc)
        if worker.is_cancelled:
            return
        self._host.post_message(RefreshFinished(result, force))
        if result.global_error is not None or result.cancelled:
            return  # nothing can be read now: names neither
        self._learn_accounts(watched)
        # Then who the mailboxes are: after the states, so names never hold them up.
        wanted = wanted_names(watched, {**known, **result.jobs})
        outcome = self._learner.learn(
            self._service,
            wanted,
            skip=set(result.org_errors),
            is_cancelled=lambda: worker.is_cancelled,
        )
        message = names_message(self._learner, outcome)
        if message is not None:
            # Even when cancelled: what it learned is marked as sent.
            self._host.post_message(message)

    def _learn_accounts(self, watched: tuple[JobKey, ...]) -> None:
        """Jobs of several profiles: who each account is (STS, once per profile), then the
        rows are drawn again with the account IDs instead of the profiles' names."""
        router = self._service
        if not isinstance(router, ProfileRouter):
            return
        router.available_profiles()  # read the config files here, off the UI thread
        if len(router.labels_in(watched)) > 1 and router.learn_accounts(watched):
            with contextlib.suppress(Exception):  # the app is ending: nothing to draw on
                self._host.app.call_from_thread(self._accounts_known)

    def _accounts_known(self) -> None:
        if self._host.is_mounted:
            # Rows on screen are built again when painted; those whose cells differ redraw.
            self._host.query_one(JobTable).invalidate()

    def failed(self, error: BaseException | None) -> RefreshResult:
        """A round that ended in a bug, as a result the screen can show."""
        return RefreshResult(
            global_error=ServiceError(
                ErrorKind.OTHER, f"The refresh failed: {type(error).__name__}: {error}"
            ),
            finished_at=self._clock(),
        )

    def finished(self) -> set[JobKey] | None:
        """A round's result is in: the forced keys to refresh again at once, if any."""
        self.running = False
        self.count += 1
        pending, self._pending_force = self._pending_force, None
        return pending

    def schedule_next(self) -> None:
        if self.paused or not self._board.watched:
            self.next_refresh = None
            return
        delay = self._board.next_delay
        self.next_refresh = self._clock() + timedelta(seconds=delay)
        self._timer = self._host.set_timer(delay, self.on_timer)

    def on_timer(self) -> None:
        self._timer = None
        if not self.paused:
            self.start()

    def pause(self, paused: bool) -> None:
        self.paused = paused
        if paused:
            self.stop_timer()
            self.next_refresh = None

    # ---- names on request ----------------------------------------------------------------------

    def load_cached_names(self, wanted: Mapping[OrgKey, Collection[str]]) -> None:
        """Names from the cache file, shown before the first call answers."""
        self._host.run_worker(
            lambda: self._cached_names(wanted),
            thread=True,
            group="names-cache",
            exit_on_error=False,
            description="read names cache",
        )

    def _cached_names(self, wanted: Mapping[OrgKey, Collection[str]]) -> None:
        learner = self._learner
        try:
            found = learner.known(wanted)
        except Exception as exc:  # the cache is disposable
            self._host.post_message(
                NamesLearned({}, (f"The names cache could not be read: {exc}",))
            )
            return
        problem = learner.names.last_problem
        news = learner.news(found)
        if news or problem:
            self._host.post_message(NamesLearned(news, (problem,) if problem else ()))

    def reload_names(self, org: OrgKey, entity_ids: set[str]) -> None:
        """N: list the organization's mailboxes again, whatever the directory's age."""

        def work() -> None:
            outcome = self._learner.learn(self._service, {org: entity_ids}, force=org)
            message = names_message(self._learner, outcome, force=org)
            if message is not None:
                self._host.post_message(message)

        self._host.run_worker(
            work,
            thread=True,
            exclusive=True,
            group="names",
            exit_on_error=False,
            description="names",
        )
