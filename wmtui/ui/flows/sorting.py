"""S: the table's sort turned round (the sort itself is `s`, the screen's `sort_mode`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wmtui.ui.screens.jobs import JobsScreen


def reverse_sort(screen: JobsScreen) -> None:
    """The same sort, the other way round; the cursor stays on its job."""
    rows = screen.rows
    rows.reverse = not rows.reverse
    rows.reorder()
    screen.sync_table(())
    screen.update_status()
