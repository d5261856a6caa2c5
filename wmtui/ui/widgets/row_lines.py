"""Drawing one row of the job table as a line of segments, the way DataTable draws it.

Each cell's text is rendered once per content and width (shared by every row that shows it:
progress bars, states and times repeat a lot), padded by a blank either side and styled with
the row's style under the cell's own and the cursor's colour over it; blank fill in the row's
style runs to the right edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.strip import Strip

from wmtui.ui.widgets.table_columns import CELL_PADDING

# Rendered cell texts by content and width.
_TEXT_CACHE_SIZE = 4096


class RowPainter:
    """Lines for rows of Text cells in columns of fixed widths."""

    def __init__(self, widths: Sequence[int]) -> None:
        self._text_cache: LRUCache[tuple[Any, ...], list[Segment]] = LRUCache(_TEXT_CACHE_SIZE)
        self._options: dict[int, ConsoleOptions] = {}
        self.widths: tuple[int, ...] = tuple(widths)

    @property
    def table_width(self) -> int:
        """The width of all the columns, padding included."""
        return sum(self.widths) + 2 * CELL_PADDING * len(self.widths)

    def line(
        self,
        console: Console,
        options: ConsoleOptions,
        cells: Sequence[Text],
        index: int,
        styles: tuple[Style, Style, Style],
        width: int,
    ) -> Strip:
        """Row `index` (-1: the header) at least `width` cells wide.

        `styles` are the row's style, the cursor's or the mouse's over it (a null Style for
        neither) and the widget's. The row and column go in the segments' meta, as DataTable
        puts them, for the mouse.
        """
        row_style, component, base_style = styles
        # The cursor's colour wins over a cell's own (DataTable's "css" foreground priority).
        post_style = Style.from_color(color=component.color)
        pad = Segment(" " * CELL_PADDING)
        segments: list[Segment] = []
        for column, (cell, cell_width) in enumerate(zip(cells, self.widths, strict=False)):
            pre_style = row_style + Style.from_meta({"row": index, "column": column}) + component
            text = self._text_line(console, options, cell, cell_width)
            line = [pad, *text, pad]
            segments.extend(Segment.apply_style(line, style=pre_style, post_style=post_style))
        table_width = self.table_width
        fill = row_style + component
        fill += Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
        segments.append(Segment(" " * max(0, width - table_width), fill))
        length = max(table_width, width)
        return Strip(segments).adjust_cell_length(length, base_style).simplify()

    def _text_line(
        self, console: Console, options: ConsoleOptions, cell: Text, width: int
    ) -> list[Segment]:
        """A one-line Text rendered `width` cells wide, as Rich renders it inside Padding."""
        key = (cell.plain, cell.style, tuple(cell.spans), cell.overflow, cell.justify, width)
        segments = self._text_cache.get(key)
        if segments is None:
            sized = self._options.get(width)
            if sized is None:
                sized = options.update(width=width, height=1, no_wrap=True)
                self._options[width] = sized
            rendered = console.render(cell, sized)
            lines = Segment.split_and_crop_lines(rendered, width, include_new_lines=False)
            # A row is one line high: a cell's first line is all it shows.
            segments = next(iter(lines), [Segment(" " * width)])
            self._text_cache[key] = segments
        return segments
