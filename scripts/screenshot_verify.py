"""The README's picture of verified exports: the demo with its S3, after the background checks.

    uv run python scripts/screenshot_verify.py      # writes screenshots/verified.svg

As scripts/screenshots.py: the emulator in-process with a frozen clock, the app built through
wmtui.factory; here the app also gets the emulator's S3, so every COMPLETED export is checked
(one is missing, one has another KMS key) and the missing one is selected. Look at the SVG
before committing it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.screenshots import FROZEN_AT, WIDE, DemoTarget, settle  # noqa: E402
from wmtui.aws.s3 import Boto3ExportObjects  # noqa: E402
from wmtui.aws.service import Boto3ExportService  # noqa: E402
from wmtui.core.settings import Settings  # noqa: E402
from wmtui.core.verification import Outcome  # noqa: E402
from wmtui.emulator.demo import DEMO_REGION, build_demo_state, demo_job_keys  # noqa: E402
from wmtui.emulator.s3 import S3Server  # noqa: E402
from wmtui.emulator.server import EmulatorServer  # noqa: E402
from wmtui.emulator.state import EmulatorClock  # noqa: E402
from wmtui.factory import DEMO_CREDENTIALS, build_app, open_backend  # noqa: E402
from wmtui.ui.widgets.job_table import JobTable  # noqa: E402


async def shoot(out: Path) -> Path:
    state = build_demo_state(clock=EmulatorClock(start=FROZEN_AT, manual=True))
    with EmulatorServer(state) as server, tempfile.TemporaryDirectory() as folder:
        s3 = S3Server(state).start()
        try:
            temp = Path(folder)
            settings = Settings(
                config_dir=temp / "config",
                cache_dir=temp / "cache",
                data_dir=temp / "data",
                region=DEMO_REGION,
                endpoint_url=server.endpoint_url,
            )
            service = Boto3ExportService(
                region=DEMO_REGION, endpoint_url=server.endpoint_url, credentials=DEMO_CREDENTIALS
            )
            objects = Boto3ExportObjects(
                region=DEMO_REGION,
                s3_endpoint_url=s3.endpoint_url,
                workmail_endpoint_url=server.endpoint_url,
                credentials=DEMO_CREDENTIALS,
            )
            backend = open_backend(settings, service=DemoTarget(service), objects=objects)
            backend.watchlist.add(demo_job_keys(state))
            app = build_app(backend, clock=state.clock.now)
            app.cursor_blink = False
            app.describe_delay = 0
            async with app.run_test(size=WIDE) as pilot:
                await settle(app, pilot)
                await settle(app, pilot)
                screen = app.screen
                missing = next(
                    key
                    for key, job in screen.board.jobs.items()  # type: ignore[attr-defined]
                    if job.verification is not None and job.verification.outcome is Outcome.MISSING
                )
                screen.query_one(JobTable).select_key(str(missing))
                await settle(app, pilot)
                await pilot.pause()
                svg = app.export_screenshot(title="wmtui")
        finally:
            s3.stop()
    if "\x1b" in svg:
        raise RuntimeError("an escape character reached the screenshot")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "verified.svg"
    path.write_text(svg, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    args = parser.parse_args(argv)
    print(f"wrote {asyncio.run(shoot(args.out))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
