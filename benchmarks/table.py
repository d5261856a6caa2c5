"""The job table's own targets (issue 11), from the figures items 4 and 5 measure.

- First paint does not grow with the number of cached jobs: with 10,000 within 1.25x of with
  100 (the table draws the rows on screen only, and builds a row when it first paints it).
- First paint with 10,000 cached jobs at most half a bare Textual app's showing the same rows
  in a DataTable (which holds and measures every row).
- Peak RSS with 10,000 watched jobs at most the bare DataTable app's with the same rows.

Beside them, a diagnostic: the job table alone, headless in this process, from `sync` with
100 or 10,000 rows to its first paint; what start-up spends beyond it is the app's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.common import Section, median, ms, ratio

SCALING_TARGET = 1.25
BARE_TARGET = 0.5
FEW, MANY = 100, 10_000


def _mib(value: float) -> str:
    return f"{value / 1024 / 1024:.0f} MiB"


def first_paint_checks(section: Section, wmtui: dict[int, float], bare: dict[int, float]) -> None:
    """Checks on the medians of first paint, by number of cached jobs."""
    few, many = wmtui[FEW], wmtui[MANY]
    met = many <= SCALING_TARGET * few
    section.check(
        f"first paint, {MANY:,} cached jobs / {FEW:,}",
        ratio(many, few),
        f"<= {SCALING_TARGET}x",
        met,
        "" if met else f"{ms(many)} against {ms(few)}",
    )
    bare_many = bare[MANY]
    met = many <= BARE_TARGET * bare_many
    section.check(
        f"first paint, {MANY:,} cached jobs, wmtui / bare DataTable app",
        ratio(many, bare_many),
        f"<= {BARE_TARGET}x",
        met,
        "" if met else f"wmtui {ms(many)} against bare {ms(bare_many)}",
    )
    section.notes.append(
        f"The job table's targets: first paint with {MANY:,} cached jobs within "
        f"{SCALING_TARGET}x of with {FEW:,} ({ms(many)} / {ms(few)}), and at most {BARE_TARGET}x "
        f"of the bare DataTable app's with the same rows ({ms(bare_many)})."
    )


def memory_check(section: Section, wmtui_peak: int, bare_peak: int) -> None:
    """Peak RSS of wmtui after its first refresh against the bare DataTable app's."""
    met = wmtui_peak <= bare_peak
    section.check(
        f"peak RSS, {MANY:,} watched jobs, wmtui / bare DataTable app",
        ratio(wmtui_peak, bare_peak),
        "<= 1x",
        met,
        "" if met else f"wmtui {_mib(wmtui_peak)} against bare {_mib(bare_peak)}",
    )


def _cells(key: str) -> Any:
    from rich.text import Text

    from wmtui.ui.widgets.job_table import JobIdCell

    return (
        JobIdCell(key, key),
        Text(f"user{key[-4:]}@example.com"),
        Text("Running", style="bold green"),
        Text(f"{int(key[-2:]):>3}%"),
        Text("2h ago"),
        Text("ETA 5m"),
        Text(f"nightly export {key}", overflow="ellipsis"),
    )


async def _table_alone(rows: int) -> float:
    """Seconds from `sync` of `rows` rows to the table's first paint, on a 120x40 screen."""
    from textual.app import App, ComposeResult

    from wmtui.ui.widgets.job_table import JobTable

    class TableApp(App[None]):
        def compose(self) -> ComposeResult:
            yield JobTable(id="jobs")

    app = TableApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one(JobTable)
        keys = [f"job-{n:06d}" for n in range(rows)]
        painted = asyncio.Event()
        begun = time.perf_counter()
        table.sync(keys, _cells)
        table.call_when_painted(painted.set)
        await painted.wait()
        return time.perf_counter() - begun


def table_alone_note(section: Section, repeats: int) -> None:
    """The diagnostic: the table alone, sync to first paint, with FEW and MANY rows."""
    figures = {
        rows: median([asyncio.run(_table_alone(rows)) for _ in range(repeats)])
        for rows in (FEW, MANY)
    }
    section.notes.append(
        f"Diagnostic, the job table alone (headless, in the benchmark's process, {repeats} "
        f"runs): sync to first paint {ms(figures[FEW])} with {FEW:,} rows, "
        f"{ms(figures[MANY])} with {MANY:,} ({ratio(figures[MANY], figures[FEW])}); the rest "
        "of start-up (reading the cache and the watch list, ordering the jobs) is the app's."
    )
