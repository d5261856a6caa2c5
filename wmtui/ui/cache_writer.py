"""Saving the job cache from the app: in a thread worker, at most every CACHE_SAVE_INTERVAL.

A save of 10,000 jobs after every refresh would compete with the UI thread for the interpreter
each time; the cache only has to be close, and is written at exit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from textual.timer import Timer
from textual.widget import Widget

from wmtui.core.cache import JobCache
from wmtui.core.models import ExportJob, JobKey
from wmtui.ui.messages import CacheProblem

# The job cache is saved at most this often (seconds) while the app runs, and at exit.
CACHE_SAVE_INTERVAL = 10.0


class CacheWriter:
    """Writes what `jobs()` gives to the cache, off the UI thread; newest snapshot wins."""

    def __init__(
        self, host: Widget, cache: JobCache, jobs: Callable[[], dict[JobKey, ExportJob]]
    ) -> None:
        self._host = host
        self._cache = cache
        self._jobs = jobs
        self._lock = threading.Lock()
        # The newest jobs to save and their generation, until a writer takes them (a lock of
        # its own: the UI thread must not wait while a writer saves).
        self._snapshot_lock = threading.Lock()
        self._snapshot: tuple[dict[JobKey, ExportJob], int] | None = None
        self._generation = 0
        self._saved_generation = 0
        self._saved_at = float("-inf")
        self._timer: Timer | None = None
        self.closed = False

    def save(self) -> None:
        """Save now, or, when the last save is recent, once CACHE_SAVE_INTERVAL is up."""
        self._generation += 1
        wait = self._saved_at + CACHE_SAVE_INTERVAL - time.monotonic()
        if wait > 0:
            if self._timer is None:
                self._timer = self._host.set_timer(wait, self._save_now)
            return
        self._save_now()

    def _save_now(self) -> None:
        self._timer = None
        if self.closed:
            return
        self._saved_at = time.monotonic()
        # Handed over through an attribute, not the worker's arguments: a finished worker
        # keeps its arguments until the garbage collector gets to it, and a snapshot of
        # 10,000 jobs would stay with it, for every full collection to walk.
        with self._snapshot_lock:
            self._snapshot = (dict(self._jobs()), self._generation)
        self._host.run_worker(
            self._write,
            thread=True,
            group="cache",
            exit_on_error=False,
            description="save the job cache",
        )

    def flush(self) -> None:
        """At exit: the save a timer was still holding back, written before the app ends."""
        self.closed = True
        if self._timer is None:
            return
        self._timer.stop()
        self._timer = None
        with self._lock:
            try:
                self._cache.save(dict(self._jobs()))
            except Exception:  # the cache is disposable; an exit must not fail for it
                return
            self._saved_generation = self._generation

    def write_now(self) -> None:
        """From any thread, at an exit the main thread may never reach (a hang-up): write the
        newest jobs unless a save already holds them; a save in progress is waited for.
        Later saves still happen: the app's own shutdown may get further than this."""
        with self._lock:
            generation = self._generation
            if self._saved_generation >= generation:
                return
            try:
                self._cache.save(dict(self._jobs()))
            except Exception:  # the cache is disposable; an exit must not fail for it
                return
            self._saved_generation = generation

    def _write(self) -> None:
        with self._snapshot_lock:
            snapshot, self._snapshot = self._snapshot, None
        if snapshot is None:
            return  # an earlier writer took the newest one
        jobs, generation = snapshot
        del snapshot
        with self._lock:
            # A newer snapshot already written: this one would put old states back.
            if generation < self._saved_generation:
                return
            try:
                saved = self._cache.save(jobs)
                problem = None if saved else self._cache.last_problem
            except Exception as exc:  # the cache is disposable; losing it must not go unsaid
                problem = f"Could not save the job cache: {type(exc).__name__}: {exc}"
            self._saved_generation = generation
        if problem:
            self._host.post_message(CacheProblem(problem))
