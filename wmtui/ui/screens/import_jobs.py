"""Import an organization's recent jobs: pick the organization, list its jobs, choose some or all.

The calls (ListOrganizations, ListMailboxExportJobs) run in thread workers through the
ExportService the app was given; results come back as typed messages, never touching widgets
from the thread.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, SelectionList, Static
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection
from textual.worker import get_current_worker

from wmtui.core.models import (
    ExportJob,
    JobKey,
    Organization,
    ValidationError,
    validate_organization_id,
    validate_region,
)
from wmtui.core.service import ErrorKind, ExportService, ServiceError
from wmtui.ui.messages import JobsListed, OrganizationsListed
from wmtui.ui.safe_text import safe_text, sanitize
from wmtui.ui.screens.form import chosen_profile, profile_select
from wmtui.ui.widgets.cells import STATE_GLYPHS, Palette, job_id_text, relative_time


def _unexpected(exc: Exception, operation: str) -> ServiceError:
    return ServiceError(
        ErrorKind.OTHER,
        f"{operation} failed: {type(exc).__name__}: {exc}",
        operation=operation,
    )


def job_option_label(job: ExportJob, now: datetime, watched: bool, palette: Palette) -> Text:
    """One line per job: state, progress, start, id, mailbox, description."""
    label = Text(no_wrap=True, overflow="ellipsis")
    state = f"{STATE_GLYPHS[job.state]} {job.state.value:<9}"
    label.append(state, style=palette.for_state(job.state))
    progress = "" if job.progress is None else f"{job.progress}%"
    label.append(f" {progress:>4}  {relative_time(job.start_time, now):>8}  ")
    label.append(job_id_text(job.key).ljust(14))
    label.append(safe_text(job.entity_id or "—", limit=24))
    if job.description:
        label.append("  ")
        label.append(safe_text(job.description, limit=40, style="dim"))
    if watched:
        label.append("  (watched)", style=palette.muted)
    return label


class ImportScreen(ModalScreen[tuple[ExportJob, ...] | None]):
    """Dismisses with the chosen jobs (as listed), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Import selected", priority=True),
        Binding("ctrl+a", "toggle_all", "All / none", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(
        self,
        service: ExportService,
        *,
        region: str,
        watched: Collection[JobKey] = (),
        endpoint_url: str | None = None,
        clock: Callable[[], datetime],
        palette: Palette | None = None,
        cursor_blink: bool = True,
        profiles: Sequence[str] = (),
        profile: str | None = None,
        default_profile: str = "default",
        profile_service: Callable[[str | None], ExportService] | None = None,
    ) -> None:
        super().__init__()
        # The AWS config file's profiles: a picker shows only when there are some, and the
        # organizations and jobs are listed with the picked profile's credentials.
        self._profiles = tuple(profiles) if profile_service is not None else ()
        self._profile = profile if profile in self._profiles else None
        self._default_profile = default_profile
        self._profile_service = profile_service
        if profile_service is not None and self._profiles:
            service = profile_service(self._profile)
        self._service = service
        self._region = region
        self._watched = frozenset(watched)
        self._endpoint_url = endpoint_url
        self._clock = clock
        self._palette = palette or Palette()
        self._cursor_blink = cursor_blink
        self._organizations: list[Organization] = []
        self._listed: list[ExportJob] = []
        self._listed_for: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="import-dialog", classes="dialog"):
            yield Static(Text("Import an organization's recent jobs"), classes="dialog-title")
            yield Static(
                Text(
                    "ListMailboxExportJobs shows jobs started in the last 7 days; older ones"
                    " can be added by ID with `a`.",
                    style="dim",
                )
            )
            if self._profiles:
                yield Label("AWS profile (the organizations' account)")
                yield profile_select(
                    "import-profile", self._profiles, self._profile, self._default_profile
                )
            with Horizontal(id="import-where"):
                with Vertical(id="import-region-box"):
                    yield Label("Region")
                    yield Input(self._region, id="import-region")
                with Vertical(id="import-org-box"):
                    yield Label("Organization ID (pick below or type, then Enter)")
                    yield Input(
                        id="import-organization",
                        placeholder="m- and 32 hex digits",
                    )
            yield OptionList(id="import-organizations")
            yield Static(id="import-status")
            yield SelectionList[str](id="import-jobs")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Import selected (ctrl+s)", id="import-submit", variant="primary")
                yield Button("All / none (ctrl+a)", id="import-toggle")
                yield Button("Cancel (Esc)", id="import-cancel")

    def on_mount(self) -> None:
        for widget in self.query(Input):
            widget.cursor_blink = self._cursor_blink
        self.query_one("#import-jobs", SelectionList).display = False
        self.query_one("#import-organizations", OptionList).focus()
        self._load_organizations()

    @property
    def profile(self) -> str | None:
        """The AWS profile the jobs were listed with (None: the default chain)."""
        return self._profile

    def on_select_changed(self, event: Select.Changed) -> None:
        if self._profile_service is None:
            return
        self._profile = chosen_profile(event.value)
        self._service = self._profile_service(self._profile)
        self._listed, self._listed_for = [], None
        self.query_one("#import-jobs", SelectionList).display = False
        self._load_organizations()

    # ---- organizations ---------------------------------------------------------------------

    def _region_value(self) -> str | None:
        region = self.query_one("#import-region", Input).value.strip()
        try:
            return validate_region(region, endpoint_url=self._endpoint_url)
        except ValidationError as exc:
            self._status(Text(str(exc), style=self._palette.error))
            return None

    def _load_organizations(self) -> None:
        region = self._region_value()
        if region is None:
            return
        self._status(Text(f"Listing organizations in {region}…", style="dim"))
        self._list_organizations(region)

    @work(thread=True, exclusive=True, group="import-organizations", exit_on_error=False)
    def _list_organizations(self, region: str) -> None:
        worker = get_current_worker()
        try:
            organizations = self._service.list_organizations(region)
            message = OrganizationsListed(region, organizations)
        except ServiceError as exc:
            message = OrganizationsListed(region, error=exc)
        except Exception as exc:  # a bug or an odd backend must not end the app
            message = OrganizationsListed(region, error=_unexpected(exc, "ListOrganizations"))
        if not worker.is_cancelled:
            self.post_message(message)

    def on_organizations_listed(self, message: OrganizationsListed) -> None:
        options = self.query_one("#import-organizations", OptionList)
        options.clear_options()
        if message.error is not None:
            self._status(
                Text("Could not list organizations: ", style=self._palette.error)
                + safe_text(message.error)
                + Text(" — type the organization ID instead.")
            )
            options.display = False
            self.query_one("#import-organization", Input).focus()
            return
        self._organizations = [
            org for org in message.organizations if (org.state or "Active") != "Deleted"
        ]
        if not self._organizations:
            self._status(Text("No organizations found; type an organization ID.", style="dim"))
            options.display = False
            self.query_one("#import-organization", Input).focus()
            return
        options.display = True
        for org in self._organizations:
            label = Text()
            label.append(safe_text(org.alias or "(no alias)", style="bold"))
            label.append("  ")
            label.append(safe_text(org.organization_id))
            if org.default_mail_domain:
                label.append("  ")
                label.append(safe_text(org.default_mail_domain, style="dim"))
            if org.state and org.state != "Active":
                label.append("  ")
                label.append(safe_text(org.state, style=self._palette.warning))
            options.add_option(Option(label, id=org.organization_id))
        options.highlighted = 0
        self._status(
            Text(
                f"{len(self._organizations)} organization(s) in {message.region}:"
                " Enter lists its jobs.",
                style="dim",
            )
        )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.query_one("#import-organization", Input).value = event.option.id
            self._load_jobs()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "import-region":
            self._load_organizations()
        else:
            self._load_jobs()

    # ---- jobs --------------------------------------------------------------------------------

    def _load_jobs(self) -> None:
        region = self._region_value()
        if region is None:
            return
        organization_id = self.query_one("#import-organization", Input).value.strip()
        try:
            validate_organization_id(organization_id)
        except ValidationError as exc:
            self._status(Text(str(exc), style=self._palette.error))
            self.query_one("#import-organization", Input).focus()
            return
        self._status(Text(f"Listing the jobs of {organization_id}…", style="dim"))
        self._list_jobs(region, organization_id)

    @work(thread=True, exclusive=True, group="import-jobs", exit_on_error=False)
    def _list_jobs(self, region: str, organization_id: str) -> None:
        worker = get_current_worker()
        try:
            jobs = self._service.list_jobs(region, organization_id)
            message = JobsListed(region, organization_id, jobs)
        except ServiceError as exc:
            message = JobsListed(region, organization_id, error=exc)
        except Exception as exc:  # a bug or an odd backend must not end the app
            message = JobsListed(
                region, organization_id, error=_unexpected(exc, "ListMailboxExportJobs")
            )
        if not worker.is_cancelled:
            self.post_message(message)

    def on_jobs_listed(self, message: JobsListed) -> None:
        selection = self.query_one("#import-jobs", SelectionList)
        selection.clear_options()
        if message.error is not None:
            self._status(
                Text("Could not list jobs: ", style=self._palette.error) + safe_text(message.error)
            )
            selection.display = False
            return
        now = self._clock()
        jobs = sorted(
            message.jobs,
            key=lambda job: (job.start_time is None, -(job.start_time or now).timestamp()),
        )
        self._listed = list(jobs)
        self._listed_for = (message.region, message.organization_id)
        new = 0
        for job in jobs:
            watched = job.key in self._watched
            new += not watched
            selection.add_option(
                Selection(
                    job_option_label(job, now, watched, self._palette),
                    str(job.key),
                    initial_state=not watched,
                    disabled=watched,
                )
            )
        selection.display = bool(jobs)
        org = sanitize(message.organization_id)
        if not jobs:
            self._status(Text(f"{org} has no jobs started in the last 7 days.", style="dim"))
            return
        selection.focus()
        self._status(
            Text(
                f"{len(jobs)} job(s) in {org}, {new} not watched yet. Space toggles one,"
                " ctrl+a all or none, ctrl+s imports the selected.",
                style="dim",
            )
        )

    # ---- finishing ---------------------------------------------------------------------------

    def _status(self, text: Text) -> None:
        self.query_one("#import-status", Static).update(text)

    def selected_jobs(self) -> tuple[ExportJob, ...]:
        chosen = set(self.query_one("#import-jobs", SelectionList).selected)
        return tuple(
            job for job in self._listed if str(job.key) in chosen and job.key not in self._watched
        )

    def action_toggle_all(self) -> None:
        selection = self.query_one("#import-jobs", SelectionList)
        selectable = [job for job in self._listed if job.key not in self._watched]
        if len(selection.selected) >= len(selectable):
            selection.deselect_all()
        else:
            selection.select_all()

    def action_submit(self) -> None:
        jobs = self.selected_jobs()
        if not jobs:
            self._status(Text("Nothing selected to import.", style=self._palette.warning))
            return
        self.dismiss(jobs)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "import-submit":
            self.action_submit()
        elif event.button.id == "import-toggle":
            self.action_toggle_all()
        else:
            self.action_cancel()

    @property
    def listed_jobs(self) -> Sequence[ExportJob]:
        return tuple(self._listed)
