"""Item 3's probes: a service that answers at once, and the clocks read inside the app's loop.

`AnsweringService` answers like the emulator (the start-up refresh changes nothing); `Timeline`
keeps when each screen update happened (`display_stamps`), and `GcWatch` the collector's pauses.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from benchmarks.world import World
from wmtui.core.models import ExportJob, JobKey, Mailbox, Organization, StartRequest
from wmtui.core.service import ErrorKind, ServiceError


class AnsweringService:
    """An ExportService that answers at once with what the world holds (no wire)."""

    def __init__(self, world: World) -> None:
        self._jobs = dict(world.known)
        self._by_org: dict[tuple[str, str], list[ExportJob]] = {}
        for key, job in world.known.items():
            self._by_org.setdefault((key.region, key.organization_id), []).append(job)

    @property
    def target(self) -> str:
        return "benchmark (in-process)"

    def describe_job(self, key: JobKey) -> ExportJob:
        try:
            return self._jobs[key]
        except KeyError:
            raise ServiceError(ErrorKind.JOB_NOT_FOUND, f"no job {key}") from None

    def list_jobs(self, region: str, organization_id: str) -> list[ExportJob]:
        return list(self._by_org.get((region, organization_id), []))

    def _unused(self, operation: str) -> ServiceError:
        return ServiceError(ErrorKind.OTHER, f"{operation} is not part of the benchmark")

    def start_job(self, region: str, organization_id: str, request: StartRequest) -> JobKey:
        raise self._unused("StartMailboxExportJob")

    def cancel_job(self, key: JobKey, client_token: str | None = None) -> None:
        raise self._unused("CancelMailboxExportJob")

    def list_organizations(self, region: str) -> list[Organization]:
        raise self._unused("ListOrganizations")

    def list_mailboxes(self, region: str, organization_id: str) -> list[Mailbox]:
        raise self._unused("ListUsers")

    def describe_mailbox(self, region: str, organization_id: str, entity_id: str) -> Mailbox:
        raise self._unused("DescribeUser")

    def presign_url(self, job: ExportJob, expires_in: int) -> str:
        raise self._unused("presigning")


@dataclass
class Timeline:
    """Screen updates and cursor moves, stamped inside the app's event loop."""

    displays: list[float] = field(default_factory=list)
    cursor_moves: list[float] = field(default_factory=list)
    syncs: list[float] = field(default_factory=list)
    # How long each screen update took to compose (Screen._compositor_refresh), in seconds.
    frames: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stamp(self, series: list[float]) -> None:
        with self.lock:
            series.append(time.perf_counter())

    def first_after(self, series: list[float], moment: float) -> float | None:
        with self.lock:
            return next((t for t in series if t > moment), None)

    def wait_after(self, series: list[float], moment: float, timeout: float = 10.0) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            found = self.first_after(series, moment)
            if found is not None:
                return found
            time.sleep(0.0005)
        raise TimeoutError("the app did not update the screen in time")


@dataclass
class GcWatch:
    """Garbage-collector pauses (any thread), from gc.callbacks: (generation, start, seconds)."""

    pauses: list[tuple[int, float, float]] = field(default_factory=list)
    _started: float = 0.0

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
        else:
            self.pauses.append((int(info["generation"]), self._started, now - self._started))

    def within(self, begin: float, end: float, generation: int = 2) -> list[float]:
        return [d for g, t, d in self.pauses if g == generation and begin <= t <= end]


@contextmanager
def gc_watch(watch: GcWatch) -> Iterator[None]:
    gc.callbacks.append(watch.callback)
    try:
        yield
    finally:
        gc.callbacks.remove(watch.callback)


@contextmanager
def display_stamps(timeline: Timeline) -> Iterator[None]:
    """Stamp every screen update the app makes (Textual's App._display, patched for the run)."""
    from textual.app import App

    original = App._display

    def display(self: Any, screen: Any, renderable: Any) -> None:
        original(self, screen, renderable)
        if renderable is not None and not self._batch_count:
            timeline.stamp(timeline.displays)

    from textual.screen import Screen

    compose = Screen._compositor_refresh

    def compositor_refresh(self: Any) -> None:
        begun = time.perf_counter()
        compose(self)
        with timeline.lock:
            timeline.frames.append(time.perf_counter() - begun)

    App._display = display  # type: ignore[method-assign]
    Screen._compositor_refresh = compositor_refresh  # type: ignore[method-assign]
    try:
        yield
    finally:
        App._display = original  # type: ignore[method-assign]
        Screen._compositor_refresh = compose  # type: ignore[method-assign]
