"""The job table: one row per watched job, keyed by str(JobKey), updated in place.

A refresh changes only the cells whose text changed, adds and removes only the rows that came
or went, and then puts the cursor back on the job it was on. `clear()` is used only when a
filter hides most of a large table, because `remove_row` costs O(rows) each.

Two things DataTable does for any table are skipped here because this one has fixed column
widths and one-line rows: measuring every new row's cells (on idle, 70,000 measurements for
10,000 rows) and dropping every render cache when one cell changes (`update_cell` bumps the
table's update count, which also rebuilds the row order and offsets over all rows and renders
every visible cell again). `_set_cells` drops only the changed cells' cached renders instead.

Rows are also built lazily. A sync only marks the rows whose job changed as stale; a stale row
is built again (and compared cell by cell with what it showed) when it is about to be painted
or when its cells are read. A refresh that changes a thousand rows of ten thousand builds the
forty or so on screen, so the key that arrives meanwhile does not wait for the other 960.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from itertools import chain
from typing import Any, ClassVar, Self, cast

from rich.console import ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual._segment_tools import line_crop
from textual._types import SegmentLines
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets._data_table import ColumnKey, RowKey

from wmtui.ui.widgets.cells import same_look

# (key, label, width): None where the width follows the table's (see `column_widths`).
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("job", "Job", None),
    ("mailbox", "Mailbox", None),
    ("state", "State", 11),
    ("progress", "Progress", 9),
    ("started", "Started", 8),
    ("time", "Time", 9),
    ("description", "Description", None),
)
COLUMN_KEYS: tuple[str, ...] = tuple(key for key, _, _ in COLUMNS)
# A job ID is a UUID: its first group and "…" tell jobs apart at a glance; the pane has it all.
SHORT_JOB_WIDTH = 9
FULL_JOB_WIDTH = 36
MAILBOX_RANGE = (10, 28)
MIN_DESCRIPTION = 10
_CELL_PADDING = 1


def column_widths(width: int) -> dict[str, int]:
    """Column widths for a table `width` cells wide, so that no column is pushed out of view.

    State, progress and the two times keep their widths; the job ID shows in full only when
    there is room to spare; the mailbox gets about two fifths of the rest and the description
    what is left (at least MIN_DESCRIPTION, taken from the mailbox when it comes to that).
    """
    fixed = {key: size for key, _, size in COLUMNS if size is not None}
    room = width - 2 * _CELL_PADDING * len(COLUMNS) - sum(fixed.values())
    low, high = MAILBOX_RANGE
    mailbox = max(low, min(high, room * 2 // 5))
    job = FULL_JOB_WIDTH if room - FULL_JOB_WIDTH - high >= 40 else SHORT_JOB_WIDTH
    description = room - job - mailbox
    if description < MIN_DESCRIPTION:
        borrowed = max(0, min(MIN_DESCRIPTION - description, mailbox - low))
        mailbox -= borrowed
        description += borrowed
    return {"job": job, "mailbox": mailbox, **fixed, "description": max(1, description)}


RowCells = tuple[Text, ...]

# Past this many removals at once, rebuilding is cheaper than removing row by row.
_REBUILD_AFTER_REMOVALS = 200
# Rendered cell texts by content and width: progress bars, states and times repeat a lot.
_TEXT_CACHE_SIZE = 4096
# Rendered cells, and rendered rows and lines: enough for 100 rows on screen and as many again.
_CELL_CACHE_SIZE = 2_000
_ROW_CACHE_SIZE = 400


class JobIdCell(Text):
    """The job column's cell, which also carries its row key.

    `DataTable.sort` hands the key function cell values only, never the row key: this is how
    the table is put in the app's order without touching DataTable internals.
    """

    def __init__(self, text: str, row_key: str, style: str | Any = "") -> None:
        super().__init__(text, style=style, no_wrap=True, end="", overflow="ellipsis")
        self.row_key = row_key


def _empty(cache: LRUCache[Any, Any]) -> None:
    """LRUCache.clear(), without leaving garbage for the cycle collector.

    LRUCache keeps its entries in a ring of links; clear() drops the ring whole, so it and
    all it holds (a thousand rendered lines, their segments and caches) wait for a full
    collection, which then takes the UI thread for tens of milliseconds. Taken out one by
    one, each entry is freed at once.
    """
    for key in list(cache.keys()):
        cache.discard(key)


class JobTable(DataTable[Text]):
    """DataTable with vi keys, row cursor, fixed column keys and in-place sync."""

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
            "app.focus_detail",
            "Details",
            show=False,
            tooltip="Move the focus to the detail pane (Esc or Tab comes back)",
        ),
    ]

    # While a sync runs, refresh() calls are gathered into one (see `refresh`). Class-level:
    # DataTable.__init__ already calls refresh().
    _deferring = False
    _deferred: tuple[bool, bool, list[Region]] | None = None

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            id=id,
            classes=classes,
            cursor_type="row",
            zebra_stripes=False,
            cell_padding=_CELL_PADDING,
        )
        # What each row shows now, by row key: compared with a rebuilt row to find changes.
        self._shown: dict[str, RowCells] = {}
        # The `order` of the last sync: the app hands the same list while the order holds.
        self._synced_order: Sequence[str] | None = None
        # Rows whose content may have changed since they were last built, and how to build them.
        self._stale: set[str] = set()
        self._build: Callable[[str], RowCells] | None = None
        self._text_cache: LRUCache[tuple[Any, ...], list[Segment]] = LRUCache(_TEXT_CACHE_SIZE)
        # DataTable's render caches are sized for any table (up to 10,000 rendered cells);
        # this one needs the rows a terminal shows, a few times over. Every cached render is
        # objects that each full garbage collection walks while a key press waits.
        self._cell_render_cache.maxsize = _CELL_CACHE_SIZE
        for cache in (self._row_render_cache, self._row_renderable_cache, self._line_cache):
            cache.maxsize = _ROW_CACHE_SIZE
        self._text_options: dict[int, ConsoleOptions] = {}
        self._when_painted: list[Callable[[], object]] = []
        self._paint_style: Style | None = None
        # The widths of a table beside the detail pane in a 120-column terminal, until resized.
        self._widths = column_widths(87)
        for key, label, _ in COLUMNS:
            self.add_column(label, key=key, width=self._widths[key])

    @property
    def widths(self) -> dict[str, int]:
        """The columns' widths now (without padding)."""
        return dict(self._widths)

    def on_resize(self, event: events.Resize) -> None:
        self.fit_columns()

    def fit_columns(self) -> None:
        """Size the columns to the table's width; cells crop with "…" themselves."""
        # The vertical scrollbar's room is kept either way, so rows coming and going never
        # change the layout.
        width = self.size.width - self.styles.scrollbar_size_vertical
        if width <= 0:
            return
        widths = column_widths(width)
        if widths == self._widths:
            return
        self._widths = widths
        for column in self.columns.values():
            column.width = widths[str(column.key.value)]
            column.auto_width = False
        # DataTable caches rendered cells by row and column, not by width: start afresh.
        self._clear_caches()
        self._require_update_dimensions = True
        self.refresh(layout=True)

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        # update_cell refreshes the whole widget on every call; during a sync of a thousand
        # cells, one refresh at the end does the same work once.
        if self._deferring and not recompose:
            old_repaint, old_layout, old_regions = self._deferred or (False, False, [])
            self._deferred = (
                old_repaint or repaint,
                old_layout or layout,
                [*old_regions, *regions],
            )
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def call_when_painted(self, callback: Callable[[], object]) -> None:
        """Call `callback` (once) after the table has been painted with its rows in place."""
        self._when_painted.append(callback)
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._stale:
            self._build_visible()
        # The widget's style, looked up once per paint: DataTable looks it up for every line,
        # walking the DOM each time.
        self._paint_style = self.rich_style
        try:
            lines = super().render_lines(crop)
        finally:
            self._paint_style = None
        if self._when_painted and not self._require_update_dimensions:
            callbacks, self._when_painted = self._when_painted, []
            for callback in callbacks:
                # After this screen update has been written out.
                self.call_after_refresh(callback)
        return lines

    def render_line(self, y: int) -> Strip:
        """DataTable.render_line with the style of this paint (see `render_lines`)."""
        style = self._paint_style
        if style is None or self.fixed_rows:
            return super().render_line(y)
        scroll_x, scroll_y = self.scroll_offset
        if not self.show_header or y >= self.header_height:
            y += scroll_y
        return self._render_line(y, scroll_x, scroll_x + self.size.width, style)

    @property
    def _lines_by_row(self) -> bool:
        """Whether body lines are rendered and cached by row here (see `_render_line`)."""
        return (
            self.cursor_type == "row"
            and not self.fixed_columns
            and not (self._labelled_row_exists and self.show_row_labels)
        )

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """DataTable._render_line for a body row, its cache keyed the same way as the row's
        render (see `_render_line_in_row`): after a cursor move, the lines of the rows it
        did not touch come from the cache, and so does a line scrolled back into view."""
        width = self.size.width
        try:
            row_key, y_offset_in_row = self._get_offsets(y)
        except LookupError:
            return Strip.blank(width, base_style)
        row_index = self._row_locations.get(row_key)
        if row_index is None or row_key is self._header_row_key or not self._lines_by_row:
            return super()._render_line(y, x1, x2, base_style)
        cursor_location = self.cursor_coordinate
        hover_location = self.hover_coordinate
        # The row first, as in the row cache: a change to a row drops its lines alone.
        cache_key = (
            row_key,
            y,
            x1,
            x2,
            width,
            cursor_location.row == row_index,
            hover_location.row == row_index,
            base_style,
            self.show_cursor,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        # Keyed differently from DataTable's own entries (the header's), which it keeps.
        cache = cast("LRUCache[tuple[Any, ...], Strip]", self._line_cache)
        strip = cache.get(cache_key)
        if strip is None:
            _, scrollable = self._render_line_in_row(
                row_key, y_offset_in_row, base_style, cursor_location, hover_location
            )
            segments = line_crop(list(chain.from_iterable(scrollable)), x1, x2, width)
            strip = Strip(segments).adjust_cell_length(width, base_style).simplify()
            cache[cache_key] = strip
        return strip

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        """DataTable's cell render, for a one-line Text cell, without Rich's generic layers.

        DataTable renders each cell as Styled(Padding(cell)) through Console.render_lines:
        about a tenth of a millisecond a cell, and a refresh that changes the forty rows on
        screen renders a hundred cells. Here the cell's text is rendered once per content
        and width (shared by every row that shows it), padded, and the same pre and post
        styles are applied: the same characters in the same styles (tests/test_job_table.py
        compares the two). Anything else (the header, a multi-line cell) goes to DataTable.
        """
        if row_index < 0 or column_index < 0 or self.fixed_rows or self.fixed_columns:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        cache_key: tuple[RowKey, ColumnKey, Style, bool, bool, bool, int, Any] = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cache = self._cell_render_cache
        if cache_key in cache:
            return cache[cache_key]
        cell = self._get_row_renderables(row_index).cells[column_index]
        pad = self.cell_padding
        if (
            not isinstance(cell, Text)
            or self.rows[row_key].height != 1
            or "\n" in cell.plain
            or "\t" in cell.plain
            or width < 2 * pad
        ):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        pre_style = (
            base_style + Style.from_meta({"row": row_index, "column": column_index})
        ) + component_style
        line = [Segment(" " * pad), *self._text_line(cell, width - 2 * pad), Segment(" " * pad)]
        lines = [list(Segment.apply_style(line, style=pre_style, post_style=post_style))]
        cache[cache_key] = lines
        return lines

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[SegmentLines, SegmentLines]:
        """DataTable's row render for this table's case, without the steps it never needs.

        A row cursor, no row labels, no fixed rows or columns, no zebra stripes: the row's
        style is the base style, and the header's style (looked up through the CSS on every
        row by DataTable) is not used. The same segments come out (tests/test_job_table.py).
        """
        if (
            row_key is self._header_row_key
            or self.cursor_type != "row"
            or self.fixed_rows
            or self.fixed_columns
            or self.zebra_stripes
            or (self._labelled_row_exists and self.show_row_labels)
            or (row_index := self._row_locations.get(row_key)) is None
        ):
            return super()._render_line_in_row(
                row_key, line_no, base_style, cursor_location, hover_location
            )
        cursor = cursor_location.row == row_index
        hover = hover_location.row == row_index
        # Whether this row has the cursor or the mouse, not where they are: when the cursor
        # moves (and the table scrolls), the rows it did not touch keep their renders.
        cache_key = (
            row_key,
            line_no,
            base_style,
            cursor,
            hover,
            self.cursor_type,
            self.show_cursor,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cache = cast(
            "LRUCache[tuple[Any, ...], tuple[SegmentLines, SegmentLines]]",
            self._row_render_cache,
        )
        if cache_key in cache:
            return cache[cache_key]
        render_cell = self._render_cell
        padding = 2 * self.cell_padding
        scrollable_row: SegmentLines = []
        table_width = self._row_label_column_width
        for column_index, column in enumerate(self.ordered_columns):
            width = padding + (column.content_width if column.auto_width else column.width)
            table_width += width
            scrollable_row.append(
                render_cell(row_index, column_index, base_style, width, cursor, hover)[line_no]
            )
        extend_style, _ = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            False,
            False,
        )
        extend_style = base_style + extend_style
        extend_style += Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        remaining = max(0, self.size.width - table_width)
        scrollable_row.append([Segment(" " * remaining, extend_style)])
        row_pair: tuple[SegmentLines, SegmentLines] = ([], scrollable_row)
        cache[cache_key] = row_pair
        return row_pair

    def _text_line(self, cell: Text, width: int) -> list[Segment]:
        """A one-line Text rendered `width` cells wide, as Rich renders it inside Padding."""
        key = (cell.plain, cell.style, tuple(cell.spans), cell.overflow, cell.justify, width)
        segments = self._text_cache.get(key)
        if segments is None:
            options = self._text_options.get(width)
            if options is None:
                options = self.app.console_options.update(width=width, height=1, no_wrap=True)
                self._text_options[width] = options
            rendered = self.app.console.render(cell, options)
            segments = Segment.adjust_line_length(
                [segment for segment in rendered if segment.text != "\n"], width, pad=True
            )
            self._text_cache[key] = segments
        return segments

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # Every column has a fixed width and every row one line: measuring the new rows'
        # cells would change nothing (it is most of the start-up time with 10,000 rows).
        super()._update_dimensions(())

    def _set_cells(self, changes: Sequence[tuple[str, str, Text]]) -> None:
        """`update_cell` for many cells, dropping only the changed cells' cached renders.

        update_cell would bump the update count that keys every DataTable cache, so the next
        paint rebuilds the row order and offsets over all rows and renders every visible
        cell again. Rows and their order do not change here, only cell values.
        """
        data = self._data
        rows: set[RowKey] = set()
        cells: set[tuple[RowKey, ColumnKey]] = set()
        for row, column, value in changes:
            row_key = RowKey(row)
            column_key = ColumnKey(column)
            data[row_key][column_key] = value
            rows.add(row_key)
            cells.add((row_key, column_key))
        if not rows:
            return
        # Row contents, keyed by (update count, row index).
        renderables = self._row_renderable_cache
        for row_key in rows:
            index = self._row_locations.get(row_key)
            if index is not None:
                renderables.discard((self._update_count, index))
        # LRUCache has keys() but no __iter__. Rendered cells are keyed by (row, column, ...),
        # rendered rows and (see `_render_line`) body lines by (row, ...).
        cell_cache = cast("LRUCache[tuple[Any, ...], object]", self._cell_render_cache)
        for key in [key for key in cell_cache.keys() if key[:2] in cells]:  # noqa: SIM118
            cell_cache.discard(key)
        caches: list[LRUCache[tuple[Any, ...], Any]] = [cast(Any, self._row_render_cache)]
        if self._lines_by_row:
            caches.append(cast(Any, self._line_cache))
        else:
            _empty(self._line_cache)
        for cache in caches:
            for key in [key for key in cache.keys() if key[0] in rows]:  # noqa: SIM118
                cache.discard(key)

    # ---- lazy rows ------------------------------------------------------------------------

    def invalidate(self, keys: Iterable[str] | None = None) -> None:
        """Build these rows (None: all) again when they are next painted or read.

        Rows whose cells come out the same are left as they were, so this is cheap to call
        for rows that depend on the clock alone.
        """
        if keys is None:
            self._stale.update(self._shown)
        else:
            shown = self._shown
            self._stale.update(key for key in keys if key in shown)
        if self._stale:
            self.refresh()

    def _build_rows(self, keys: Iterable[str]) -> bool:
        """Build the stale rows among `keys` now; True if any cell changed."""
        build = self._build
        stale = self._stale
        changes: list[tuple[str, str, Text]] = []
        for key in keys:
            if key not in stale:
                continue
            stale.discard(key)
            if build is not None and key in self._shown:
                self._update_row(key, build(key), changes)
        self._set_cells(changes)
        return bool(changes)

    def _build_visible(self) -> None:
        """Build the stale rows on screen (and one beyond each edge), before they are painted."""
        offsets = self._y_offsets
        top = self.scroll_offset.y
        first = max(0, top - 1)
        last = min(len(offsets), top + self.size.height + 1)
        self._build_rows({str(offsets[y][0].value) for y in range(first, last)})

    def _build_row(self, row_key: RowKey | str) -> None:
        key = str(row_key.value) if isinstance(row_key, RowKey) else row_key
        if key in self._stale and self._build_rows((key,)):
            # Read while painting, past the rows built beforehand: paint again to be sure.
            self.refresh()

    def get_cell(self, row_key: RowKey | str, column_key: ColumnKey | str) -> Text:
        self._build_row(row_key)
        return super().get_cell(row_key, column_key)

    def get_row(self, row_key: RowKey | str) -> list[Text]:
        self._build_row(row_key)
        return super().get_row(row_key)

    def get_column(self, column_key: ColumnKey | str) -> Iterable[Text]:
        if self._build_rows(list(self._stale)):
            self.refresh()
        return super().get_column(column_key)

    @property
    def selected_key(self) -> str | None:
        """The row key under the cursor, or None when the table is empty."""
        if self.row_count == 0:
            return None
        index = min(max(self.cursor_row, 0), self.row_count - 1)
        value = self.ordered_rows[index].key.value
        return value

    def row_keys_in_order(self) -> list[str]:
        return [str(row.key.value) for row in self.ordered_rows]

    def select_key(self, key: str) -> bool:
        """Put the cursor on `key`; False if that job is not shown."""
        try:
            index = self.get_row_index(key)
        except Exception:  # RowDoesNotExist: filtered out or not watched
            return False
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False)
        return True

    def sync(
        self,
        order: Sequence[str],
        build: Callable[[str], RowCells],
        dirty: Collection[str] | None = None,
    ) -> None:
        """Make the table show exactly `order`, in that order, touching only what changed.

        `build(key)` gives a row's cells in COLUMN_KEYS order. `dirty` names the rows whose
        content may have changed (None: all of them); other existing rows are left alone.
        """
        self._build = build
        self._deferring = True
        try:
            self._sync(order, build, dirty)
        finally:
            self._deferring = False
            deferred, self._deferred = self._deferred, None
            if deferred is not None:
                repaint, layout, regions = deferred
                super().refresh(*regions, repaint=repaint, layout=layout)

    def _sync(
        self,
        order: Sequence[str],
        build: Callable[[str], RowCells],
        dirty: Collection[str] | None,
    ) -> None:
        selected = self.selected_key
        old_index = self.cursor_row
        present: Collection[str] = self._shown.keys()
        # The order the last sync left, rows only changing content: no O(rows) work at all.
        same_rows = order is self._synced_order and len(order) == len(present)
        if same_rows:
            wanted: Collection[str] = present
            removed: set[str] = set()
        else:
            wanted = set(order)
            present = set(present)
            removed = present - wanted

        if not present or (
            len(removed) > _REBUILD_AFTER_REMOVALS and len(removed) * 2 > len(present)
        ):
            self._rebuild(order, build)
        else:
            for key in removed:
                self.remove_row(key)
                del self._shown[key]
                self._stale.discard(key)
            # Built when painted or read: see `invalidate`.
            self.invalidate(dirty)
            added = False
            for key in () if same_rows else order:
                if key not in self._shown:
                    cells = self._with_key(key, build(key))
                    self.add_row(*cells, key=key)
                    self._shown[key] = cells
                    added = True
            # The same order list as last time, nothing added or removed: no O(rows) check.
            if (added or removed or order is not self._synced_order) and (
                self.row_keys_in_order() != list(order)
            ):
                position = {key: index for index, key in enumerate(order)}
                self.sort("job", key=lambda cell: position[cell.row_key])

        self._synced_order = order
        if selected is not None and selected in wanted:
            self.select_key(selected)
        elif self.row_count:
            target = min(max(old_index, 0), self.row_count - 1)
            if target != self.cursor_row:
                self.move_cursor(row=target, animate=False)

    def _rebuild(self, order: Sequence[str], build: Callable[[str], RowCells]) -> None:
        self._stale.clear()
        if self._shown:
            self.clear()
            self._shown.clear()
        shown = self._shown
        add_row = self.add_row
        for key in order:
            cells = self._with_key(key, build(key))
            add_row(*cells, key=key)
            shown[key] = cells

    def _update_row(self, key: str, cells: RowCells, changes: list[tuple[str, str, Text]]) -> None:
        old = self._shown[key]
        changed = [
            (column, new)
            for column, before, new in zip(COLUMN_KEYS, old, cells, strict=True)
            if not same_look(before, new)
        ]
        if not changed:
            return
        cells = self._with_key(key, cells)
        for column, cell in changed:
            changes.append((key, column, cells[0] if column == "job" else cell))
        self._shown[key] = cells

    @staticmethod
    def _with_key(key: str, cells: RowCells) -> RowCells:
        first = cells[0]
        if isinstance(first, JobIdCell) and first.row_key == key:
            return cells
        return (JobIdCell(first.plain, key, first.style), *cells[1:])
