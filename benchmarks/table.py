"""The job table's own targets (issue 11), from the figures items 4 and 5 measure.

- First paint does not grow with the number of cached jobs: with 10,000 within 1.25x of with
  100 (the table draws the rows on screen only, and builds a row when it first paints it).
- First paint with 10,000 cached jobs at most half a bare Textual app's showing the same rows
  in a DataTable (which holds and measures every row).
- Peak RSS with 10,000 watched jobs at most the bare DataTable app's with the same rows.
"""

from __future__ import annotations

from benchmarks.common import Section, ms, ratio

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
