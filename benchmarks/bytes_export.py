"""Item 9, the other screens: what the organization export's progress view costs a slow link.

The export is run by `wmtui export-org --once` (one round a run, the state file saved) against
the benchmark's emulator, and wmtui shows it read-only (O, Enter): the same view as E's, which
reads the state file again whenever it changes (every 3 s at most). Between rounds the emulator's
clock moves 30 minutes on, so the jobs of the last round end and new ones start: each round
changes the counts, the bar, the timing line and adds lines to the log, and the jobs that ended
are told in a notice. A round's figure is all wmtui writes in the ROUND_WINDOW seconds after the
round's run ended: the notices' coming and going (they last NOTIFY_TIMEOUT seconds) included.
Idle is a window after the last round's notices have gone, with nothing due.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.bytes import StillWorld
    from benchmarks.common import Section

ROUNDS = 3
# Longer than the view's look at the state file (3 s) and its drawing.
EXPORT_WINDOW = 5.0
IDLE_WINDOW = 10.0
SAMPLE_EVERY = 0.2


def round_window() -> float:
    """A round's news, and its notices' whole life (NOTIFY_TIMEOUT), with time to settle."""
    from wmtui.ui.announce import NOTIFY_TIMEOUT

    return EXPORT_WINDOW + NOTIFY_TIMEOUT


@dataclass
class ExportFigures:
    rounds: list[int] = field(default_factory=list)
    # Each round's line changes: the lines whose text differs between two looks at the screen
    # (every SAMPLE_EVERY seconds), summed, so a notice counts its lines twice, coming and going.
    changed: list[int] = field(default_factory=list)
    idle_rate: float = 0.0

    @property
    def worst(self) -> int:
        return max(self.rounds, default=0)

    def rows(self) -> list[tuple[str, int, str]]:
        """The report's rows: (what, bytes, note)."""
        each = " / ".join(
            f"{size:,} ({lines} line changes)"
            for size, lines in zip(self.rounds, self.changed, strict=True)
        )
        return [
            (
                "export progress view: a round, its notices' coming and going included (the "
                f"worst of {len(self.rounds)})",
                self.worst,
                each,
            ),
            ("export progress view: idle, bytes/s", round(self.idle_rate), ""),
        ]

    def check(self, section: Section, per_line: float, idle_limit: float) -> None:
        """Each round at most `per_line` bytes a line change (2x a line drawn alone), as a
        refresh of the jobs view; idle within `idle_limit` bytes/s."""
        for number, (size, lines) in enumerate(zip(self.rounds, self.changed, strict=True), 1):
            limit = per_line * lines
            section.check(
                f"export progress view, round {number}: <= 2x its {lines} line changes drawn alone",
                f"{size:,}",
                f"<= {limit:,.0f}",
                size <= limit,
            )
        section.check(
            "export progress view: idle, bytes/s",
            f"{self.idle_rate:,.0f}",
            f"<= {idle_limit:.0f}",
            self.idle_rate <= idle_limit,
        )


def export_note() -> str:
    return (
        "Export progress view: `wmtui export-org --once` runs a round at a time against the "
        "emulator (30 minutes of its clock between rounds, so jobs end and new ones start) and "
        "wmtui shows it read-only, opened with O and Enter (the O list stays under the view); a "
        f"round is all wmtui wrote in the {round_window():g} s after the round's run (the view's "
        "news and the notices of the jobs that ended, which last "
        f"{round_window() - EXPORT_WINDOW:g} s, coming and going); its line changes sum the "
        f"lines whose text differs between looks {SAMPLE_EVERY:g} s apart, and 'drawn alone' is "
        "half the bare app's move a line, as above. Idle is a 10 s window after the last "
        "round's notices have gone."
    )


def _one_round(world: StillWorld, env: dict[str, str], root: Path) -> None:
    from wmtui.emulator.demo import DEMO_BUCKET, DEMO_KMS_KEY_ARN, DEMO_ROLE_ARN

    command = [
        sys.executable,
        "-m",
        "wmtui",
        "export-org",
        world.organization_id,
        "--bucket",
        DEMO_BUCKET,
        "--prefix",
        "bench-export",
        "--role-arn",
        DEMO_ROLE_ARN,
        "--kms-key-arn",
        DEMO_KMS_KEY_ARN,
        "--once",
    ]
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, timeout=120)
    if done.returncode not in (0, 75):
        raise RuntimeError(f"export-org --once failed: {done.stderr.decode()[-600:]}")


def measure_export(
    world: StillWorld, env: dict[str, str], root: Path, log: Callable[[str], None]
) -> ExportFigures:
    from benchmarks.pty_terminal import (
        COLUMNS,
        STARTUP_TIMEOUT,
        PtyProgram,
        Recorder,
        lines_changed,
    )

    figures = ExportFigures()
    window = round_window()
    _one_round(world, env, root)
    with PtyProgram([sys.executable, "-m", "wmtui"], env, root) as program:
        program.wait_for(" jobs, ")
        program.settle(quiet=2.0, timeout=STARTUP_TIMEOUT)
        program.press(b"O")
        time.sleep(2.0)
        program.press(b"\r")
        program.wait_for("Exporting every mailbox")
        time.sleep(window)
        screen = Recorder(program, 0)
        for _ in range(ROUNDS):
            world.clock.advance(timedelta(minutes=30))
            _one_round(world, env, root)
            screen.catch_up()
            mark, changed = program.written, 0
            ends = time.monotonic() + window
            while time.monotonic() < ends:
                # Looked at often enough to see a notice come and go: both are lines changed.
                before = screen.screen.copy()
                time.sleep(SAMPLE_EVERY)
                screen.catch_up()
                changed += lines_changed(before, screen.screen, 0, COLUMNS)
            figures.rounds.append(len(program.since(mark)))
            figures.changed.append(changed)
        mark = program.written
        time.sleep(IDLE_WINDOW)
        figures.idle_rate = len(program.since(mark)) / IDLE_WINDOW
    log(
        "    export progress view: a round "
        + ", ".join(
            f"{size:,} ({lines} lines changed)"
            for size, lines in zip(figures.rounds, figures.changed, strict=True)
        )
        + f" bytes; idle {figures.idle_rate:,.0f} bytes/s"
    )
    return figures
