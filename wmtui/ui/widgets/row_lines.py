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

from wmtui.ui.widgets.table_columns import ALL_COLUMNS as COLUMNS
from wmtui.ui.widgets.table_columns import CELL_PADDING

# DataTable's look (its DEFAULT_CSS in Textual 8.2.8), under this table's own names.
TABLE_LOOK = """
JobTable {
    background: $surface;
    color: $foreground;
    height: auto;
    max-height: 100%;

    &:focus {
        background-tint: $foreground 5%;
        & > .job-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .job-table--header {
            background-tint: $foreground 5%;
        }
    }
    & > .job-table--header {
        text-style: bold;
        background: $panel;
        color: $foreground;
    }
    &:ansi > .job-table--header {
        background: ansi_bright_blue;
        color: ansi_default;
    }
    & > .job-table--cursor {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
        text-style: $block-cursor-blurred-text-style;
    }
    & > .job-table--header-hover {
        background: $accent 30%;
    }
    & > .job-table--hover {
        background: $block-hover-background;
    }
}
"""

# Rendered cell texts by content and width, and the same styled for a row (with or without
# the cursor or the mouse).
_TEXT_CACHE_SIZE = 4096


def _text_key(cell: Text) -> tuple[Any, ...]:
    """What a one-line Text looks like, as a key."""
    return (cell.plain, cell.style, tuple(cell.spans), cell.overflow, cell.justify)


# Each cell's segments carry their column, as DataTable's do: the segments of two cells are
# never joined, so the screen (and a screenshot) is made of the same runs as a DataTable's.
_COLUMN_META = tuple(Style.from_meta({"column": column}) for column in range(len(COLUMNS)))
_FILL_META = Style.from_meta({"out_of_bounds": True})


# Distinct pairs of row style and cursor style kept: normal, cursor, mouse, header, for a
# focused and a blurred table, in a theme or two.
_ROW_STYLES_KEPT = 64


# Characters that Rich lays out (new lines, tabs): a text holding one takes the long way.
_FOLDS = frozenset("\n\t")


class RowPainter:
    """Lines for rows of Text cells in columns of fixed widths."""

    def __init__(self, widths: Sequence[int]) -> None:
        self._text_cache: LRUCache[tuple[Any, ...], list[Segment]] = LRUCache(_TEXT_CACHE_SIZE)
        self._styled_cache: LRUCache[tuple[Any, ...], list[Segment]] = LRUCache(_TEXT_CACHE_SIZE)
        self._options: dict[int, ConsoleOptions] = {}
        # By (row style, cursor style): a number for cache keys, each column's style, the
        # fill's, and the style over the cells' own.
        self._row_styles: dict[tuple[Style, Style], tuple[int, tuple[Style, ...], Style, Style]]
        self._row_styles = {}
        self.widths = tuple(widths)

    @property
    def widths(self) -> tuple[int, ...]:
        """The columns' widths, without padding."""
        return self._widths

    @widths.setter
    def widths(self, widths: tuple[int, ...]) -> None:
        self._widths = widths
        self.table_width = sum(widths) + 2 * CELL_PADDING * len(widths)

    def line(
        self,
        console: Console,
        options: ConsoleOptions,
        cells: Sequence[Text],
        styles: tuple[Style, Style, Style],
        width: int,
    ) -> Strip:
        """A row's line, at least `width` cells wide.

        `styles` are the row's style, the cursor's or the mouse's over it (a null Style for
        neither) and the widget's.
        """
        row_style, component, base_style = styles
        number, pre_styles, fill, post_style = self._styles_of(row_style, component)
        segments: list[Segment] = []
        widths = self._widths
        for column, cell in enumerate(cells[: len(widths)]):
            key = (*_text_key(cell), widths[column], number, column)
            styled = self._styled_cache.get(key)
            if styled is None:
                pad = Segment(" " * CELL_PADDING)
                text = self._text_line(console, options, cell, widths[column])
                line = Segment.apply_style([pad, *text, pad], pre_styles[column], post_style)
                styled = self._styled_cache[key] = list(Segment.simplify(line))
            segments += styled
        table_width = self.table_width
        if width > table_width:
            segments.append(Segment(" " * (width - table_width), fill))
        length = max(table_width, width)
        if len(cells) == len(widths):  # every cell exactly its column's width
            return Strip(segments, length)
        return Strip(segments).adjust_cell_length(length, base_style)

    def _styles_of(
        self, row_style: Style, component: Style
    ) -> tuple[int, tuple[Style, ...], Style, Style]:
        found = self._row_styles.get((row_style, component))
        if found is None:
            if len(self._row_styles) >= _ROW_STYLES_KEPT:
                self._row_styles.clear()
                self._styled_cache.clear()
            found = (
                len(self._row_styles),
                tuple(row_style + meta + component for meta in _COLUMN_META),
                row_style + component + _FILL_META,
                # The cursor's colour wins over a cell's own (DataTable's "css" priority).
                Style.from_color(color=component.color),
            )
            self._row_styles[(row_style, component)] = found
        return found

    def _text_line(
        self, console: Console, options: ConsoleOptions, cell: Text, width: int
    ) -> list[Segment]:
        """A one-line Text rendered `width` cells wide, as Rich renders it inside Padding."""
        key = (*_text_key(cell), width)
        segments = self._text_cache.get(key)
        if segments is None:
            segments = self._text_cache[key] = self._render_text(console, options, cell, width)
        return segments

    def _render_text(
        self, console: Console, options: ConsoleOptions, cell: Text, width: int
    ) -> list[Segment]:
        plain = cell.plain
        length = cell.cell_len
        if length <= width and cell.justify in (None, "default") and not _FOLDS.intersection(plain):
            # What fits needs no wrapping, cropping or justifying: Rich's Text.render and
            # unstyled blanks, as console.render gives, at a fraction of its cost.
            fitted = list(cell.render(console, end=""))
            if cell.style:  # Text.render leaves the text's own style to its caller
                base = console.get_style(cell.style)
                fitted = list(Segment.apply_style(fitted, style=base))
            if length < width:
                fitted.append(Segment(" " * (width - length)))
            return fitted
        sized = self._options.get(width)
        if sized is None:
            sized = options.update(width=width, height=1, no_wrap=True)
            self._options[width] = sized
        rendered = console.render(cell, sized)
        lines = Segment.split_and_crop_lines(rendered, width, include_new_lines=False)
        # A row is one line high: a cell's first line is all it shows.
        return next(iter(lines), [Segment(" " * width)])
