"""The job table: one row per watched job, keyed by str(JobKey), drawn line by line.

A `ScrollView` on Textual's line API: `render_line(y)` draws the header (line 0, which does
not scroll) or the row under it, so only the rows on screen are ever rendered, whatever the
number of jobs. Rows are also built lazily: a sync records the order and marks the rows whose
job may have changed as stale; a stale row is built again (and compared cell by cell with what
it showed) when it is about to be painted or when its cells are read. A refresh that changes a
thousand rows of ten thousand builds the forty or so on screen.

Rendered lines are cached by row and by whether the row has the cursor or the mouse: a cursor
move renders the two rows involved, a changed row drops only its own lines. The look (header,
cursor, hover) is DataTable's, taken from this widget's own component classes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from wmtui.ui.widgets.cells import same_look
from wmtui.ui.widgets.covered import HeldWhileCovered
from wmtui.ui.widgets.row_lines import TABLE_LOOK, RowPainter
from wmtui.ui.widgets.table_columns import (
    COLUMN_KEYS,
    COLUMNS,
    FULL_JOB_WIDTH,
    MAILBOX_RANGE,
    MIN_DESCRIPTION,
    SHORT_JOB_WIDTH,
    STANDARD_COLUMNS,
    ColumnSet,
    JobIdCell,
    RowCells,
    column_widths,
)

__all__ = [
    "COLUMNS",
    "COLUMN_KEYS",
    "FULL_JOB_WIDTH",
    "MAILBOX_RANGE",
    "MIN_DESCRIPTION",
    "SHORT_JOB_WIDTH",
    "JobIdCell",
    "JobTable",
    "RowCells",
    "column_widths",
]

# Rendered lines: the rows a terminal shows, a few times over (scrolling back finds them).
_LINE_CACHE_SIZE = 400


def _empty(cache: LRUCache[Any, Any]) -> None:
    """LRUCache.clear() entry by entry: clear() drops its ring of links whole, garbage that
    waits for a full collection (tens of milliseconds on the UI thread) to be freed."""
    for key in list(cache.keys()):
        cache.discard(key)


class _ChangedRows:
    """Rows on screen marked stale, with their generation then: built once the handler that
    marked them is done (a key press waits less), and repainted only if they changed."""

    def __init__(self, table: JobTable) -> None:
        self.table = table
        self.unchecked: dict[str, int | None] = {}
        self.scheduled = False

    def mark(self, keys: Iterable[str]) -> None:
        generation = self.table._generation
        for key in keys:
            if key not in self.unchecked:
                self.unchecked[key] = generation.get(key)
        if self.unchecked and not self.scheduled:
            self.scheduled = True
            self.table.call_later(self.repaint)

    def repaint(self) -> None:
        table = self.table
        self.scheduled = False
        unchecked, self.unchecked = self.unchecked, {}
        top, bottom = table._visible_rows()
        for key, before in unchecked.items():
            index = table._position.get(key, -1)
            if not top <= index < bottom:
                continue  # built when it is painted or read
            if key in table._shown:
                table._build_row(key)
            if before is None or table._generation.get(key) != before:
                table._refresh_row(index)


class JobTable(ScrollView, HeldWhileCovered, can_focus=True):
    """The watched jobs, a row each, with vi keys, a row cursor and in-place sync."""

    # Priority bindings: the app runs them as soon as it reads the key, while the table has
    # the focus. A plain binding is found only after the key has been passed from the table
    # up through each of its parents, and a screen update (a refresh's repaint) can run at
    # every step of the way.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor_down", "Next job", show=False, priority=True),
        Binding("k,up", "cursor_up", "Previous job", show=False, priority=True),
        Binding("pagedown", "page_down", "Page down", show=False, priority=True),
        Binding("pageup", "page_up", "Page up", show=False, priority=True),
        Binding("g,home", "scroll_top", "First job", show=False, priority=True),
        Binding("G,end", "scroll_bottom", "Last job", show=False, priority=True),
        Binding(
            "enter,tab",
            "screen.focus_detail",
            "Details",
            show=False,
            tooltip="Move the focus to the detail pane (Esc or Tab comes back)",
        ),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "job-table--header",
        "job-table--header-hover",
        "job-table--cursor",
        "job-table--hover",
    }

    DEFAULT_CSS = TABLE_LOOK

    class RowHighlighted(Message):
        """The row under the cursor changed: another index, or another job at it."""

        def __init__(self, table: JobTable, row_key: str | None, cursor_row: int) -> None:
            super().__init__()
            self.table = table
            self.row_key = row_key
            self.cursor_row = cursor_row

        @property
        def control(self) -> JobTable:
            return self.table

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        # The rows in order, and each row's index in it.
        self._order: list[str] = []
        self._position: dict[str, int] = {}
        # The `order` of the last sync: the app hands the same list while the order holds.
        self._synced_order: Sequence[str] | None = None
        # What each row built so far shows, by row key: a row is built when first painted or
        # read, so with 10,000 jobs this holds the few dozen rows seen.
        self._shown: dict[str, RowCells] = {}
        # Built rows whose content may have changed since, and how to build a row.
        self._stale: set[str] = set()
        self._build: Callable[[str], RowCells] | None = None
        # Each built row's generation, part of its cached lines' keys: a row that changes
        # gets a new one, so its old lines are never found again (they age out of the cache).
        self._generation: dict[str, int] = {}
        self._generations = 0
        self._cursor = 0
        # The row under the mouse (-1: the header), shown only while the mouse moves.
        self._hover: int | None = None
        # The last (index, key) announced with RowHighlighted.
        self._highlighted: tuple[int, str | None] | None = None
        self._line_cache: LRUCache[tuple[Any, ...], Strip] = LRUCache(_LINE_CACHE_SIZE)
        self._when_painted: list[Callable[[], object]] = []
        # The widget's style, width and scroll offset for this paint (looked up once, not for
        # every line), and what the cached lines were drawn with.
        self._paint: tuple[Style, int, int, int] | None = None
        self._cached_look: tuple[Any, ...] | None = None
        self._scroll_pending = False
        self._unchecked = _ChangedRows(self)
        # The widths of a table beside the detail pane in a 120-column terminal, until resized.
        self._columns: ColumnSet = STANDARD_COLUMNS
        self._widths = column_widths(87)
        self._painter = RowPainter([self._widths[key] for key in COLUMN_KEYS])

    # ---- the public view of the rows --------------------------------------------------------

    @property
    def widths(self) -> dict[str, int]:
        """The columns' widths now (without padding)."""
        return dict(self._widths)

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def selected_key(self) -> str | None:
        """The row key under the cursor, or None when the table is empty."""
        if not self._order:
            return None
        return self._order[min(max(self._cursor, 0), len(self._order) - 1)]

    def row_keys_in_order(self) -> list[str]:
        return list(self._order)

    def get_row(self, row_key: str) -> list[Text]:
        """The cells `row_key` shows (built first if stale); KeyError if not shown."""
        return list(self._cells(row_key))

    def get_cell(self, row_key: str, column_key: str) -> Text:
        """The cell of `row_key` in `column_key` (built first if stale); KeyError if not shown."""
        return self._cells(row_key)[self._columns.index[column_key]]

    def set_columns(self, columns: ColumnSet) -> None:
        """Show these columns, every row built anew (the account column: several profiles)."""
        if columns != self._columns:
            self._columns, self._widths = columns, {}
            self._shown.clear()
            self.fit_columns()

    def _cells(self, key: str) -> RowCells:
        if key not in self._position:
            raise KeyError(key)
        self._build_row(key)
        return self._shown.get(key, ())

    # ---- sync ------------------------------------------------------------------------------

    def sync(
        self,
        order: Sequence[str],
        build: Callable[[str], RowCells],
        dirty: Collection[str] | None = None,
    ) -> None:
        """Make the table show exactly `order`, in that order, touching only what changed.

        `build(key)` gives a row's cells in COLUMN_KEYS order. `dirty` names the rows whose
        content may have changed (None: all of them); other existing rows are left alone.
        Rows are built when painted or read; the cursor stays on its job if it is still shown.
        """
        self._build = build
        selected = self.selected_key
        # The order the last sync left, rows only changing content: no O(rows) work at all.
        if order is self._synced_order and len(order) == len(self._order):
            self.invalidate(dirty)
            self._announce()
            return
        self._synced_order = order
        self._set_order(order)
        self.invalidate(dirty)
        if selected is not None and selected in self._position:
            self._place_cursor(self._position[selected])
        else:
            self._place_cursor(self._cursor)
        self.refresh()
        self._announce()

    def _set_order(self, order: Sequence[str]) -> None:
        shown = self._shown
        position = {key: index for index, key in enumerate(order)}
        if len(position) != len(order):  # a key twice: shown once, where it first comes
            order = list(dict.fromkeys(order))
            position = {key: index for index, key in enumerate(order)}
        for key in [key for key in shown if key not in position]:
            del shown[key]
            self._stale.discard(key)
            self._generation.pop(key, None)
        self._order = list(position)
        self._position = position
        self._update_virtual_size()

    def clear(self) -> None:
        """Show no rows at all."""
        self._synced_order = None
        self._set_order(())
        self._place_cursor(0)
        self.refresh()
        self._announce()

    def invalidate(self, keys: Iterable[str] | None = None) -> None:
        """Build these rows (None: all) again: those on screen once the caller's handler is
        done, the others when they are next painted or read. Rows that come out the same are
        not repainted (cheap for rows that follow the clock, and nothing is sent for them)."""
        shown = self._shown
        if keys is None:
            marked: Collection[str] = list(shown)
        else:
            marked = [key for key in keys if key in shown]
        if not marked:
            return
        self._stale.update(marked)
        self._refresh_rows(marked)

    def _refresh_rows(self, keys: Collection[str]) -> None:
        """Mark those of `keys` that are on screen to be built again: the lines of the rows
        that come out different are repainted, and a terminal is sent only those."""
        top, bottom = self._visible_rows()
        if len(keys) > bottom - top:
            order = self._order
            wanted = keys if isinstance(keys, set | frozenset | dict) else set(keys)
            indexes = [index for index in range(top, bottom) if order[index] in wanted]
        else:
            position = self._position
            indexes = [position[key] for key in keys if top <= position.get(key, -1) < bottom]
        self._unchecked.mark([self._order[index] for index in indexes])

    def _refresh_row(self, index: int) -> None:
        top, bottom = self._visible_rows()
        if top <= index < bottom:
            self.refresh(Region(0, index - top + 1, self.size.width, 1))

    def _visible_rows(self) -> tuple[int, int]:
        """The indexes of the first row on screen and of the one past the last."""
        top = round(self.scroll_y)
        return top, min(len(self._order), top + max(0, self.size.height - 1))

    # ---- building rows ---------------------------------------------------------------------

    def _build_row(self, key: str) -> None:
        """Build `key` if it is new or stale, and keep the cells whose look changed."""
        old = self._shown.get(key)
        if old is not None and key not in self._stale:
            return
        self._stale.discard(key)
        build = self._build
        if build is None:
            return
        cells = build(key)
        if old is None:
            self._shown[key] = cells
            self._new_generation(key)
            return
        self._set_cells(
            [
                (key, column, new)
                for column, before, new in zip(self._columns.keys, old, cells, strict=True)
                if not same_look(before, new)
            ]
        )

    def _set_cells(self, changes: Sequence[tuple[str, str, Text]]) -> None:
        """Put new values in cells (row key, column key, value); those rows are drawn anew."""
        shown = self._shown
        for row, column, value in changes:
            cells = shown.get(row)
            if cells is None:
                continue
            updated = list(cells)
            updated[self._columns.index[column]] = value
            shown[row] = tuple(updated)
        for row in {row for row, _, _ in changes}:
            self._new_generation(row)

    def _new_generation(self, key: str) -> None:
        self._generations += 1
        self._generation[key] = self._generations

    # ---- the cursor ------------------------------------------------------------------------

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        """Put the cursor on row `row` (clamped to the rows), scrolled into view."""
        self._place_cursor(row, animate=animate)
        self._announce()

    def select_key(self, key: str) -> bool:
        """Put the cursor on `key`; False if that job is not shown."""
        index = self._position.get(key)
        if index is None:
            return False
        if index != self._cursor:
            self.move_cursor(row=index)
        return True

    def _place_cursor(self, row: int, *, animate: bool = False) -> None:
        old = self._cursor
        new = min(max(row, 0), max(0, len(self._order) - 1))
        self._cursor = new
        if new != old:
            self._refresh_row(old)
            self._refresh_row(new)
        self._scroll_to_cursor(animate=animate)

    def _scroll_to_cursor(self, animate: bool = False) -> None:
        """Scroll so that the cursor's row is on screen (after the first layout if need be)."""
        visible = self.scrollable_content_region.height - 1
        if visible <= 0:
            if not self._scroll_pending:
                self._scroll_pending = True
                self.call_after_refresh(self._scroll_when_laid_out)
            return
        top = round(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=animate, force=True)
        elif self._cursor >= top + visible:
            self.scroll_to(y=self._cursor - visible + 1, animate=animate, force=True)

    def _scroll_when_laid_out(self) -> None:
        self._scroll_pending = False
        if self.scrollable_content_region.height > 1:
            self._scroll_to_cursor()

    def _announce(self) -> None:
        """Post RowHighlighted if the row under the cursor is not the one last announced."""
        now = (self._cursor, self.selected_key)
        if now != self._highlighted:
            self._highlighted = now
            self.post_message(self.RowHighlighted(self, now[1], now[0]))

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _keyboard(self) -> None:
        """A key moves the cursor: the mouse's highlight goes until the mouse moves."""
        if self._hover is not None:
            hover, self._hover = self._hover, None
            self._refresh_row(hover)

    def action_cursor_down(self) -> None:
        self._keyboard()
        self.move_cursor(row=self._cursor + 1)

    def action_cursor_up(self) -> None:
        self._keyboard()
        self.move_cursor(row=self._cursor - 1)

    def action_page_down(self) -> None:
        self._keyboard()
        page = self._page()
        self.scroll_to(y=self.scroll_y + page, animate=False, force=True)
        self.move_cursor(row=self._cursor + page)

    def action_page_up(self) -> None:
        self._keyboard()
        page = self._page()
        self.scroll_to(y=self.scroll_y - page, animate=False, force=True)
        self.move_cursor(row=self._cursor - page)

    def action_scroll_top(self) -> None:
        self._keyboard()
        self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        self._keyboard()
        self.move_cursor(row=len(self._order) - 1)

    # ---- the mouse -------------------------------------------------------------------------

    def _row_at(self, event: events.MouseEvent) -> int | None:
        """The row index under the mouse (-1: the header), or None past the last row."""
        offset = event.get_content_offset(self)
        if offset is None:
            return None
        if offset.y == 0:
            return -1
        index = round(self.scroll_y) + offset.y - 1
        return index if 0 <= index < len(self._order) else None

    def on_click(self, event: events.Click) -> None:
        index = self._row_at(event)
        if index is not None and index >= 0:
            event.stop()
            self.move_cursor(row=index)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._set_hover(self._row_at(event))

    def on_leave(self, event: events.Leave) -> None:
        self._set_hover(None)

    def _set_hover(self, index: int | None) -> None:
        old, self._hover = self._hover, index
        if old == index:
            return
        for row in (old, index):
            if row == -1:
                self.refresh(Region(0, 0, self.size.width, 1))
            elif row is not None:
                self._refresh_row(row)

    # ---- painting --------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self.fit_columns()
        self._scroll_to_cursor()

    def fit_columns(self) -> None:
        """Size the columns to the table's width; cells crop with "…" themselves."""
        # The vertical scrollbar's room is kept either way, so rows coming and going never
        # change the layout.
        width = self.size.width - self.styles.scrollbar_size_vertical
        if width <= 0:
            return
        widths = self._columns.widths(width)
        if widths == self._widths:
            return
        self._widths = widths
        self._painter.widths = tuple(widths[key] for key in self._columns.keys)
        _empty(self._line_cache)
        self._update_virtual_size()
        self.refresh()

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self._painter.table_width, len(self._order) + 1)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # Focus, theme or CSS changed: the cursor's and the header's look with them.
        _empty(self._line_cache)
        self._cached_look = None

    def call_when_painted(self, callback: Callable[[], object]) -> None:
        """Call `callback` (once) after the table has been painted with its rows in place."""
        self._when_painted.append(callback)
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        style = self.rich_style
        width = self.size.width
        look = (style, width, self.has_focus)
        if look != self._cached_look:
            _empty(self._line_cache)
            self._cached_look = look
        self._paint = (style, width, *self.scroll_offset)
        try:
            lines = super().render_lines(crop)
        finally:
            self._paint = None
        if self._when_painted and self.size.height > 0:
            callbacks, self._when_painted = self._when_painted, []
            for callback in callbacks:
                # After this screen update has been written out.
                self.call_after_refresh(callback)
        return lines

    def render_line(self, y: int) -> Strip:
        base_style, width, scroll_x, scroll_y = self._paint or (
            self.rich_style,
            self.size.width,
            *self.scroll_offset,
        )
        if y == 0:
            strip = self._header_line(base_style, width)
        else:
            index = scroll_y + y - 1
            if index >= len(self._order):
                return Strip.blank(width, base_style)
            strip = self._row_line(index, base_style, width)
        if scroll_x or strip.cell_length != width:
            strip = strip.crop(scroll_x, scroll_x + width).adjust_cell_length(width, base_style)
        return strip

    def _header_line(self, base_style: Style, width: int) -> Strip:
        hover = self._hover == -1
        key = ("", 0, False, hover)
        strip = self._line_cache.get(key)
        if strip is None:
            header = self.get_component_rich_style("job-table--header")
            component = Style()
            if hover:
                component += self.get_component_rich_style("job-table--hover")
                component += self.get_component_rich_style("job-table--header-hover")
            strip = self._line(self._columns.header, (header, component, base_style), width)
            self._line_cache[key] = strip
        return strip

    def _row_line(self, index: int, base_style: Style, width: int) -> Strip:
        key = self._order[index]
        if key in self._stale or key not in self._shown:
            self._build_row(key)
        cells = self._shown.get(key, ())
        cursor = index == self._cursor
        hover = index == self._hover
        # Not the row's index: a line found again after the rows moved is still the row's.
        cache_key = (key, self._generation.get(key, 0), cursor, hover)
        strip = self._line_cache.get(cache_key)
        if strip is None:
            component = Style()
            if hover:
                component += self.get_component_rich_style("job-table--hover")
            if cursor:
                component += self.get_component_rich_style("job-table--cursor")
            strip = self._line(cells, (base_style, component, base_style), width)
            self._line_cache[cache_key] = strip
        return strip

    def _line(self, cells: RowCells, styles: tuple[Style, Style, Style], width: int) -> Strip:
        app = self.app
        return self._painter.line(app.console, app.console_options, cells, styles, width)
