"""The job table on its own: what it paints, that it builds only what it shows, and that a
sync always leaves exactly the rows it was given, with the cursor on the same job.

The app's tests drive the table through the app; these pin what the table does itself: rows
are built when they are about to be painted (or read), lines are drawn one at a time from the
rows on screen, and the header stays on the top line however far the rows scroll.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import Input

from wmtui.ui.widgets.job_table import COLUMN_KEYS, JobIdCell, JobTable, RowCells
from wmtui.ui.widgets.row_lines import RowPainter

SIZE = (110, 24)
ROWS = 2_000
# The rows a 24-line terminal can show at once, with a row beyond each edge.
ON_SCREEN = SIZE[1] + 2


class TableApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.highlights: list[tuple[str | None, int]] = []

    def compose(self) -> ComposeResult:
        yield JobTable(id="jobs")

    def on_job_table_row_highlighted(self, event: JobTable.RowHighlighted) -> None:
        self.highlights.append((event.row_key, event.cursor_row))


class Rows:
    """Row contents by key, and a count of how many rows were built."""

    def __init__(self, count: int) -> None:
        self.keys = [f"job-{n:05d}" for n in range(count)]
        self.progress = dict.fromkeys(self.keys, 10)
        self.description: dict[str, str] = {}
        self.built: list[str] = []

    def build(self, key: str) -> RowCells:
        self.built.append(key)
        progress = self.progress.get(key, 10)
        return (
            JobIdCell(key, key),
            Text("mailbox"),
            Text("Running", style="bold green"),
            Text(f"{progress:>3}%"),
            Text("2h ago"),
            Text("ETA 5m"),
            Text(self.description.get(key, "a description"), overflow="ellipsis"),
        )


def strips(table: JobTable) -> list[Strip]:
    region = Region(0, 0, table.size.width, table.size.height)
    return table.render_lines(region)


def painted(table: JobTable) -> list[str]:
    """The lines the table paints now, as a user reads them."""
    return [strip.text for strip in strips(table)]


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


# ---- lazy rows -----------------------------------------------------------------------------


async def test_a_sync_builds_only_the_rows_on_screen_and_paints_them_new() -> None:
    rows = Rows(ROWS)
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await _filled(app, pilot, rows)
        assert len(rows.built) <= ON_SCREEN  # the first paint built what it showed
        assert " 10%" in painted_row(table, "job-00000")

        rows.built.clear()
        for key in rows.keys:
            rows.progress[key] = 55
        table.sync(rows.keys, rows.build, rows.keys)
        assert rows.built == []  # nothing built until the sync's caller is done
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
        assert painted(table)[0].startswith(" Job ")  # the header did not scroll away


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


# ---- what is painted -----------------------------------------------------------------------


async def test_the_header_and_rows_read_as_columns_cropped_with_an_ellipsis() -> None:
    rows = Rows(30)
    rows.description["job-00001"] = "a description far too long for the room the column has " * 3
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await _filled(app, pilot, rows)
        widths = table.widths
        lines = painted(table)
        assert all(len(line) == SIZE[0] for line in lines)  # blank fill to the right edge
        header = lines[0]
        start = 0
        for key, label in zip(COLUMN_KEYS, ["Job", "Mailbox", "State", "Progress"], strict=False):
            cell = header[start : start + widths[key] + 2]
            assert cell == f" {label}".ljust(widths[key] + 2), key
            start += widths[key] + 2
        first = lines[1]
        assert first.startswith(" job-00000  mailbox ")
        assert " Running " in first
        long_line = painted_row(table, "job-00001")
        description_start = sum(widths[key] + 2 for key in COLUMN_KEYS[:-1])
        description = long_line[description_start : description_start + widths["description"] + 2]
        assert description.rstrip().endswith("…")
        assert len(description) == widths["description"] + 2


async def test_the_cursor_row_looks_different_and_follows_the_keys() -> None:
    rows = Rows(100)
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await _filled(app, pilot, rows)
        table.focus()
        await pilot.pause()

        def background(line: int) -> Any:
            strip = strips(table)[line]
            return next(iter(strip)).style.bgcolor  # type: ignore[union-attr]

        assert background(1) != background(2)  # the cursor is on the first row
        assert background(2) == background(3)
        await pilot.press("j", "j")
        await pilot.pause()
        assert table.cursor_row == 2
        assert background(3) != background(2) == background(1)
        assert table.selected_key == "job-00002"
        header_style = next(iter(strips(table)[0])).style
        assert header_style is not None and header_style.bold


async def test_a_cursor_move_renders_only_the_two_rows_it_touches(monkeypatch: Any) -> None:
    rows = Rows(200)
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await _filled(app, pilot, rows)
        table.focus()
        await pilot.pause()
        rendered: list[str] = []
        original = JobTable._line

        def spy(self: JobTable, cells: RowCells, *args: Any) -> Strip:
            rendered.append(cells[0].plain)
            return original(self, cells, *args)

        monkeypatch.setattr(JobTable, "_line", spy)
        await pilot.press("j")
        await pilot.pause()
        assert sorted(rendered) == ["job-00000", "job-00001"]


async def test_paging_and_the_ends_keep_the_cursor_on_screen() -> None:
    rows = Rows(500)
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await _filled(app, pilot, rows)
        table.focus()
        for key, row in (("pagedown", 23), ("pagedown", 46), ("pageup", 23), ("G", 499)):
            await pilot.press(key)
            await pilot.pause()
            assert table.cursor_row == row, key
            assert painted_row(table, rows.keys[row])
        await pilot.press("g")
        await pilot.pause()
        assert table.cursor_row == 0
        assert painted(table)[1].startswith(" job-0000")


async def test_a_click_puts_the_cursor_on_that_row_and_moves_are_announced() -> None:
    rows = Rows(50)
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await _filled(app, pilot, rows)
        assert app.highlights == [("job-00000", 0)]
        await pilot.click(JobTable, offset=(20, 4))
        await pilot.pause()
        assert table.cursor_row == 3
        assert app.highlights[-1] == ("job-00003", 3)
        # A sync that takes a row out above the cursor: same job, new index, announced.
        table.sync(rows.keys[1:], rows.build)
        await pilot.pause()
        assert table.selected_key == "job-00003"
        assert app.highlights[-1] == ("job-00003", 2)
        # The job under the cursor goes: the cursor stays at its index, on another job.
        table.sync([key for key in rows.keys[1:] if key != "job-00003"], rows.build)
        await pilot.pause()
        assert app.highlights[-1] == ("job-00004", 2)


async def test_a_sync_to_a_few_rows_while_scrolled_down_shows_them_all() -> None:
    rows = Rows(ROWS)
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await _filled(app, pilot, rows)
        table.focus()
        await pilot.press("G")
        await pilot.pause()
        few = rows.keys[100:110]  # what a filter leaves
        table.sync(few, rows.build)
        await pilot.pause()
        lines = painted(table)
        assert [line.split()[0] for line in lines[1:11]] == few
        assert table.selected_key == few[-1]  # the cursor's index, clamped
        assert painted_row(table, few[-1])


async def test_the_mouse_highlights_the_row_under_it_until_a_key_moves_the_cursor() -> None:
    rows = Rows(50)
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await _filled(app, pilot, rows)
        table.focus()

        def background(line: int) -> Any:
            return next(iter(strips(table)[line])).style.bgcolor  # type: ignore[union-attr]

        plain = background(6)
        await pilot.hover(JobTable, offset=(20, 5))
        await pilot.pause()
        assert background(5) != plain
        assert table.cursor_row == 0  # hovering is not selecting
        await pilot.press("j")
        await pilot.pause()
        assert background(5) == plain


async def test_the_cursor_row_stays_marked_when_the_table_loses_the_focus() -> None:
    class TwoWidgets(TableApp):
        def compose(self) -> ComposeResult:
            yield JobTable(id="jobs")
            yield Input()

    rows = Rows(30)
    app = TwoWidgets()
    async with app.run_test(size=SIZE) as pilot:
        table = await _filled(app, pilot, rows)
        table.focus()
        await pilot.pause()

        def cursor_and_plain() -> tuple[Any, Any]:
            lines = strips(table)
            return next(iter(lines[1])).style, next(iter(lines[2])).style

        focused, plain = cursor_and_plain()
        app.query_one(Input).focus()
        await pilot.pause()
        blurred, _ = cursor_and_plain()
        assert focused != plain and blurred != plain
        assert blurred != focused  # DataTable's dimmer cursor when blurred


# ---- cells as Rich renders them -----------------------------------------------------------

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
    lambda: Text("left", justify="left", style="on blue"),
    lambda: JobIdCell("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "k", "dim"),
    lambda: Text("trailing spaces   ", style="underline"),
    lambda: Text("  leading"),
    lambda: Text("two\nlines"),
    lambda: Text("a\ttab"),
]


def _seen(segments: list[Segment]) -> list[tuple[str, Style | None]]:
    """Each character a user sees, with its style: segment boundaries aside."""
    return [
        (character, segment.style)
        for segment in Segment.simplify(segments)
        for character in segment.text
    ]


async def test_cells_read_and_look_as_rich_renders_them_in_their_width() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE):
        console, options = app.console, app.console_options
        painter = RowPainter([10] * len(COLUMN_KEYS))
        for make in CELLS:
            for width in (1, 2, 3, 5, 9, 11, 40):
                cell = make()
                sized = options.update(width=width, height=1, no_wrap=True)
                lines = Segment.split_and_crop_lines(
                    console.render(cell, sized), width, include_new_lines=False
                )
                expected = next(iter(lines), [Segment(" " * width)])
                ours = painter._render_text(console, options, cell, width)
                assert _seen(ours) == _seen(expected), (cell.plain, width)


# ---- syncs in any order --------------------------------------------------------------------

KEYS = [f"k{n:02d}" for n in range(40)]

_step = st.one_of(
    st.tuples(
        st.just("sync"),
        st.lists(st.sampled_from(KEYS), unique=True, max_size=len(KEYS)),
        st.one_of(st.none(), st.sets(st.sampled_from(KEYS))),
    ),
    st.tuples(st.just("move"), st.integers(min_value=-3, max_value=45), st.none()),
    st.tuples(st.just("select"), st.sampled_from(KEYS), st.none()),
)


async def test_random_syncs_show_exactly_the_order_given_with_the_cursor_on_its_job() -> None:
    app = TableApp()
    async with app.run_test(size=(110, 12)):
        table = app.query_one(JobTable)
        version: dict[str, int] = {}

        def build(key: str) -> RowCells:
            return tuple(Text(f"{key}-{version.get(key, 0)}") for _ in COLUMN_KEYS)

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(_step, max_size=25))
        def check(steps: list[tuple[Any, Any, Any]]) -> None:
            table.clear()
            order: list[str] = []
            for kind, value, dirty in steps:
                if kind == "sync":
                    before = table.selected_key
                    for key in dirty or ():
                        version[key] = version.get(key, 0) + 1
                    # Sometimes the same list again, as the app hands it while the order holds.
                    order = order if value == order else value
                    table.sync(order, build, dirty)
                    assert table.row_keys_in_order() == order
                    assert table.row_count == len(order)
                    if before is not None and before in order:
                        assert table.selected_key == before
                elif kind == "move":
                    table.move_cursor(row=value)
                elif table.select_key(value):
                    assert table.selected_key == value
                else:
                    assert value not in order
                keys = table.row_keys_in_order()
                assert len(set(keys)) == len(keys)
                if order:
                    assert 0 <= table.cursor_row < len(order)
                    assert table.selected_key == order[table.cursor_row]
                else:
                    assert table.selected_key is None
                for key in order:
                    assert table.get_cell(key, "state").plain == f"{key}-{version.get(key, 0)}"
                painted(table)  # paints without error whatever the state

        check()
