"""The job table: one row per watched job, keyed by str(JobKey), updated in place.

A refresh changes only the cells whose text changed (`update_cell`), adds and removes only the
rows that came or went, and then puts the cursor back on the job it was on. `clear()` is used
only when a filter hides most of a large table, because `remove_row` costs O(rows) each.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, ClassVar, Self

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.widgets import DataTable

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


class JobIdCell(Text):
    """The job column's cell, which also carries its row key.

    `DataTable.sort` hands the key function cell values only, never the row key: this is how
    the table is put in the app's order without touching DataTable internals.
    """

    def __init__(self, text: str, row_key: str, style: str | Any = "") -> None:
        super().__init__(text, style=style, no_wrap=True, end="", overflow="ellipsis")
        self.row_key = row_key


def _same(old: Text, new: Text) -> bool:
    """Whether a cell would look the same; Text == ignores the base style, so compare it too."""
    return old.plain == new.plain and old.style == new.style and old.spans == new.spans


class JobTable(DataTable[Text]):
    """DataTable with vi keys, row cursor, fixed column keys and in-place sync."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor_down", "Next job", show=False),
        Binding("k,up", "cursor_up", "Previous job", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("g,home", "scroll_top", "First job", show=False),
        Binding("G,end", "scroll_bottom", "Last job", show=False),
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
        wanted = set(order)
        present = set(self._shown)
        removed = present - wanted

        if len(removed) > _REBUILD_AFTER_REMOVALS and len(removed) * 2 > len(present):
            self._rebuild(order, build)
        else:
            for key in removed:
                self.remove_row(key)
                del self._shown[key]
            to_check = present - removed if dirty is None else (set(dirty) & present) - removed
            for key in to_check:
                self._update_row(key, build(key))
            for key in order:
                if key not in self._shown:
                    cells = self._with_key(key, build(key))
                    self.add_row(*cells, key=key)
                    self._shown[key] = cells
            if self.row_keys_in_order() != list(order):
                position = {key: index for index, key in enumerate(order)}
                self.sort("job", key=lambda cell: position[cell.row_key])

        if selected is not None and selected in wanted:
            self.select_key(selected)
        elif self.row_count:
            target = min(max(old_index, 0), self.row_count - 1)
            if target != self.cursor_row:
                self.move_cursor(row=target, animate=False)

    def _rebuild(self, order: Sequence[str], build: Callable[[str], RowCells]) -> None:
        self.clear()
        self._shown.clear()
        for key in order:
            cells = self._with_key(key, build(key))
            self.add_row(*cells, key=key)
            self._shown[key] = cells

    def _update_row(self, key: str, cells: RowCells) -> None:
        old = self._shown[key]
        changed = [
            (column, new)
            for column, before, new in zip(COLUMN_KEYS, old, cells, strict=True)
            if not _same(before, new)
        ]
        if not changed:
            return
        cells = self._with_key(key, cells)
        for column, cell in changed:
            if column == "job":
                cell = cells[0]
            self.update_cell(key, column, cell)
        self._shown[key] = cells

    @staticmethod
    def _with_key(key: str, cells: RowCells) -> RowCells:
        first = cells[0]
        if isinstance(first, JobIdCell) and first.row_key == key:
            return cells
        return (JobIdCell(first.plain, key, first.style), *cells[1:])
