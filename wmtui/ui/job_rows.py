"""What the job table shows of the board: each row's cells, and the rows in view, in order.

Per-row caches (search text, sort key, row key) keep a refresh that changes a few rows of
10,000 at the cost of a few rows; the visible order is recomputed only when a change may have
moved a row or let it through (or kept it out of) the filter.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from rich.text import Text

from wmtui.core.board import JobBoard
from wmtui.core.display import mailbox_name
from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox
from wmtui.core.profiles import ProfileRouter, profile_filter
from wmtui.ui.widgets.cells import (
    DESCRIPTION_WIDTH,
    Palette,
    cell_text,
    duration_or_eta,
    mailbox_label,
    progress_cell,
    relative_time,
    search_text,
    state_cell,
)
from wmtui.ui.widgets.detail import JobView
from wmtui.ui.widgets.job_table import JobIdCell, RowCells
from wmtui.ui.widgets.table_columns import ACCOUNT_COLUMNS, STANDARD_COLUMNS, ColumnSet
from wmtui.ui.widgets.verification_cells import verification_cell

NameKey = tuple[str, str, str]


class SortMode(StrEnum):
    STARTED = "started"
    STATE = "state"
    PROGRESS = "progress"
    MAILBOX = "mailbox"

    @property
    def label(self) -> str:
        return self.label_for(reverse=False)

    def label_for(self, *, reverse: bool) -> str:
        """What the status line says: the column and which way (S turns it round)."""
        return {
            SortMode.STARTED: ("started ▼", "started ▲"),
            SortMode.STATE: ("state", "state, reversed"),
            SortMode.PROGRESS: ("progress ▼", "progress ▲"),
            SortMode.MAILBOX: ("mailbox A→Z", "mailbox Z→A"),
        }[self][reverse]

    def next(self) -> SortMode:
        modes = list(SortMode)
        return modes[(modes.index(self) + 1) % len(modes)]


# Running first, then what needs attention, then what is done.
_STATE_ORDER = {
    JobState.RUNNING: 0,
    JobState.UNKNOWN: 1,
    JobState.FAILED: 2,
    JobState.CANCELLED: 3,
    JobState.COMPLETED: 4,
}


class JobRows:
    """The board as table rows: cells by row key, and the visible order (sorted, filtered)."""

    def __init__(self, board: JobBoard, clock: Callable[[], datetime]) -> None:
        self.board = board
        self._clock = clock
        self.palette = Palette()
        self.sort_mode = SortMode.STARTED
        # S: the same sort, the other way round.
        self.reverse = False
        self.filter_text = ""
        # Who each mailbox is, as shown: (region, organization, entity id) -> Mailbox.
        self.mailboxes: dict[NameKey, Mailbox] = {}
        self._search: dict[JobKey, str] = {}
        self._sort_keys: dict[JobKey, tuple[Any, ...]] = {}
        self._row_of: dict[JobKey, str] = {}
        self._by_row: dict[str, JobKey] = {}
        # The visible rows in order; None when a change may have reordered them.
        self._order: list[str] | None = None
        # Which profile (account) each organization belongs to; None: one service for all.
        self.profiles: ProfileRouter | None = None
        # The account column shows first only when the jobs belong to several profiles.
        self.columns: ColumnSet = STANDARD_COLUMNS

    # ---- keys ----------------------------------------------------------------------------------

    def watched_changed(self) -> None:
        """The board's watch list changed: rows follow it."""
        watched = self.board.watched
        self._order = None
        self._row_of = {key: self._row_of.get(key) or str(key) for key in watched}
        self._by_row = {row: key for key, row in self._row_of.items()}
        for mapping in (self._search, self._sort_keys):
            for stale in [key for key in mapping if key not in self._row_of]:
                del mapping[stale]
        router = self.profiles
        several = router is not None and len(router.labels_in(watched)) > 1
        self.columns = ACCOUNT_COLUMNS if several else STANDARD_COLUMNS

    def key_of(self, row: str | None) -> JobKey | None:
        return self._by_row.get(row) if row is not None else None

    def row_of(self, key: JobKey) -> str | None:
        return self._row_of.get(key)

    # ---- names ---------------------------------------------------------------------------------

    def mailbox_for(self, key: JobKey, job: ExportJob | None) -> Mailbox | None:
        if job is None or not job.entity_id or not self.mailboxes:
            return None
        return self.mailboxes.get((key.region, key.organization_id, job.entity_id))

    def name_for(self, key: JobKey, job: ExportJob | None) -> str | None:
        mailbox = self.mailbox_for(key, job)
        return mailbox.label if mailbox is not None else None

    def learn_names(self, names: Mapping[NameKey, Mailbox]) -> list[JobKey]:
        """Show these names; returns the watched jobs whose row now reads differently."""
        changed = {t: m for t, m in names.items() if self.mailboxes.get(t) != m}
        if not changed:
            return []
        self.mailboxes.update(changed)
        jobs = self.board.jobs
        return [
            key
            for key in self.board.watched
            if (job := jobs.get(key)) is not None
            and job.entity_id
            and (key.region, key.organization_id, job.entity_id) in changed
        ]

    # ---- cells ---------------------------------------------------------------------------------

    def cells(self, row_key: str) -> RowCells:
        key = self._by_row[row_key]
        board = self.board
        job = board.jobs.get(key)
        now = self._clock()
        palette = self.palette
        state = job.state if job is not None else JobState.UNKNOWN
        job_id = key.job_id
        if not (job_id.isascii() and job_id.isprintable() and len(job_id) <= 64):
            job_id = cell_text(job_id, limit=64).plain
        account: tuple[Text, ...] = ()
        if self.columns.accounts and self.profiles is not None:
            # A profile name comes from the user's AWS config file: through the sanitiser.
            account = (cell_text(self.profiles.account_label(key.region, key.organization_id)),)
        return (
            *account,
            JobIdCell(job_id, row_key),
            mailbox_label(job, self.mailbox_for(key, job)),
            state_cell(job, board.error_for(key, job), palette),
            verification_cell(job, palette)
            or progress_cell(job.progress if job is not None else None, palette, state),
            Text(relative_time(job.start_time if job is not None else None, now)),
            Text(duration_or_eta(job, now)),
            cell_text(job.description if job is not None else None, limit=DESCRIPTION_WIDTH),
        )

    # ---- order ---------------------------------------------------------------------------------

    def _search_text(self, key: JobKey) -> str:
        text = self._search.get(key)
        if text is None:
            job = self.board.jobs.get(key)
            text = search_text(job, key, self.mailbox_for(key, job))
            self._search[key] = text
        return text

    def _sort_key(self, key: JobKey) -> tuple[Any, ...]:
        job = self.board.jobs.get(key)
        started = job.start_time.timestamp() if job is not None and job.start_time else None
        # Jobs not read yet (just added) come first: that is where the user looks.
        newest_first = (0, 0.0) if started is None else (1, -started)
        if self.sort_mode is SortMode.STATE:
            rank = -1 if self.board.error_for(key, job) is not None else 1
            if job is not None and job.last_seen is not None:
                rank = _STATE_ORDER[job.state]
            return (rank, *newest_first, str(key))
        if self.sort_mode is SortMode.PROGRESS:
            progress = job.progress if job is not None else None
            return (progress is None, -(progress or 0), *newest_first, str(key))
        if self.sort_mode is SortMode.MAILBOX:
            # As shown: the name when known, else the entity ID; rows without one last.
            name = mailbox_name(job, self.mailbox_for(key, job))
            return (name is None, (name or "").casefold(), *newest_first, str(key))
        return (*newest_first, str(key))

    def _cached_sort_key(self, key: JobKey) -> tuple[Any, ...]:
        value = self._sort_keys.get(key)
        if value is None:
            value = self._sort_keys[key] = self._sort_key(key)
        return value

    def reorder(self, *, sort: bool = False) -> None:
        """The filter or the sort changed: the order is worked out again."""
        if sort:
            self._sort_keys.clear()
        self._order = None

    def touch(
        self, dirty: Collection[JobKey] | None, settled: Collection[JobKey] = ()
    ) -> set[str] | None:
        """Forget what `dirty` rows (None: all) cached; returns their row keys (None: all).

        `settled` names those of them whose place in the order cannot have changed."""
        if dirty is None:
            self._search.clear()
            self._sort_keys.clear()
            self._order = None
            return None
        filtering = bool(self.filter_text.strip())
        for key in dirty:
            self._search.pop(key, None)
            if key in settled:
                continue
            before = self._sort_keys.pop(key, None)
            # Re-sort only when a changed row would move (or may now match the filter).
            if self._order is not None and (
                filtering or before is None or before != self._cached_sort_key(key)
            ):
                self._order = None
        return {self._row_of[key] for key in dirty if key in self._row_of}

    def order(self) -> list[str]:
        """The visible rows, in order (the same list object while the order holds)."""
        if self._order is None:
            keys: Iterable[JobKey] = self.board.watched
            profiles, words = profile_filter(self.filter_text.casefold().split())
            if profiles:
                keys = [k for k in keys if self._in_profiles(k, profiles)]
            if words:
                keys = [k for k in keys if all(word in self._search_text(k) for word in words)]
            row_of = self._row_of
            ordered = sorted(keys, key=self._cached_sort_key, reverse=self.reverse)
            self._order = [row_of[key] for key in ordered]
        return self._order

    def _in_profiles(self, key: JobKey, wanted: list[str]) -> bool:
        """`profile:NAME` in the filter: the job's profile or account is NAME (any case)."""
        router = self.profiles
        if router is None:
            return any(name == "default" for name in wanted)
        org = (key.region, key.organization_id)
        names = {router.label_of(*org).casefold(), router.account_label(*org).casefold()}
        return any(name in names for name in wanted)

    # ---- the detail pane -----------------------------------------------------------------------

    def view(self, key: JobKey | None) -> JobView | None:
        """What the detail pane shows of `key` (None: nothing selected)."""
        if key is None:
            return None
        board = self.board
        job = board.jobs.get(key)
        router = self.profiles if self.columns is ACCOUNT_COLUMNS else None
        org = (key.region, key.organization_id)
        return JobView(
            key=key,
            job=job,
            error=board.job_errors.get(key),
            org_error=board.org_error_for(key),
            mailbox=self.mailbox_for(key, job),
            from_cache=key not in board.fresh,
            offline=board.global_error is not None,
            profile=router.label_of(*org) if router is not None else None,
            account=router.account_label(*org) if router is not None else None,
        )
