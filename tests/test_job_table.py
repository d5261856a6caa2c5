"""The job table on its own: what it paints after a sync, and that it builds only what it shows.

The app's tests drive the table through the app; these pin the two things the table does
differently from a plain DataTable: rows are built when they are about to be painted (or read),
and one-line Text cells are rendered without Rich's generic layers. Both must look exactly as
DataTable would paint them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable

from wmtui.ui.widgets.job_table import COLUMN_KEYS, JobIdCell, JobTable, RowCells

SIZE = (110, 24)
ROWS = 2_000
# The rows a 24-line terminal can show at once, with a row beyond each edge.
ON_SCREEN = SIZE[1] + 2


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield JobTable(id="jobs")


class Rows:
    """Row contents by key, and a count of how many rows were built."""

    def __init__(self, count: int) -> None:
        self.keys = [f"job-{n:05d}" for n in range(count)]
        self.progress = dict.fromkeys(self.keys, 10)
        self.built: list[str] = []

    def build(self, key: str) -> RowCells:
        self.built.append(key)
        progress = self.progress[key]
        return (
            JobIdCell(key, key),
            Text("mailbox"),
            Text("Running", style="bold green"),
            Text(f"{progress:>3}%"),
            Text("2h ago"),
            Text("ETA 5m"),
            Text("a description"),
        )


def painted(table: JobTable) -> list[str]:
    """The lines the table paints now, as a user reads them."""
    region = Region(0, 0, table.size.width, table.size.height)
    return [strip.text for strip in table.render_lines(region)]


def painted_row(table: JobTable, key: str) -> str:
    line = next((line for line in painted(table) if key in line), None)
    assert line is not None, f"{key} is not on screen"
    return line


async def _filled(app: TableApp, pilot: Any, rows: Rows) -> JobTable:
    """The app's table with every row of `rows` in it, painted once."""
    table = app.query_one(JobTable)
    table.sync(rows.keys, rows.build)
    await pilot.pause()
    return table


async def test_a_sync_builds_only_the_rows_on_screen_and_paints_them_new() -> None:
    rows = Rows(ROWS)
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await _filled(app, pilot, rows)
        assert " 10%" in painted_row(table, "job-00000")

        rows.built.clear()
        for key in rows.keys:
            rows.progress[key] = 55
        table.sync(rows.keys, rows.build, rows.keys)
        assert rows.built == []  # nothing built until painted
        await pilot.pause()
        assert 0 < len(rows.built) <= ON_SCREEN
        assert " 55%" in painted_row(table, "job-00000")
        assert " 10%" not in "\n".join(painted(table))


async def test_a_row_that_changed_off_screen_shows_its_new_value_when_scrolled_to() -> None:
    rows = Rows(ROWS)
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await _filled(app, pilot, rows)
        last = rows.keys[-1]
        rows.progress[last] = 77
        table.sync(rows.keys, rows.build, [last])
        await pilot.pause()
        assert last not in "\n".join(painted(table))

        table.focus()
        await pilot.press("end")
        await pilot.pause()
        assert " 77%" in painted_row(table, last)


async def test_reading_a_cell_of_a_stale_row_gives_its_new_value() -> None:
    rows = Rows(ROWS)
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await _filled(app, pilot, rows)
        far = rows.keys[1_500]
        rows.progress[far] = 33
        table.sync(rows.keys, rows.build, [far])
        assert table.get_cell(far, "progress").plain == " 33%"
        assert table.get_row(far)[COLUMN_KEYS.index("progress")].plain == " 33%"


async def test_invalidating_rows_that_read_the_same_changes_no_cell(monkeypatch: Any) -> None:
    rows = Rows(ROWS)
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await _filled(app, pilot, rows)
        changed: list[Any] = []
        original = JobTable._set_cells

        def spy(self: JobTable, changes: Any) -> None:
            changed.extend(changes)
            original(self, changes)

        monkeypatch.setattr(JobTable, "_set_cells", spy)
        rows.built.clear()
        table.invalidate()
        await pilot.pause()
        assert 0 < len(rows.built) <= ON_SCREEN  # the rows on screen were looked at again
        assert changed == []


# ---- the cell renderer --------------------------------------------------------------------------

