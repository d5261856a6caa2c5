"""The README's picture of the mailboxes screen (`m`): the demo organization, every mailbox.

    uv run python scripts/screenshot_mailboxes.py   # writes screenshots/mailboxes.svg

As scripts/screenshots.py: the emulator in-process with a frozen clock, the app built through
wmtui.factory; `m` on the selected job, once the organization's mailboxes and jobs are read.
Look at the SVG before committing it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.screenshots import FROZEN_AT, WIDE, shoot  # noqa: E402
from wmtui.emulator.demo import build_demo_state  # noqa: E402
from wmtui.emulator.server import EmulatorServer  # noqa: E402
from wmtui.emulator.state import EmulatorClock  # noqa: E402
from wmtui.ui.app import WmtuiApp  # noqa: E402
from wmtui.ui.screens.mailboxes import MailboxesScreen  # noqa: E402


async def open_mailboxes(app: WmtuiApp, pilot: Any, server: EmulatorServer) -> None:
    await pilot.press("m")
    for _ in range(400):
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        if isinstance(screen, MailboxesScreen) and screen.complete:
            return
    raise RuntimeError("the mailboxes screen did not finish reading")


async def main_async(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    state = build_demo_state(clock=EmulatorClock(start=FROZEN_AT, manual=True))
    server = EmulatorServer(state).start()
    try:
        path = await shoot("mailboxes.svg", WIDE, open_mailboxes, out, server)
        print(f"wrote {path}")
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
