"""Item 9, the other screens: what a jobs refresh costs while a full screen covers the jobs view.

wmtui runs again on its own pseudo-terminal with the shortest refresh interval (5 s), the
mailboxes screen open over the jobs view. Before each refresh the benchmark moves one running job
on; a refresh is seen by the emulator's request counters (the screen on top shows nothing of it
unless its own rows change), and its bytes are everything the app writes from just before the
refresh until the screen has settled again. The jobs view under it shows nothing, so a refresh
there should cost next to nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.bytes import StillWorld
    from benchmarks.pty_terminal import PtyProgram

# The app's shortest interval (settings.MIN_INTERVAL): a refresh every 5 s or so.
INTERVAL = "5"
COVERED_REFRESHES = 3
REFRESH_WAIT = 20.0


@dataclass
class CoveredFigures:
    """Bytes of each jobs refresh while the mailboxes screen is open."""

    refreshes: list[int] = field(default_factory=list)

    @property
    def worst(self) -> int:
        return max(self.refreshes, default=0)


def _requests(world: StillWorld) -> int:
    return sum(world.state.counters_snapshot().values())


def _one_refresh(program: PtyProgram, world: StillWorld) -> int:
    """Bytes from just before the next refresh until the screen has settled after it."""
    program.settle()
    world.move_on(1)
    mark, seen = program.written, _requests(world)
    deadline = time.monotonic() + REFRESH_WAIT
    while _requests(world) == seen:
        if time.monotonic() > deadline:
            raise RuntimeError("no refresh came under the mailboxes screen")
        time.sleep(0.05)
    program.settle()
    return len(program.since(mark))


def measure_covered(
    world: StillWorld,
    env: dict[str, str],
    root: Path,
    log: Callable[[str], None],
) -> CoveredFigures:
    from benchmarks.pty_terminal import STARTUP_TIMEOUT, PtyProgram

    figures = CoveredFigures()
    env = {**env, "WMTUI_INTERVAL": INTERVAL}
    with PtyProgram([sys.executable, "-m", "wmtui"], env, root) as program:
        program.wait_for("40 jobs")
        program.settle(quiet=2.0, timeout=STARTUP_TIMEOUT)
        program.press(b"m")
        program.wait_for("Mailbox")
        program.settle(quiet=2.0, timeout=STARTUP_TIMEOUT)
        for _ in range(COVERED_REFRESHES):
            figures.refreshes.append(_one_refresh(program, world))
        program.press(b"\x1b")
        program.settle()
    log(
        "    a jobs refresh under the mailboxes screen: "
        + ", ".join(f"{size:,}" for size in figures.refreshes)
        + " bytes"
    )
    return figures
