"""Make the README's pictures: run wmtui headless on the demo organization and save SVGs.

    uv run python scripts/screenshots.py            # writes screenshots/*.svg
    uv run python scripts/screenshots.py --out DIR

The emulator runs in-process with its clock frozen at a fixed instant, and the app gets the
same clock, so the pictures change only when the app does. The app is built through
wmtui.factory like the CLI builds it. Look at every SVG before committing it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import threading  # noqa: E402

from textual.widgets import Input, TextArea  # noqa: E402

from wmtui.core.export import ExportSpec  # noqa: E402
from wmtui.core.models import JobKey, JobState  # noqa: E402
from wmtui.core.service import ExportService  # noqa: E402
from wmtui.core.settings import Settings  # noqa: E402
from wmtui.emulator.demo import (  # noqa: E402
    DEMO_BUCKET,
    DEMO_KMS_KEY_ARN,
    DEMO_REGION,
    DEMO_ROLE_ARN,
    build_demo_state,
    demo_job_keys,
)
from wmtui.emulator.server import EmulatorServer  # noqa: E402
from wmtui.emulator.state import EmulatorClock  # noqa: E402
from wmtui.factory import DEMO_CREDENTIALS, build_app, open_backend  # noqa: E402
from wmtui.ui.app import WmtuiApp  # noqa: E402
from wmtui.ui.widgets.job_table import JobTable  # noqa: E402

# A fixed instant: the pictures must not change from one run to the next.
FROZEN_AT = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
WIDE = (120, 36)
NARROW = (80, 30)

Step = Callable[[WmtuiApp, Any, EmulatorServer], Awaitable[None]]
# Rounds of the organization-wide export before its picture is taken.
EXPORT_ROUNDS = 60


class DemoTarget:
    """The demo's service under a fixed name: the emulator's port changes every run."""

    def __init__(self, service: ExportService) -> None:
        self._service = service

    @property
    def target(self) -> str:
        return "demo · local emulator"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)


def _settling(app: WmtuiApp) -> list[Any]:
    """The workers a picture waits for: all but an organization export's, which runs on."""
    return [worker for worker in app.workers if worker.group != "org-export"]


async def settle(app: WmtuiApp, pilot: Any) -> None:
    for _ in range(200):
        waiting = _settling(app)
        if waiting:  # (an empty list would wait for every worker)
            await app.workers.wait_for_complete(waiting)
        await pilot.pause()
        if not app.refreshing and all(worker.is_finished for worker in _settling(app)):
            return
    raise RuntimeError("the app did not settle")


async def nothing(app: WmtuiApp, pilot: Any, server: EmulatorServer) -> None:
    return None


async def select_failed(app: WmtuiApp, pilot: Any, server: EmulatorServer) -> None:
    failed = next(key for key, job in app.jobs.items() if job.state is JobState.FAILED)
    app.query_one(JobTable).select_key(str(failed))


async def open_add(app: WmtuiApp, pilot: Any, server: EmulatorServer) -> None:
    await pilot.press("a")
    app.screen.query_one("#add-ids", TextArea).insert(
        "1f0c6a3e-2b7d-4c1a-9e8f-5d4c3b2a1f00, 7a9e2d41-0c3b-4f5e-8a6d-9b8c7d6e5f41"
    )


async def open_help(app: WmtuiApp, pilot: Any, server: EmulatorServer) -> None:
    await pilot.press("question_mark")


async def open_start(app: WmtuiApp, pilot: Any, server: EmulatorServer) -> None:
    await pilot.press("n")
    await settle(app, pilot)
    screen = app.screen
    for name, value in (
        ("bucket", DEMO_BUCKET),
        ("prefix", "pre-shutdown/batch-5"),
        ("role_arn", DEMO_ROLE_ARN),
        ("kms_key_arn", DEMO_KMS_KEY_ARN),
        ("description", "Pre-shutdown export batch 5"),
    ):
        screen.query_one(f"#start-{name}", Input).value = value
    screen.query_one("#start-mailbox", Input).focus()
    # Find someone by part of the name, move to the second match and pick it.
    await pilot.press(*"rossi", "down", "enter")
    await pilot.pause()


async def run_export(app: WmtuiApp, pilot: Any, server: EmulatorServer) -> None:
    """A few rounds of exporting the whole demo organization; then it waits, still running
    (until the app quits), for the picture."""
    rounds = 0
    held = threading.Event()

    def next_round(seconds: float, stop: threading.Event) -> None:
        nonlocal rounds
        rounds += 1
        if rounds >= EXPORT_ROUNDS:
            held.set()
            stop.wait()
        else:
            server.state.clock.advance(seconds)

    app.export_wait = next_round
    organization = server.state.organization_ids[0]
    spec = ExportSpec(
        DEMO_REGION,
        organization,
        DEMO_BUCKET,
        "pre-shutdown/all",
        DEMO_ROLE_ARN,
        DEMO_KMS_KEY_ARN,
    )
    app.open_export(spec)
    if not await asyncio.to_thread(held.wait, 120):
        raise RuntimeError("the export did not reach its rounds")
    await settle(app, pilot)


# The export moves the emulator's clock and starts jobs: it goes last.
SHOTS: list[tuple[str, tuple[int, int], Step]] = [
    ("main.svg", WIDE, nothing),
    ("failed-detail.svg", WIDE, select_failed),
    ("add.svg", WIDE, open_add),
    ("help.svg", WIDE, open_help),
    ("narrow.svg", NARROW, nothing),
    ("start-form.svg", WIDE, open_start),
    ("export.svg", WIDE, run_export),
]


async def shoot(
    name: str, size: tuple[int, int], step: Step, out: Path, server: EmulatorServer
) -> Path:
    with tempfile.TemporaryDirectory(prefix="wmtui-shots-") as folder:
        temp = Path(folder)
        settings = Settings(
            config_dir=temp / "config",
            cache_dir=temp / "cache",
            data_dir=temp / "data",
            region=DEMO_REGION,
            endpoint_url=server.endpoint_url,
        )
        from wmtui.aws.service import Boto3ExportService

        service = Boto3ExportService(
            region=DEMO_REGION,
            endpoint_url=server.endpoint_url,
            credentials=DEMO_CREDENTIALS,
            connect_timeout=2.0,
            read_timeout=5.0,
        )
        backend = open_backend(settings, service=DemoTarget(service))
        keys: list[JobKey] = demo_job_keys(server.state)
        backend.watchlist.add(keys)
        app = build_app(backend, clock=server.state.clock.now)
        app.cursor_blink = False
        # The job under the cursor is described at once, not after a pause: same picture.
        app.describe_delay = 0
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            await step(app, pilot, server)
            await settle(app, pilot)
            await pilot.pause()
            svg = app.export_screenshot(title="wmtui")
        if "\x1b" in svg:
            raise RuntimeError(f"{name}: an escape character reached the screenshot")
        path = out / name
        path.write_text(svg, encoding="utf-8")
        return path


async def main_async(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    state = build_demo_state(clock=EmulatorClock(start=FROZEN_AT, manual=True))
    server = EmulatorServer(state).start()
    try:
        for name, size, step in SHOTS:
            path = await shoot(name, size, step, out, server)
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
