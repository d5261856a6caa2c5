"""The job table's columns: their keys, labels and widths, and what a row holds."""

from __future__ import annotations

from typing import Any

from rich.text import Text

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
COLUMN_INDEX: dict[str, int] = {key: index for index, key in enumerate(COLUMN_KEYS)}
# A job ID is a UUID: its first group and "…" tell jobs apart at a glance; the pane has it all.
SHORT_JOB_WIDTH = 9
FULL_JOB_WIDTH = 36
MAILBOX_RANGE = (10, 28)
MIN_DESCRIPTION = 10
# Blank cells either side of each cell's text.
CELL_PADDING = 1


def column_widths(width: int) -> dict[str, int]:
    """Column widths for a table `width` cells wide, so that no column is pushed out of view.

    State, progress and the two times keep their widths; the job ID shows in full only when
    there is room to spare; the mailbox gets about two fifths of the rest and the description
    what is left (at least MIN_DESCRIPTION, taken from the mailbox when it comes to that).
    """
    fixed = {key: size for key, _, size in COLUMNS if size is not None}
    room = width - 2 * CELL_PADDING * len(COLUMNS) - sum(fixed.values())
    low, high = MAILBOX_RANGE
    mailbox = max(low, min(high, room * 2 // 5))
    job = FULL_JOB_WIDTH if room - FULL_JOB_WIDTH - high >= 40 else SHORT_JOB_WIDTH
    description = room - job - mailbox
    if description < MIN_DESCRIPTION:
        borrowed = max(0, min(MIN_DESCRIPTION - description, mailbox - low))
        mailbox -= borrowed
        description += borrowed
    return {"job": job, "mailbox": mailbox, **fixed, "description": max(1, description)}


# A row's cells, in COLUMN_KEYS order.
RowCells = tuple[Text, ...]

# The header's labels: a column's label is the text a user reads, never markup.
HEADER: RowCells = tuple(Text(label) for _, label, _ in COLUMNS)


class JobIdCell(Text):
    """The job column's cell; `row_key` is kept for callers that still pass it."""

    def __init__(self, text: str, row_key: str, style: str | Any = "") -> None:
        super().__init__(text, style=style, no_wrap=True, end="", overflow="ellipsis")
        self.row_key = row_key
