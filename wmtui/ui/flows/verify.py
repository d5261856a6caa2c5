"""Proof in S3 from the app: `v` checks the selected export, `V` every COMPLETED one in view,
and after each refresh the jobs that need it (never checked, a VERIFIED one a day old, a
failed check ten minutes old) are checked in the background, in parallel, never blocking a
key. Results go on the board's jobs and into the job cache; the table, the detail pane and the
status line show them.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, cast

from wmtui.core.models import ExportJob, JobKey
from wmtui.core.service import ErrorKind, ExportObjects, ServiceError
from wmtui.core.verification import Outcome, Verification, is_checkable, needs_check
from wmtui.ui.safe_text import sanitize

if TYPE_CHECKING:
    from wmtui.ui.messages import RefreshFinished
    from wmtui.ui.screens.jobs import JobsScreen

# How often results reach the screen while a big batch runs.
FLUSH_EVERY = 0.5
# Background checks per refresh round at most (v and V are not limited).
BACKGROUND_BATCH = 500


class VerifyFlow:
    # One per jobs screen, made on first use: the screen's class is at its size budget.
    _flows: ClassVar[weakref.WeakKeyDictionary[JobsScreen, VerifyFlow]] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    def of(cls, screen: JobsScreen) -> VerifyFlow:
        flow = cls._flows.get(screen)
        if flow is None:
            flow = cls._flows[screen] = cls(screen, screen.context.objects)
        return flow

    def __init__(self, screen: JobsScreen, objects: ExportObjects | None) -> None:
        self.screen = screen
        self.objects = objects
        # Keys being checked now: a key is never checked twice at once.
        self._busy: set[JobKey] = set()
        # A credentials problem stops background checks until the user asks again.
        self._halted = False

    # ---- what the keys ask for -------------------------------------------------------------

    def verify_selected(self) -> None:
        screen = self.screen
        key = screen.selected_key()
        job = screen.board.jobs.get(key) if key is not None else None
        if self._unavailable():
            return
        if job is None or not is_checkable(job):
            screen.notify(
                "Only a COMPLETED export with an S3 path has a file to verify.",
                severity="warning",
                markup=False,
            )
            return
        self._halted = False
        self._run([job], announce=True)

    def verify_all_in_view(self) -> None:
        screen = self.screen
        if self._unavailable():
            return
        rows = screen.rows
        keys = [rows.key_of(row) for row in rows.order()]
        jobs = [screen.board.jobs[k] for k in keys if k is not None and k in screen.board.jobs]
        todo = [job for job in jobs if is_checkable(job)]
        if not todo:
            screen.notify("No COMPLETED export in view to verify.", markup=False)
            return
        self._halted = False
        screen.notify(f"Verifying {len(todo)} export(s) in S3…", markup=False)
        self._run(todo, announce=True)

    def in_background(self) -> None:
        """Check, quietly, the watched jobs that need it now: the latest to end first, at most
        BACKGROUND_BATCH a round (a first start over 10,000 cached jobs spreads its checks
        over a few refreshes instead of taking the CPU from the keys at once)."""
        if self.objects is None or self._halted or self.screen.closed:
            return
        now = self.screen.clock()
        due = [
            job
            for job in self.screen.board.jobs.values()
            if job.key not in self._busy and needs_check(job, now)
        ]
        if not due:
            return
        if len(due) > BACKGROUND_BATCH:
            due.sort(key=lambda job: job.end_time or job.start_time or now, reverse=True)
            due = due[:BACKGROUND_BATCH]
        self._run(due, announce=False)

    def _unavailable(self) -> bool:
        if self.objects is None:
            self.screen.notify(
                "Verification is not available in this session.", severity="warning", markup=False
            )
            return True
        return False

    # ---- the work ------------------------------------------------------------------------

    def _run(self, jobs: Iterable[ExportJob], *, announce: bool) -> None:
        objects = self.objects
        todo = [job for job in jobs if job.key not in self._busy]
        if objects is None or not todo:
            return
        self._busy.update(job.key for job in todo)
        screen = self.screen
        pending: dict[JobKey, Verification] = {}
        described: dict[JobKey, ExportJob] = {}
        lock = threading.Lock()
        last_flush = [time.monotonic()]

        def deliver(final: bool, error: ServiceError | None = None) -> None:
            with lock:
                batch = dict(pending)
                pending.clear()
                last_flush[0] = time.monotonic()
            # RuntimeError: the app has ended meanwhile; nothing is left to show.
            with contextlib.suppress(RuntimeError):
                screen.app.call_from_thread(
                    self._apply, batch, final, announce, error, todo, described if final else {}
                )

        def heard(job: ExportJob, result: Verification) -> None:
            with lock:
                pending[job.key] = result
                due = time.monotonic() - last_flush[0] >= FLUSH_EVERY
            if due:
                deliver(False)

        def work() -> None:
            error: ServiceError | None = None
            try:
                jobs = self._with_kms_keys(todo, described)
                sizes = {} if screen.closed else self._mailbox_sizes(objects, jobs)
                objects.check_many(jobs, mailbox_sizes=sizes, clock=screen.clock, on_result=heard)
            except ServiceError as exc:
                error = exc
            except Exception as exc:  # a bug must not end the app
                error = ServiceError(ErrorKind.OTHER, f"{type(exc).__name__}: {exc}")
            deliver(True, error)

        screen.run_worker(
            work, thread=True, group="verify", exit_on_error=False, description="verify in S3"
        )

    def _mailbox_sizes(self, objects: ExportObjects, jobs: list[ExportJob]) -> dict[JobKey, float]:
        """Mailbox sizes (cached a day beside the job cache), so a far too small export shows
        as SUSPICIOUS; quietly none when GetMailboxDetails is refused."""
        from wmtui.core.mailbox_sizes import MailboxSizes

        store = MailboxSizes(
            self.screen.context.cache.path.with_name("mailbox-sizes.json"), create_folder=False
        )
        by_org: dict[tuple[str, str], list[ExportJob]] = {}
        for job in jobs:
            if job.entity_id:
                by_org.setdefault((job.key.region, job.key.organization_id), []).append(job)
        sizes: dict[JobKey, float] = {}
        for (region, organization), org_jobs in by_org.items():
            entity_ids = [job.entity_id for job in org_jobs if job.entity_id]
            found = store.lookup(objects.mailbox_size_mb, region, organization, entity_ids)
            sizes.update(
                (job.key, found[job.entity_id])
                for job in org_jobs
                if job.entity_id and job.entity_id in found
            )
        return sizes

    def _with_kms_keys(
        self, todo: list[ExportJob], described: dict[JobKey, ExportJob]
    ) -> list[ExportJob]:
        """The jobs with their KMS key: a List answer leaves it out, so those without one are
        Described first (in parallel; one that fails is judged without it: ERROR)."""
        service = self.screen.service
        unknown = [job for job in todo if not job.kms_key_arn]
        if not unknown:
            return todo

        def describe(job: ExportJob) -> ExportJob:
            try:
                fresh = service.describe_job(job.key)
            except ServiceError:
                return job
            described[job.key] = fresh
            return job.merged_with(fresh)

        with ThreadPoolExecutor(min(8, len(unknown)), thread_name_prefix="wmtui-kms") as pool:
            filled = {job.key: job for job in pool.map(describe, unknown)}
        return [filled.get(job.key, job) for job in todo]

    def _apply(
        self,
        results: dict[JobKey, Verification],
        final: bool,
        announce: bool,
        error: ServiceError | None,
        todo: list[ExportJob],
        described: dict[JobKey, ExportJob],
    ) -> None:
        screen = self.screen
        if final:
            self._busy.difference_update(job.key for job in todo)
        if screen.closed or not screen.widgets_alive():
            return
        for fresh in described.values():
            screen.board.apply_described(fresh)
        jobs = screen.board.jobs
        changed: list[JobKey] = list(described)
        for key, result in results.items():
            known = jobs.get(key)
            if known is not None and is_checkable(known):
                jobs[key] = replace(known, verification=result)
                changed.append(key)
        if changed:
            screen.sync_table(changed, changed)
            screen.cache_writer.save()
            screen.update_status()
        if error is not None:
            self._halted = True
            screen.notify(
                sanitize(f"Verification stopped: {error}", limit=400),
                severity="error",
                markup=False,
                timeout=12,
            )
        elif final and announce:
            self._announce(todo)

    def _announce(self, todo: list[ExportJob]) -> None:
        jobs = self.screen.board.jobs
        counts: dict[Outcome, int] = {}
        for job in todo:
            found = jobs.get(job.key)
            if found is not None and found.verification is not None:
                outcome = found.verification.outcome
                counts[outcome] = counts.get(outcome, 0) + 1
        if len(todo) == 1 and counts:
            found = jobs.get(todo[0].key)
            assert found is not None and found.verification is not None
            words = f"{todo[0].job_id}: {found.verification.summary}"
        else:
            words = "Verified in S3: " + ", ".join(
                f"{count} {outcome.value}" for outcome, count in sorted(counts.items())
            )
        bad = any(outcome is not Outcome.VERIFIED for outcome in counts)
        self.screen.notify(
            sanitize(words, limit=400), severity="warning" if bad else "information", markup=False
        )


def verify_selected(screen: JobsScreen) -> None:
    """The jobs screen's `v`: check the selected export in S3 now."""
    VerifyFlow.of(screen).verify_selected()


def verify_all_in_view(screen: JobsScreen) -> None:
    """The jobs screen's `V`: check every COMPLETED export in view."""
    VerifyFlow.of(screen).verify_all_in_view()


def verify_in_background(screen: JobsScreen) -> None:
    """After a refresh: check what has come due (never checked, or its check has aged)."""
    VerifyFlow.of(screen).in_background()


class VerifyKeys:
    """v, V and the background checks, mixed into the jobs screen (whose class is at its size
    budget). Textual calls a message handler of every class in the screen's MRO, so this
    one runs after the screen's own, once the refresh is on the board."""

    def action_verify(self) -> None:
        verify_selected(cast("JobsScreen", self))

    def action_verify_all(self) -> None:
        verify_all_in_view(cast("JobsScreen", self))

    def on_refresh_finished(self, message: RefreshFinished) -> None:
        verify_in_background(cast("JobsScreen", self))
