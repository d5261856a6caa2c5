"""Shared pieces of the fault suite (test_faults_*.py, test_soak.py): no tests of its own.

An emulated WorkMail on 127.0.0.1 with a job in each state, wmtui's real Boto3ExportService on
it, and the app built over them as `wmtui` builds it. Readers for what a user sees: table cells,
the detail pane, the banner, the status line, notifications and the bytes a repaint writes.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App
from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.widgets import Static
from textual.worker import WorkerCancelled

from wmtui.aws.service import Boto3ExportService
from wmtui.core.cache import JobCache
from wmtui.core.models import ExportJob, JobKey
from wmtui.core.settings import Settings
from wmtui.core.watchlist import WatchList
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState
from wmtui.ui.app import WmtuiApp
from wmtui.ui.widgets.job_table import JobTable

REGION = "us-east-1"
ORG = "m-0123456789abcdef0123456789abcdef"
OTHER_ORG = "m-fedcba9876543210fedcba9876543210"
SIZE = (120, 36)
# A secret nobody could mistake for anything else: grepped for in every file wmtui writes.
SECRET_KEY = "wmtuiFaultSuiteSecret0123456789ABCDEFghij"
ACCESS_KEY = "AKIDFAULTSUITE000001"
SESSION_TOKEN = "wmtuiFaultSuiteSessionToken9876543210zyxw"

JOB_IDS = {
    "running": "job-running",
    "running2": "job-running-2",
    "done": "job-done",
    "failed": "job-failed",
}


def botocore_backoff_tiny(monkeypatch: Any) -> None:
    """botocore sleeps up to seconds between retries: keep the retries, shrink the waits."""
    from botocore.retries.standard import ExponentialBackoff

    config = ExponentialBackoff._DEFAULT_BACKOFF_CONFIG  # type: ignore[attr-defined]
    monkeypatch.setitem(config, "throttling_base_scale", 0.001)
    monkeypatch.setitem(config, "non_throttling_base_scale", 0.001)


@dataclass
class World:
    """A started emulator with one organization; time stands still unless advanced."""

    server: EmulatorServer
    mailboxes: dict[str, str] = field(default_factory=dict)

    @property
    def state(self) -> EmulatorState:
        return self.server.state

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    def key(self, name: str) -> JobKey:
        return JobKey(REGION, ORG, JOB_IDS.get(name, name))

    def keys(self, *names: str) -> list[JobKey]:
        return [self.key(name) for name in names]

    def requests(self) -> int:
        return self.state.counters_snapshot().total()

    def service(self, **kwargs: Any) -> Boto3ExportService:
        options: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region": REGION,
            "connect_timeout": 1.0,
            "read_timeout": 3.0,
            "max_attempts": 2,
        }
        options.update(kwargs)
        return Boto3ExportService(**options)

    def poke(self, name: str, **changes: Any) -> None:
        """Set odd values on a job as the service might send them (no validation)."""
        from dataclasses import replace

        job_id = JOB_IDS.get(name, name)
        with self.state._lock:
            jobs = self.state._jobs[ORG]
            jobs[job_id] = replace(jobs[job_id], **changes)


def build_world(**server_options: Any) -> EmulatorServer:
    state = EmulatorState(clock=EmulatorClock(manual=True), failure_rate=0)
    state.add_organization("example", ORG)
    alice = state.add_mailbox(ORG, "alice")
    bob = state.add_mailbox(ORG, "bob")
    carol = state.add_mailbox(ORG, "carol")
    dave = state.add_mailbox(ORG, "dave")
    state.add_mailbox(ORG, "erin")
    state.add_job(
        ORG,
        alice,
        state="RUNNING",
        progress=40,
        duration=timedelta(minutes=10),
        description="batch 1",
        job_id=JOB_IDS["running"],
    )
    state.add_job(
        ORG,
        dave,
        state="RUNNING",
        progress=10,
        duration=timedelta(minutes=30),
        description="batch 1",
        job_id=JOB_IDS["running2"],
    )
    state.add_job(
        ORG,
        bob,
        state="COMPLETED",
        started_ago=timedelta(hours=2),
        description="batch 0",
        job_id=JOB_IDS["done"],
    )
    state.add_job(
        ORG,
        carol,
        state="FAILED",
        progress=30,
        started_ago=timedelta(hours=1),
        error_info="Unable to write to the S3 bucket: Access Denied.",
        description="batch 0",
        job_id=JOB_IDS["failed"],
    )
    options: dict[str, Any] = {"hang_seconds": 10}
    options.update(server_options)
    return EmulatorServer(state, **options)


@contextmanager
def running_world(**server_options: Any) -> Iterator[World]:
    server = build_world(**server_options).start()
    try:
        yield World(server)
    finally:
        server.stop()


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "config_dir": tmp_path / "config",
        "cache_dir": tmp_path / "cache",
        "data_dir": tmp_path / "data",
        "region": REGION,
        "interval": 30.0,
        "bell": False,
        "clipboard": "osc52",
    }
    values.update(overrides)
    return Settings(**values)


def make_app(
    tmp_path: Path,
    service: Any,
    keys: Iterable[JobKey],
    *,
    cached: Iterable[ExportJob] = (),
    **setting_overrides: Any,
) -> WmtuiApp:
    """The app over `service`, watching `keys` (written to its watch list file first)."""
    settings = settings_for(tmp_path, **setting_overrides)
    watchlist = WatchList(settings.config_dir / "watchlist.json")
    keys = list(keys)
    if keys:
        watchlist.add(keys)
    cache = JobCache(settings.cache_dir / "jobs.json")
    cached = list(cached)
    if cached:
        cache.save({job.key: job for job in cached})
    app = WmtuiApp(service, watchlist, cache, settings)
    app.cursor_blink = False
    return app


def watchlist_file(app: WmtuiApp) -> Path:
    return app.watchlist.path


async def settle(app: WmtuiApp, pilot: Pilot[Any], rounds: int = 400) -> None:
    """Until no refresh runs or waits and every message was handled (bounded, no sleeps)."""
    for _ in range(rounds):
        # A refresh that posted its result is cancelled by the next one starting (exclusive
        # workers) before its thread returned: nothing was lost.
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
        await pilot.pause()
        if not app.refreshing and all(w.is_finished for w in app.workers):
            return
    raise AssertionError("the app did not settle")


def table(app: WmtuiApp) -> JobTable:
    return app.query_one(JobTable)


def cell(app: WmtuiApp, key: JobKey, column: str) -> str:
    value = table(app).get_cell(str(key), column)
    assert isinstance(value, Text), "cells must be Text, never markup strings"
    return value.plain


def row_keys(app: WmtuiApp) -> list[str]:
    return table(app).row_keys_in_order()


def static_text(node: DOMNode, selector: str) -> str:
    content = node.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


def banner(app: WmtuiApp) -> str:
    return static_text(app, "#banner") if app.query_one("#banner").display else ""


def status(app: WmtuiApp) -> str:
    return static_text(app, "#status")


async def detail_of(app: WmtuiApp, pilot: Pilot[Any], key: JobKey) -> str:
    table(app).select_key(str(key))
    await pilot.pause()
    return "\n".join(
        static_text(app, selector)
        for selector in ("#detail-title", "#detail-alert", "#detail-body")
    )


def notices(app: App[Any]) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def screen_lines(app: App[Any]) -> list[str]:
    return ["".join(s.text for s in strip) for strip in app.screen._compositor.render_strips()]


def terminal_output(app: App[Any]) -> str:
    """What a full repaint writes to the terminal."""
    return app.screen._compositor.render_full_update().render_segments(app.console)


def escapes_in(output: str) -> list[str]:
    """Anything in terminal output that could act: OSC/DCS, BEL, ST, C1, bidi or zero-width.

    Textual's own SGR sequences (ESC [ ... m) and cursor moves are fine; an ESC followed by
    anything that is not '[' is not something wmtui writes.
    """
    found: list[str] = []
    for index, ch in enumerate(output):
        if ch == "\x1b" and output[index + 1 : index + 2] != "[":
            found.append(repr(output[index : index + 8]))
        elif ch == "\x07" or 0x80 <= ord(ch) <= 0x9F or unicodedata.category(ch) == "Cf":
            found.append(repr(ch))
    for forbidden in ("\x1b[2J", "\x1b[?1049l"):
        if forbidden in output:
            found.append(repr(forbidden))
    return found


def svg_controls(svg: str) -> list[str]:
    return [
        ch
        for ch in svg
        if (unicodedata.category(ch) == "Cc" and ch != "\n")
        or unicodedata.category(ch) in ("Cf", "Zl", "Zp")
    ]
