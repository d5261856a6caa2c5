"""The job table's columns: their keys, labels and widths, and what a row holds."""

from __future__ import annotations

from dataclasses import dataclass, field
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


# Shown first when the watched jobs belong to several AWS profiles: the account ID (12
# digits), or the profile's name until STS has said it.
ACCOUNT_COLUMN: tuple[str, str, int] = ("account", "Account", 12)
# Every column a table can show, in the order they can appear.
ALL_COLUMNS: tuple[tuple[str, str, int | None], ...] = (ACCOUNT_COLUMN, *COLUMNS)


@dataclass(frozen=True)
class ColumnSet:
    """The columns a table shows: the usual ones, or those and the account first."""

    keys: tuple[str, ...]
    header: RowCells
    accounts: bool = False
    index: dict[str, int] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {key: n for n, key in enumerate(self.keys)})

    def widths(self, width: int) -> dict[str, int]:
        """Each column's width for a table `width` cells wide (see `column_widths`)."""
        if not self.accounts:
            return column_widths(width)
        account = ACCOUNT_COLUMN[2]
        rest = column_widths(width - account - 2 * CELL_PADDING)
        return {"account": account, **rest}


STANDARD_COLUMNS = ColumnSet(COLUMN_KEYS, HEADER)
ACCOUNT_COLUMNS = ColumnSet(
    (ACCOUNT_COLUMN[0], *COLUMN_KEYS), (Text(ACCOUNT_COLUMN[1]), *HEADER), accounts=True
)


class JobIdCell(Text):
    """The job column's cell; `row_key` is kept for callers that still pass it."""

    def __init__(self, text: str, row_key: str, style: str | Any = "") -> None:
        super().__init__(text, style=style, no_wrap=True, end="", overflow="ellipsis")
        self.row_key = row_key
