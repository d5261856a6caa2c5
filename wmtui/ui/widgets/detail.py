"""The detail pane: every field of the selected job, its S3 URI as plain text, what went wrong."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Self, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.visual import Visual, VisualType
from textual.widgets import Static

from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox
from wmtui.core.preflight import doctor_command, likely_setup_cause
from wmtui.core.service import ServiceError
from wmtui.ui.safe_text import safe_text, sanitize
from wmtui.ui.widgets.cells import (
    STATE_GLYPHS,
    Palette,
    duration_or_eta,
    eta_seconds,
    relative_time,
    short_span,
    timestamp,
)
from wmtui.ui.widgets.covered import HeldWhileCovered
from wmtui.ui.widgets.verification_cells import verification_lines

if TYPE_CHECKING:
    from textual.css.styles import RulesMap

_LABEL_WIDTH = 13


@dataclass(frozen=True)
class JobView:
    """What the pane needs to know about one job; built by the app on the UI thread."""

    key: JobKey
    job: ExportJob | None
    error: ServiceError | None = None
    org_error: ServiceError | None = None
    name: str | None = None
    # Who the mailbox is, once the name directory knows (name, email, kind).
    mailbox: Mailbox | None = None
    # The record came from the cache and has not been read again in this session.
    from_cache: bool = False
    # The last refresh could not read anything (banner shown): every record is old.
    offline: bool = False
    # With several profiles watched: the organization's profile, and its account once known.
    profile: str | None = None
    account: str | None = None


def _field(out: Text, label: str, value: Text | str, palette: Palette, width: int = 40) -> None:
    """`Label        value`, or the value on its own line when it would not fit beside it."""
    text = value if isinstance(value, Text) else Text(value)
    out.append(label.ljust(_LABEL_WIDTH), style=palette.muted)
    if _LABEL_WIDTH + text.cell_len > width and "\n" not in text.plain:
        out.append("\n  ")
    out.append(text)
    out.append("\n")


def _untrusted(value: str | None, *, missing: str = "—") -> Text:
    if value is None or value == "":
        return Text(missing, style="dim")
    return safe_text(value)


def render_title(view: JobView, palette: Palette) -> Text:
    job = view.job
    title = Text()
    if job is not None and job.last_seen is not None:
        state = job.state
        word = state.value if state is not JobState.UNKNOWN else sanitize(job.raw_state or "?")
        title.append(f"{STATE_GLYPHS[state]} {word}", style=palette.for_state(state) + palette.bold)
        if state is JobState.RUNNING and job.progress is not None:
            title.append(f"  {job.progress}%")
        title.append("  ")
    title.append(safe_text(view.key.job_id, style="bold"))
    return title


def render_alert(view: JobView, palette: Palette) -> Text | None:
    """The prominent part: why a job failed, why it could not be read. None when all is well."""
    parts: list[Text] = []
    if view.error is not None:
        alert = Text("! Could not read this job: ", style=palette.error + palette.bold)
        alert.append(safe_text(view.error.message, single_line=False))
        if view.error.fix:
            alert.append("\nFix: ", style=palette.bold)
            alert.append(safe_text(view.error.fix, single_line=False))
        alert.append("\nIt stays in the watch list; below is what was last seen.")
        parts.append(alert)
    if view.org_error is not None:
        alert = Text("! Could not read its organization: ", style=palette.error + palette.bold)
        alert.append(safe_text(view.org_error.message, single_line=False))
        if view.org_error.fix:
            alert.append("\nFix: ", style=palette.bold)
            alert.append(safe_text(view.org_error.fix, single_line=False))
        parts.append(alert)
    job = view.job
    if job is not None and job.state is JobState.FAILED:
        alert = Text("✖ This export FAILED", style=palette.error + palette.bold)
        alert.append("\nErrorInfo: ", style=palette.bold)
        if job.error_info:
            alert.append(safe_text(job.error_info, single_line=False))
        elif job.described:
            alert.append("(the service gave no reason)", style="italic")
        else:
            alert.append("(not read yet: it comes with DescribeMailboxExportJob)", style="italic")
        cause = likely_setup_cause(job.error_info)
        if cause is not None:
            alert.append("\nLikely cause: ", style=palette.bold)
            alert.append(cause)
            alert.append("\nCheck the set-up: ", style=palette.bold)
            command = doctor_command(
                job.key.region,
                job.key.organization_id,
                job.s3_bucket_name,
                job.s3_prefix,
                job.role_arn,
                job.kms_key_arn,
            )
            alert.append(safe_text(command, single_line=False))
        parts.append(alert)
    if not parts:
        return None
    return Text("\n\n").join(parts)


def render_body(view: JobView, now: datetime, palette: Palette, width: int = 40) -> Text:
    key = view.key

    def field(label: str, value: Text | str) -> None:
        _field(out, label, value, palette, width)

    job = view.job
    out = Text()
    if view.profile is not None:
        account = view.account if view.account and view.account != view.profile else None
        field("Profile", safe_text(f"{view.profile} ({account})" if account else view.profile))
    field("Region", safe_text(key.region))
    field("Organization", safe_text(key.organization_id))
    field("Job ID", safe_text(key.job_id))
    if job is None:
        out.append("\n")
        out.append("Not read yet: the next refresh reads it.", style=palette.muted)
        return out

    who = view.mailbox
    if who is not None:
        field("Mailbox", safe_text(who.label, style=palette.bold))
        if who.name and who.name != who.label:
            field("User name", safe_text(who.name))
        field("Email", _untrusted(who.email))
        if who.kind != "USER" or (who.state and who.state != "ENABLED"):
            kind = who.kind.lower() + (f", {who.state.lower()}" if who.state else "")
            field("Kind", safe_text(kind))
        field("Entity ID", _untrusted(job.entity_id))
    elif view.name:
        field("Mailbox", safe_text(view.name, style=palette.bold))
        field("Entity ID", _untrusted(job.entity_id))
    else:
        field("Mailbox", _untrusted(job.entity_id))
    raw_state = job.raw_state if job.raw_state is not None else job.state.value
    field("State", safe_text(raw_state, style=palette.for_state(job.state)))
    progress = job.estimated_progress
    field("Progress", "—" if progress is None else f"{job.progress}%")
    field("Description", _untrusted(job.description))
    out.append("\n")
    uri = job.s3_uri
    out.append("S3 URI".ljust(_LABEL_WIDTH), style=palette.muted)
    if uri:
        # Its own line and no styling: easy to select by hand when the clipboard fails.
        out.append("\n")
        out.append(uri)
    elif job.s3_path:
        out.append(Text("cannot be built from S3Path ", style="dim"))
        out.append(safe_text(job.s3_path))
    else:
        out.append("no S3 path yet", style="dim")
    out.append("\n")
    field("S3 bucket", _untrusted(job.s3_bucket_name))
    field("S3 prefix", _not_listed(job, job.s3_prefix))
    field("S3 path", _untrusted(job.s3_path))
    field("Role ARN", _not_listed(job, job.role_arn))
    field("KMS key ARN", _not_listed(job, job.kms_key_arn))
    if job.state is not JobState.FAILED:
        field("ErrorInfo", _not_listed(job, job.error_info))
    for label, value in verification_lines(job, now, palette):
        field(label, value)
    out.append("\n")
    field("Started", _when(job.start_time, now))
    field("Ended", _when(job.end_time, now))
    if job.state.is_final:
        field("Duration", duration_or_eta(job, now))
    else:
        remaining = eta_seconds(job, now)
        eta = "—" if remaining is None else f"{short_span(remaining)} (at the rate so far)"
        field("ETA", eta)
    seen = Text(relative_time(job.last_seen, now) if job.last_seen else "never")
    if view.from_cache or view.offline or view.error is not None:
        if job.state.is_final and view.error is None:
            seen.append("  (from cache; a final state does not change)", style=palette.muted)
        else:
            seen.append("  STALE", style=palette.warning + palette.bold)
            seen.append(" (from cache; may be out of date)", style=palette.warning)
    field("Last seen", seen)
    return out


def _not_listed(job: ExportJob, value: str | None) -> Text:
    if value:
        return safe_text(value)
    if not job.described:
        return Text("— (List omits it; Describe gives it)", style="dim")
    return Text("—", style="dim")


def _when(value: datetime | None, now: datetime) -> Text:
    if value is None:
        return Text("—", style="dim")
    return Text(f"{timestamp(value)}  ({relative_time(value, now)})")


class TextLines(Static, HeldWhileCovered):
    """A Static whose new text repaints only the lines that differ from the last.

    Static.update repaints the whole widget: over SSH a new job under the cursor would send
    every line of the pane again, labels and blank lines too. Here the update's own repaint is
    held back, the lines are rendered as Static renders them and compared with the last, and
    only the lines that differ are repainted (the whole widget, with a layout, when the number
    of lines changes).
    """

    # While show() decides what to repaint: Static.update's whole-widget refresh is held back.
    _holding = False
    # The lines last shown, and the (width, look) they were rendered for.
    _lines: list[Strip] | None = None
    _drawn_for: tuple[int, object] | None = None
    # The height shown (the text's lines, padded: see show), the (width, look) it is for, and
    # whether it changed since the last repaint.
    _height = 0
    _height_for: tuple[int, object] | None = None
    _height_changed = False
    # A comparison of the new text's lines with the last waits for the caller to be done.
    _check_scheduled = False

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if self._holding:
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        if not self._holding:
            self._lines = None  # not through show(): nothing to compare the next text with
        super().update(content, layout=layout)

    def show(self, text: Text, *, fill: int = 0) -> None:
        """Show `text`, repainting only the lines that change, once the caller is done.

        `fill`: the lines free below it in its scrolling parent. A text that fits is padded to
        them; one that does not keeps the most lines shown since the width last changed. Either
        way the height rarely changes, and a new height lays out and repaints the whole pane.
        """
        self._holding = True
        try:
            self.update(text, layout=False)
        finally:
            self._holding = False
        # The height now, for every text shown (not only those compared): the same texts in
        # the same order always give the same height.
        width, look = self.size.width, self.visual_style
        # As Widget.get_content_height asks it (the styles stand for the rules).
        rules = cast("RulesMap", self.styles)
        lines = self.visual.get_height(rules, width) if width > 0 else 0
        kept = self._height if self._height_for == (width, look) else 0
        height = fill if lines <= fill else max(lines, kept)
        self._height_changed = self._height_changed or height != self._height
        self._height, self._height_for = height, (width, look)
        if not self.is_running:
            self._repaint_changes()
        elif not self._check_scheduled:
            # After the handler that called: a key press or a refresh waits less for it.
            self._check_scheduled = True
            self.call_later(self._repaint_changes)

    def _repaint_changes(self) -> None:
        self._check_scheduled = False
        before, drawn_for = self._lines, self._drawn_for
        width, look = self.size.width, self.visual_style
        after = self._remember(width, look)
        relayout, self._height_changed = self._height_changed, False
        if relayout or not self.is_mounted or before is None or drawn_for != (width, look):
            self.refresh(layout=True)
            return
        changed = [
            y
            for y in range(self._height)
            if (before[y] if y < len(before) else None) != (after[y] if y < len(after) else None)
        ]
        if changed:
            super().refresh(*(Region(0, y, width, 1) for y in changed))

    def render_line(self, y: int) -> Strip:
        # The lines already rendered to compare with are the lines to paint.
        lines = self._lines
        if lines is None or self._drawn_for != (self.size.width, self.visual_style):
            return super().render_line(y)
        if y < len(lines):
            return lines[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(super().get_content_height(container, viewport, width), self._height)

    def _remember(self, width: int, look: object) -> list[Strip]:
        """The lines this text renders to, as Static renders them, kept to compare with."""
        lines: list[Strip] = []
        if width > 0 and isinstance(look, VisualStyle):
            lines = Visual.to_strips(self, self.visual, width, None, look)
        self._lines, self._drawn_for = lines, (width, look)
        return lines


class DetailPane(VerticalScroll):
    """Focusable (Enter/Tab from the table), scrolls when a job has long ARNs or errors."""

    can_focus = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,tab,shift+tab",
            "screen.focus_table",
            "Back to table",
            show=False,
            tooltip="Move the focus back to the job table",
        ),
    ]

    _shown: tuple[Text, Text | None, Text] | None = None
    _last: tuple[JobView | None, datetime, Palette] | None = None

    def compose(self) -> ComposeResult:
        yield TextLines(id="detail-title")
        yield TextLines(id="detail-alert")
        yield TextLines(id="detail-body")

    def show(self, view: JobView | None, now: datetime, palette: Palette) -> None:
        self._last = (view, now, palette)
        if view is None:
            self._put(Text("No job selected", style="bold"), None, Text(""))
            return
        width = self.scrollable_content_region.width
        self._put(
            render_title(view, palette),
            render_alert(view, palette),
            render_body(view, now, palette, width if width >= 30 else 40),
        )

    def on_resize(self) -> None:
        # Long values go on their own line when narrow: lay them out again for the new width.
        if self._last is not None:
            self.show(*self._last)

    def _put(self, title: Text, alert: Text | None, body: Text) -> None:
        # Same content, no update: every repaint is time a key press waits for.
        shown = (title, alert, body)
        before = self._shown
        if shown == before:
            return
        self._shown = shown
        if before is None or title != before[0]:
            self.query_one("#detail-title", TextLines).show(title)
        if before is None or alert != before[1]:
            alert_widget = self.query_one("#detail-alert", TextLines)
            alert_widget.display = alert is not None
            alert_widget.show(alert if alert is not None else Text(""))
        if before is None or body != before[2]:
            self.query_one("#detail-body", TextLines).show(body, fill=self._free_lines())

    def _free_lines(self) -> int:
        """The lines of the pane's view below the title and the alert."""
        taken = 0
        for widget in self.query_one("#detail-title"), self.query_one("#detail-alert"):
            if widget.display:
                margin = widget.styles.margin
                taken += widget.outer_size.height + margin.top + margin.bottom
        return max(0, self.scrollable_content_region.height - taken)