CELLS: list[Callable[[], Text]] = [
    lambda: Text(""),
    lambda: Text("short"),
    lambda: Text("exactly-ten"),
    lambda: Text("a text far too long for its column, cropped", overflow="ellipsis"),
    lambda: Text("a text far too long for its column, folded", overflow="fold"),
    lambda: Text("a text far too long for its column, plain"),
    lambda: Text("Running", style="bold green"),
    lambda: Text("✗ FAILED", style=Style(color="red", bold=True)),
    lambda: Text.assemble(("██▌", "green on grey23"), ("     42%", "")),
    lambda: Text("宽字符的邮箱名称很长很长", overflow="ellipsis"),
    lambda: Text("emoji 📦📦📦📦📦📦📦📦", overflow="ellipsis"),
    lambda: Text("[red]not markup[/]"),
    lambda: Text("centred", justify="center"),
    lambda: Text("right", justify="right"),
    lambda: JobIdCell("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "k", "dim"),
    lambda: Text("trailing spaces   "),
    lambda: Text("  leading"),
]


def _characters(lines: Any) -> list[tuple[str, Style | None]]:
    """Each character a user sees, with its style: segment boundaries aside."""
    return [
        (character, segment.style)
        for line in lines
        for segment in Segment.simplify(line)
        for character in segment.text
    ]


# One row per kind of cell, the cell in every column but the job's; painted on a plain base.
BASE = Style(color="white", bgcolor="black")


async def _table_of_every_cell(app: TableApp, pilot: Any) -> tuple[JobTable, list[Text]]:
    table = app.query_one(JobTable)
    texts = [make() for make in CELLS]
    keys = [f"row-{n}" for n in range(len(texts))]
    cells = {
        key: (JobIdCell(key, key), *([text] * 6)) for key, text in zip(keys, texts, strict=True)
    }
    table.sync(keys, cells.__getitem__)
    await pilot.pause()
    return table, texts


async def test_cells_render_exactly_as_datatable_renders_them() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table, texts = await _table_of_every_cell(app, pilot)
        keys = list(table.rows)
        checked = 0
        for row_index in range(len(texts)):
            for column_index in range(1, len(COLUMN_KEYS)):
                for width in (1, 2, 3, 5, 11, 40):
                    for cursor, hover in ((False, False), (True, False), (False, True)):
                        args = (row_index, column_index, BASE, width, cursor, hover)
                        table._cell_render_cache.clear()
                        ours = table._render_cell(*args)
                        table._cell_render_cache.clear()
                        theirs = DataTable._render_cell(table, *args)
                        assert _characters(ours) == _characters(theirs), (texts[row_index], width)
                        checked += 1
        assert checked == len(keys) * 6 * 6 * 3


async def test_rows_render_exactly_as_datatable_renders_them() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table, _ = await _table_of_every_cell(app, pilot)
        keys = list(table.rows)
        locations = [Coordinate(0, 0), Coordinate(3, 2), Coordinate(len(keys) - 1, 6)]
        checked = 0
        for show_cursor, show_hover in ((True, False), (True, True), (False, True)):
            table.show_cursor = show_cursor
            table._show_hover_cursor = show_hover
            for row_key in [*table.rows, table._header_row_key]:
                for cursor in locations:
                    for hover in locations:
                        args = (row_key, 0, BASE, cursor, hover)
                        table._row_render_cache.clear()
                        table._cell_render_cache.clear()
                        ours = table._render_line_in_row(*args)
                        table._row_render_cache.clear()
                        table._cell_render_cache.clear()
                        theirs = DataTable._render_line_in_row(table, *args)
                        assert ours[0] == theirs[0]
                        assert _characters(ours[1]) == _characters(theirs[1]), row_key
                        checked += 1
        assert checked == 3 * (len(keys) + 1) * 9


def _fresh_lines(table: JobTable) -> list[Strip]:
    """The visible body lines as DataTable renders them with every cache empty."""
    scroll_x, scroll_y = table.scroll_offset
    style = table.rich_style
    lines = []
    for y in range(table.header_height, table.size.height):
        for cache in (table._line_cache, table._row_render_cache, table._cell_render_cache):
            cache.clear()
        lines.append(
            DataTable._render_line(
                table, y + scroll_y, scroll_x, scroll_x + table.size.width, style
            )
        )
    return lines


async def test_cached_lines_match_a_fresh_render_as_rows_change_and_the_cursor_moves() -> None:
    """Lines are cached by row and by whether their row has the cursor, not by where the
    cursor is: a line kept from before a move or a change of other rows must still be what
    DataTable paints now."""
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        rows = Rows(200)
        table = await _filled(app, pilot, rows)
        for key in rows.keys[:60]:
            rows.progress[key] = 55
        table.sync(rows.keys, rows.build, dirty=rows.keys[:60])
        moves = ["down"] * 30 + ["up"] * 8 + ["pagedown", "down", "up", "pageup", "down"]
        for step, key in enumerate(moves):
            await pilot.press(key)
            if step % 4 == 0:
                # Some rows on screen change too: only their cached lines may go.
                changed = rows.keys[step : step + 40 : 3]
                for row in changed:
                    rows.progress[row] = step
                table.sync(rows.keys, rows.build, dirty=changed)
            await pilot.pause()
            # Warm the caches the way painting does, then compare with a cold render.
            style = table.rich_style
            scroll_x, scroll_y = table.scroll_offset
            cached = [
                table._render_line(y + scroll_y, scroll_x, scroll_x + table.size.width, style)
                for y in range(table.header_height, table.size.height)
            ]
            fresh = _fresh_lines(table)
            assert [_characters([list(s)]) for s in cached] == [
                _characters([list(s)]) for s in fresh
            ], (step, key)
        assert table.scroll_offset.y > 0
