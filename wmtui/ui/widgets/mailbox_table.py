"""The mailboxes table: fixed columns, a header that does not scroll, rows built when painted.

A `ScrollView` on Textual's line API, as the job table is: `render_line(y)` draws the header
(line 0) or the row under it, and a row's cells are asked for (`build(index)`) only when the row
is about to be painted. DataTable measures every cell of every row to size its columns, seconds
for 5,000 mailboxes; here the columns have set widths and 5,000 rows cost what 40 do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size, Spacing
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = Text | str
BuildRow = Callable[[int], Sequence[Cell]]


class MailboxTable(ScrollView, can_focus=True):
    """Rows of cells under a header, a row cursor, vi keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor_down", "Next", show=False),
        Binding("k,up", "cursor_up", "Previous", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("home", "first", "First", show=False),
        Binding("G,end", "last", "Last", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"mailbox-table--header", "mailbox-table--cursor"}
    DEFAULT_CSS = """
    MailboxTable {
        background: $surface;
        color: $foreground;
        & > .mailbox-table--header { text-style: bold; background: $panel; }
        & > .mailbox-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .mailbox-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    def __init__(self, columns: Sequence[tuple[str, int]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = list(columns)
        self.cursor_row = 0
        self.row_count = 0
        self.build: BuildRow = lambda index: ()
        # Each painted row's cells, by index: dropped whole when the rows change.
        self.built: dict[int, Sequence[Cell]] = {}

    @property
    def table_width(self) -> int:
        return sum(width + 1 for _, width in self.columns)

    def set_rows(self, count: int, build: BuildRow) -> None:
        """Show `count` rows; `build(index)` gives a row's cells when it is painted."""
        self.row_count = count
        self.build = build
        self.built.clear()
        self.virtual_size = Size(self.table_width, count + 1)
        self.cursor_row = max(0, min(self.cursor_row, count - 1))
        self.refresh()

    def update_rows(self, count: int, build: BuildRow) -> None:
        """As set_rows, but with the same count only the painted rows whose cells changed are
        drawn again (a refresh that moved nothing writes nothing to the terminal)."""
        if count != self.row_count:
            self.set_rows(count, build)
            return
        self.build = build
        old, self.built = self.built, {}
        for index, cells in old.items():
            fresh = self.built[index] = build(index)
            if list(fresh) != list(cells):
                self.refresh_row(index)

    def row_changed(self, index: int) -> None:
        self.built.pop(index, None)
        self.refresh_row(index)

    def cells_at(self, index: int) -> Sequence[Cell]:
        cells = self.built.get(index)
        if cells is None:
            cells = self.built[index] = self.build(index)
        return cells

    # ---- the cursor ----------------------------------------------------------------------------

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        old = self.cursor_row
        self.cursor_row = max(0, min(row, self.row_count - 1))
        self.refresh_row(old)
        self.refresh_row(self.cursor_row)
        # Line 0 is the header: the row sits one line lower than its index.
        self.scroll_to_region(
            Region(0, self.cursor_row + 1, 1, 1), animate=animate, spacing=Spacing(1, 0, 0, 0)
        )

    def refresh_row(self, index: int) -> None:
        top = int(self.scroll_offset.y)
        self.refresh(Region(0, index - top + 1, self.size.width, 1))

    def page_size(self) -> int:
        return max(1, self.size.height - 2)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_page_down(self) -> None:
        self.move_cursor(row=self.cursor_row + self.page_size())

    def action_page_up(self) -> None:
        self.move_cursor(row=self.cursor_row - self.page_size())

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=self.row_count - 1)

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_offset.y) + event.y - 1
        if 0 <= index < self.row_count:
            self.move_cursor(row=index)

    # ---- drawing -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("mailbox-table--header")
            return self.line_strip([label for label, _ in self.columns], style, width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= self.row_count:
            return Strip.blank(width, base)
        style = base
        if index == self.cursor_row:
            style = base + self.get_component_rich_style("mailbox-table--cursor")
        return self.line_strip(self.cells_at(index), style, width)

    def line_strip(self, cells: Sequence[Cell], style: Style, width: int) -> Strip:
        line = Text(no_wrap=True, end="")
        widths = [column_width for _, column_width in self.columns]
        # The last column takes whatever room the others leave.
        widths[-1] = max(widths[-1], width - sum(widths[:-1]) - len(widths))
        for column_width, cell in zip(widths, cells, strict=False):
            text = cell.copy() if isinstance(cell, Text) else Text(cell)
            text.truncate(column_width, overflow="ellipsis", pad=True)
            line.append_text(text)
            line.append(" ")
        segments = [
            Segment(s.text, style + s.style if s.style else style)
            for s in line.render(self.app.console)
        ]
        return Strip(segments).crop_extend(0, width, style)
