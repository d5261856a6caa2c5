"""The mailboxes screen (`m`): every mailbox of an organization in the group an admin acts on.

First paint from what is already in memory (the names cache and the jobs the app knows); the
read of the organization (mailboxes when the names cache is stale, the jobs of the last seven
days, the saved organization exports) starts with the key, so its calls overlap that paint, and
is grouped in its worker: the rows are complete. They then follow the app's refreshes. `c` sets
the cut-off, `o` shows another organization (coverage_dialogs.py). The grouping and
the deadline are `wmtui.core.coverage`'s; starting goes through `MailboxesFlow` (the jobs
screen's start path: confirmation, the 10 slots, the 24-hour rule, the watch list).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input

from wmtui.core.coverage import (
    DISABLED_WHY,
    CoverageRow,
    Group,
    SortKey,
    coverage_rows,
    cutoff_instant,
    eligible_words,
    filter_rows,
    group_counts,
    merge_jobs,
    row_note,
    size_text,
    sort_rows,
)
from wmtui.core.coverage_read import CoverageData
from wmtui.core.deadline import Deadline, project_deadline
from wmtui.core.display import relative_time
from wmtui.core.models import ExportJob, Mailbox
from wmtui.core.service import ServiceError
from wmtui.ui.safe_text import safe_text, sanitize
from wmtui.ui.screens.coverage_dialogs import CutoffChoice, CutoffScreen
from wmtui.ui.widgets.mailbox_table import MailboxTable
from wmtui.ui.widgets.steady import SteadyText

MAILBOXES_BINDINGS: list[BindingType] = [
    Binding("escape", "close", "Back", tooltip="Back to the jobs"),
    Binding("space", "mark", "Mark", tooltip="Mark or unmark the selected mailbox"),
    Binding("n", "start_marked", "Start", tooltip="Start exports of the marked mailboxes"),
    Binding("R", "retry_failed", "Retry failed", tooltip="Start again every failed mailbox"),
    Binding("slash", "filter", "Filter", tooltip="Filter on every column"),
    Binding("s", "cycle_sort", "Sort", tooltip="Sort by group, name, size, state, age"),
    Binding("S", "reverse_sort", "Reverse sort", show=False, tooltip="The same sort, reversed"),
    Binding("g", "cycle_group", "Group", tooltip="Show one group at a time, or all"),
    Binding("c", "cutoff", "Cut-off", tooltip="Set the cut-off date: exports before it are stale"),
    Binding("o", "pick_organization", "Org", tooltip="Show the mailboxes of another organization"),
    Binding("r", "reload", "Refresh", tooltip="Read the organization's mailboxes and jobs again"),
]
# (label, width): set widths, so 5,000 rows are never measured.
COLUMNS: tuple[tuple[str, int], ...] = (
    (" ", 1),
    ("Group", 22),
    ("Mailbox", 22),
    ("Email", 24),
    ("Kind", 8),
    ("On", 3),
    ("Size", 7),
    ("State", 9),
    ("Age", 8),  # "just now"
    ("Note", 12),
)
MARK = "●"
# Seconds between two looks at the app's jobs (a refresh that changed them regroups the rows).
FOLLOW_EVERY = 2.0
# The group filter's cycle: every group, then each one alone.
GROUP_CYCLE: tuple[Group | None, ...] = (None, *Group)


@dataclass
class MailboxesSource:
    """What the screen reads and whom it asks to start exports (the flow gives it)."""

    region: str
    organization_id: str
    clock: Callable[[], datetime]
    end_of_support: date
    # Memory only, for the first paint: the names cache and the jobs the app knows.
    cached_mailboxes: Callable[[], Sequence[Mailbox]]
    known_jobs: Callable[[], Sequence[ExportJob]]
    # From a worker, given the jobs the app knows: the organization read again (ServiceError).
    read: Callable[[Sequence[ExportJob]], CoverageData]
    # Mailboxes waiting to start: entity id -> when it may (None: for a free slot).
    queued: Callable[[], Mapping[str, datetime | None]]
    start: Callable[[Sequence[CoverageRow], int], None]
    read_only: bool = False
    cutoff: datetime | None = None
    # The first read, started with the key press so its calls overlap the first paint.
    first_read: Future[CoverageData] | None = None
    # Ask for another organization (the flow opens it instead of this one).
    pick_organization: Callable[[], None] | None = None
    # Changes when the app's jobs do (a refresh, a start): the rows follow them.
    jobs_version: Callable[[], object] = lambda: None
    # Told of a new cut-off, so the organization keeps it (ui-state.json).
    remember_cutoff: Callable[[datetime | None], None] | None = None


@dataclass(frozen=True)
class Grouped:
    """Rows and deadline worked out from one set of mailboxes and jobs, at one cut-off."""

    mailboxes: list[Mailbox]
    jobs: list[ExportJob]
    cutoff: datetime | None
    rows: list[CoverageRow]
    deadline: Deadline


def group_all(
    mailboxes: Sequence[Mailbox],
    jobs: Sequence[ExportJob],
    *,
    now: datetime,
    cutoff: datetime | None,
    end_of_support: date,
    previous: Sequence[CoverageRow] = (),
) -> Grouped:
    """Pure and thread-safe: the worker groups 5,000 rows off the UI thread with it (the
    rows of mailboxes without a job are kept from `previous`, the first paint's)."""
    rows = coverage_rows(mailboxes, jobs, now=now, cutoff=cutoff, previous=previous)
    deadline = project_deadline(rows, jobs, now=now, end_of_support=end_of_support)
    return Grouped(list(mailboxes), list(jobs), cutoff, rows, deadline)


class CoverageRead(Message):
    """The worker's answer: the organization grouped, or why it was not read."""

    def __init__(self, grouped: Grouped | None, error: ServiceError | None) -> None:
        super().__init__()
        self.grouped = grouped
        self.error = error
        self.jobs_error: ServiceError | None = None


class MailboxesScreen(Screen[None]):
    """Every mailbox of one organization, grouped, with the deadline above."""

    DEFAULT_CSS = """
    MailboxesScreen #mailboxes-title { height: auto; padding: 0 1; }
    MailboxesScreen #deadline { height: auto; padding: 0 1; border: round $primary; }
    MailboxesScreen #deadline.-warning { border: round $warning; color: $warning; }
    MailboxesScreen #mailboxes { height: 1fr; }
    MailboxesScreen #mailboxes-filter { display: none; }
    MailboxesScreen #mailboxes-filter.-open { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = MAILBOXES_BINDINGS
    # The table has the focus from the first paint (no second layout for a focus change).
    AUTO_FOCUS = "#mailboxes"

    def __init__(
        self, source: MailboxesSource, *, on_deadline: Callable[[Deadline, bool], None]
    ) -> None:
        super().__init__()
        self.source = source
        self.on_deadline = on_deadline
        self.rows: list[CoverageRow] = []
        self.shown: list[CoverageRow] = []
        self.marked: set[str] = set()
        self.sort_key = SortKey.GROUP
        self.reverse = False
        self.group_filter: Group | None = None
        self.filter_text = ""
        self.deadline: Deadline | None = None
        self.complete = False
        self.jobs_version: object = None
        self.jobs_seen: list[ExportJob] = []
        self.mailboxes_seen: list[Mailbox] = []

    def compose(self) -> ComposeResult:
        yield SteadyText(id="mailboxes-title")
        yield SteadyText(id="deadline")
        yield Input(id="mailboxes-filter", placeholder="Filter: name, email, group, state…")
        yield MailboxTable(COLUMNS, id="mailboxes")
        yield Footer()

    def on_mount(self) -> None:
        # The read first: its calls wait on the network while the cached rows are painted.
        self.action_reload()
        self.compute(self.source.cached_mailboxes(), self.source.known_jobs())
        self.jobs_version = self.source.jobs_version()
        self.set_interval(FOLLOW_EVERY, self.follow_jobs)

    # ---- rows ----------------------------------------------------------------------------------

    def compute(self, mailboxes: Sequence[Mailbox], jobs: Sequence[ExportJob]) -> None:
        source = self.source
        self.apply(
            group_all(
                mailboxes,
                jobs,
                now=source.clock(),
                cutoff=source.cutoff,
                end_of_support=source.end_of_support,
            )
        )

    def apply(self, grouped: Grouped) -> None:
        self.jobs_seen = grouped.jobs
        self.mailboxes_seen = grouped.mailboxes
        self.rows = grouped.rows
        self.deadline = grouped.deadline
        # Told whether the organization was read (not only the cached rows of the first paint).
        self.on_deadline(grouped.deadline, self.complete)
        self.show_rows()

    def show_rows(self) -> None:
        table = self.query_one(MailboxTable)
        now = self.source.clock()
        selected = self.selected_row()
        groups = [self.group_filter] if self.group_filter is not None else None
        self.shown = sort_rows(filter_rows(self.rows, self.filter_text, groups), self.sort_key, now)
        if self.reverse:
            self.shown.reverse()
        queued = self.source.queued()
        shown = self.shown
        moved = len(shown) != table.row_count
        table.update_rows(len(shown), lambda index: self.cells_of(shown[index], now, queued))
        if selected is not None:
            index = next(
                (i for i, r in enumerate(self.shown) if r.entity_id == selected.entity_id), 0
            )
            if moved or index != table.cursor_row:  # else the cursor's line is drawn already
                table.move_cursor(row=index, animate=False)
        self.show_header()

    def cells_of(
        self, row: CoverageRow, now: datetime, queued: Mapping[str, datetime | None]
    ) -> list[Text | str]:
        mailbox, job = row.mailbox, row.job
        note = row_note(row, now)
        if row.entity_id in queued:
            when = queued[row.entity_id]
            waiting = eligible_words(when, now) if when and when > now else "waiting for a slot"
            note = f"queued: {waiting}"
        return [
            MARK if row.entity_id in self.marked else " ",
            row.group.value,
            safe_text(mailbox.label, limit=32),
            safe_text(mailbox.email or "—", limit=36),
            row.kind,
            "yes" if row.enabled else "no",
            size_text(row.size_mb),
            safe_text(job.raw_state or job.state.value) if job is not None else "—",
            relative_time(job.start_time, now) if job is not None else "—",
            safe_text(note, limit=80),
        ]

    def show_header(self) -> None:
        source = self.source
        counts = group_counts(self.rows)
        title = Text()
        title.append("Mailboxes of ", style="bold")
        title.append(sanitize(source.organization_id), style="bold")
        title.append(f" ({source.region}) · {len(self.rows)} mailboxes")
        if not self.complete:
            title.append(" · reading…", style="dim")
        title.append("\n")
        title.append(" · ".join(f"{counts[g]} {g.value}" for g in Group if counts[g]))
        title.append(f"\nsort: {self.sort_key.value}", style="dim")
        if self.reverse:
            title.append(" (reversed)", style="dim")
        cutoff = source.cutoff
        title.append(f" · cut-off: {cutoff:%Y-%m-%d}" if cutoff else " · no cut-off", style="dim")
        if self.group_filter is not None:
            title.append(f" · group: {self.group_filter.value}", style="dim")
        if self.filter_text:
            title.append(" · filter: ", style="dim")
            title.append(sanitize(self.filter_text, limit=20))
        if self.marked:
            title.append(f" · {len(self.marked)} marked")
        # Shown again after every refresh of the app's jobs: an unchanged text sends nothing.
        self.query_one("#mailboxes-title", SteadyText).show(title)
        deadline = self.deadline
        panel = self.query_one("#deadline", SteadyText)
        if deadline is None:
            panel.show("")
            return
        panel.show("\n".join(deadline.lines()))
        panel.set_class(deadline.warning, "-warning")

    def selected_row(self) -> CoverageRow | None:
        table = self.query_one(MailboxTable)
        index = table.cursor_row
        if not self.shown or index < 0 or index >= len(self.shown):
            return None
        return self.shown[index]

    # ---- reading -------------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.complete = False
        first, self.source.first_read = self.source.first_read, None
        self.read_in_worker(self.source.known_jobs(), first)

    @work(thread=True, exclusive=True, group="coverage", exit_on_error=False)
    def read_in_worker(
        self, known: Sequence[ExportJob], first: Future[CoverageData] | None = None
    ) -> None:
        source = self.source
        try:
            data: CoverageData = first.result() if first is not None else source.read(known)
        except ServiceError as exc:
            self.post_message(CoverageRead(None, exc))
            return
        # Grouped here, not on the UI thread: the screen only swaps the rows in.
        grouped = group_all(
            data.mailboxes,
            data.jobs,
            now=source.clock(),
            cutoff=source.cutoff,
            end_of_support=source.end_of_support,
            # The rows shown now (one reference, swapped whole on the UI thread).
            previous=self.rows,
        )
        message = CoverageRead(grouped, None)
        message.jobs_error = data.jobs_error
        self.post_message(message)

    def on_coverage_read(self, message: CoverageRead) -> None:
        self.complete = True
        if message.error is not None:
            error = message.error
            self.notify(
                f"The mailboxes were not read: {sanitize(error.message, limit=300)}",
                severity="error",
                markup=False,
            )
            self.show_header()
            return
        grouped = message.grouped
        assert grouped is not None
        if message.jobs_error is not None:
            self.notify(
                "The jobs were not listed now; saved states are shown: "
                + sanitize(message.jobs_error.message, limit=300),
                severity="warning",
                markup=False,
            )
        if grouped.cutoff != self.source.cutoff:  # changed while the worker read
            self.compute(grouped.mailboxes, grouped.jobs)
        else:
            self.apply(grouped)

    # ---- actions -------------------------------------------------------------------------------

    def action_close(self) -> None:
        # As on the jobs screen: Esc clears a filter (typed or kept) before it goes back.
        if self.filter_text or self.query_one("#mailboxes-filter", Input).has_focus:
            self.clear_filter()
            return
        self.dismiss(None)

    def action_mark(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        self.marked.symmetric_difference_update({row.entity_id})
        table = self.query_one(MailboxTable)
        cursor = table.cursor_row
        table.row_changed(cursor)
        if cursor + 1 < len(self.shown):
            table.move_cursor(row=cursor + 1, animate=False)
        self.show_header()

    def running_count(self) -> int:
        return sum(1 for row in self.rows if row.group is Group.RUNNING)

    def start_rows(self, rows: Sequence[CoverageRow], what: str) -> None:
        if self.source.read_only:
            self.notify(
                f"{what} is not allowed: wmtui runs read-only (--read-only or read_only = true"
                " in config.toml).",
                severity="warning",
                markup=False,
            )
            return
        if not rows:
            return
        self.source.start(rows, self.running_count())

    def action_start_marked(self) -> None:
        rows = [row for row in self.rows if row.entity_id in self.marked]
        if not rows:
            selected = self.selected_row()
            rows = [selected] if selected is not None else []
        if len(rows) == 1 and not rows[0].enabled:
            self.notify(f"{sanitize(rows[0].mailbox.label)}: {DISABLED_WHY}.", markup=False)
            return
        self.start_rows(rows, "Starting an export")

    def action_retry_failed(self) -> None:
        failed = [row for row in self.rows if row.group is Group.FAILED and row.enabled]
        if not failed and not self.source.read_only:
            self.notify("No failed mailbox to retry.", markup=False)
            return
        self.start_rows(failed, "Retrying exports")

    def action_cycle_sort(self) -> None:
        self.sort_key = self.sort_key.next()
        self.show_rows()

    def action_reverse_sort(self) -> None:
        self.reverse = not self.reverse
        self.show_rows()

    def action_cutoff(self) -> None:
        cutoff = self.source.cutoff
        self.app.push_screen(
            CutoffScreen(cutoff.date() if cutoff is not None else None), self.cutoff_chosen
        )

    def cutoff_chosen(self, choice: CutoffChoice | None) -> None:
        if choice is None:
            return
        self.source.cutoff = cutoff_instant(choice.day)
        if self.source.remember_cutoff is not None:
            self.source.remember_cutoff(self.source.cutoff)
        self.compute(self.mailboxes_seen, self.jobs_seen)

    def action_pick_organization(self) -> None:
        if self.source.pick_organization is not None:
            self.source.pick_organization()

    def action_cycle_group(self) -> None:
        # Only the groups that have a mailbox: an empty table would say nothing.
        counts = group_counts(self.rows)
        cycle = [g for g in GROUP_CYCLE if g is None or counts[g] or g is self.group_filter]
        at = cycle.index(self.group_filter)
        self.group_filter = cycle[(at + 1) % len(cycle)]
        self.show_rows()

    def action_filter(self) -> None:
        box = self.query_one("#mailboxes-filter", Input)
        box.add_class("-open")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "mailboxes-filter":
            event.stop()
            self.filter_text = event.value
            self.show_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "mailboxes-filter":
            event.stop()
            if not event.value:
                event.input.remove_class("-open")
            self.query_one(MailboxTable).focus()

    def clear_filter(self) -> None:
        box = self.query_one("#mailboxes-filter", Input)
        box.value = ""
        box.remove_class("-open")
        self.filter_text = ""
        self.show_rows()
        self.query_one(MailboxTable).focus()

    def follow_jobs(self) -> None:
        """The app refreshed its jobs (one ended, one started): group again with them."""
        version = self.source.jobs_version()
        if version != self.jobs_version and self.complete:
            self.jobs_version = version
            self.refresh_rows()

    def refresh_rows(self) -> None:
        """Group again with the jobs the app knows now (a start made, a queue drained)."""
        if self.is_mounted:
            jobs = merge_jobs([*self.jobs_seen, *self.source.known_jobs()])
            self.compute(self.mailboxes_seen, list(jobs.values()))
