"""The add-jobs form: region, organization and one or more job IDs, validated as you type."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from wmtui.core.models import (
    JobKey,
    ValidationError,
    validate_job_id,
    validate_organization_id,
    validate_region,
)
from wmtui.ui.screens.form import FormScreen, chosen_profile, profile_select, show_errors

# Pasted lists come separated by anything: spaces, commas, semicolons, newlines.
_ID_SEPARATORS = re.compile(r"[\s,;]+")
# More IDs than this in one paste is almost certainly the wrong clipboard.
MAX_IDS_AT_ONCE = 1000


def split_job_ids(text: str) -> list[str]:
    """The pieces of `text` between separators, each once, in order."""
    return list(dict.fromkeys(piece for piece in _ID_SEPARATORS.split(text) if piece))


@dataclass(frozen=True)
class AddCheck:
    """The form's state: what would be added, and what is wrong with each field."""

    keys: tuple[JobKey, ...]
    region_error: str | None = None
    organization_error: str | None = None
    ids_error: str | None = None
    already_watched: int = 0

    @property
    def ok(self) -> bool:
        return (
            bool(self.keys)
            and self.region_error is None
            and self.organization_error is None
            and self.ids_error is None
        )

    @property
    def errors(self) -> dict[str, str]:
        """Each field's problem, by its name in the form."""
        named = (
            ("region", self.region_error),
            ("organization", self.organization_error),
            ("ids", self.ids_error),
        )
        return {name: error for name, error in named if error is not None}

    @property
    def result(self) -> tuple[JobKey, ...] | None:
        return self.keys if self.ok else None


def check_add_form(
    region: str,
    organization_id: str,
    ids_text: str,
    *,
    endpoint_url: str | None = None,
    watched: Collection[JobKey] = (),
    require_all: bool = False,
) -> AddCheck:
    """Validate the three fields with core's validators.

    An empty field counts as an error only with `require_all` (after a submit attempt), so the
    form does not shout before anything was typed.
    """
    region = region.strip()
    organization_id = organization_id.strip()
    region_error = organization_error = ids_error = None
    if region or require_all:
        try:
            validate_region(region, endpoint_url=endpoint_url)
        except ValidationError as exc:
            region_error = str(exc)
    if organization_id or require_all:
        try:
            validate_organization_id(organization_id)
        except ValidationError as exc:
            organization_error = str(exc)
    job_ids = split_job_ids(ids_text)
    bad: list[str] = []
    good: list[str] = []
    for job_id in job_ids:
        try:
            good.append(validate_job_id(job_id))
        except ValidationError as exc:
            bad.append(str(exc))
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        ids_error = "; ".join(bad[:3]) + more
    elif not job_ids and require_all:
        ids_error = "enter one or more job IDs (separated by spaces, commas or new lines)"
    elif len(job_ids) > MAX_IDS_AT_ONCE:
        ids_error = f"at most {MAX_IDS_AT_ONCE} job IDs at once (got {len(job_ids)})"
    keys: tuple[JobKey, ...] = ()
    if region_error is None and organization_error is None and region and organization_id:
        keys = tuple(JobKey(region, organization_id, job_id) for job_id in good)
    already = sum(1 for key in keys if key in watched)
    return AddCheck(keys, region_error, organization_error, ids_error, already)


class JobIdsArea(TextArea):
    """A TextArea where Enter submits the form: lists arrive by paste, not by typing Enter."""

    class SubmitRequested(Message):
        """Enter was pressed in the job ID box."""

    # A priority binding is looked at before TextArea sees the key, which would insert a newline.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "request_submit", "Add", show=False, priority=True),
    ]

    def action_request_submit(self) -> None:
        self.post_message(self.SubmitRequested())


class AddJobsScreen(FormScreen[AddCheck, tuple[JobKey, ...]]):
    """Dismisses with the keys to watch, or None when cancelled."""

    PREFIX = "add"
    FIELDS = ("region", "organization", "ids")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Add", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(
        self,
        *,
        region: str,
        organization_id: str = "",
        endpoint_url: str | None = None,
        watched: Collection[JobKey] = (),
        cursor_blink: bool = True,
        profiles: Sequence[str] = (),
        profile: str | None = None,
        default_profile: str = "default",
    ) -> None:
        super().__init__(endpoint_url=endpoint_url, cursor_blink=cursor_blink)
        self._region = region
        self._organization_id = organization_id
        self._watched = frozenset(watched)
        # The AWS config file's profiles: a picker shows only when there are some.
        self._profiles = tuple(profiles)
        self._profile = profile if profile in self._profiles else None
        self._default_profile = default_profile

    @property
    def profile(self) -> str | None:
        """The AWS profile the jobs belong to (None: the default chain); kept after dismiss."""
        return self._profile

    def on_select_changed(self, event: Select.Changed) -> None:
        self._profile = chosen_profile(event.value)

    def compose(self) -> ComposeResult:
        with Vertical(id="add-dialog", classes="dialog"):
            yield Static(Text("Watch export jobs"), classes="dialog-title")
            if self._profiles:
                yield Label("AWS profile (the organization's account)")
                yield profile_select(
                    "add-profile", self._profiles, self._profile, self._default_profile
                )
            yield Label("Region")
            yield Input(self._region, id="add-region", placeholder="us-east-1")
            yield Static(id="add-region-error", classes="field-error")
            yield Label("Organization ID")
            yield Input(
                self._organization_id,
                id="add-organization",
                placeholder="m- and 32 hex digits",
            )
            yield Static(id="add-organization-error", classes="field-error")
            yield Label("Job IDs (spaces, commas or new lines between them)")
            yield JobIdsArea(id="add-ids", soft_wrap=True, show_line_numbers=False)
            yield Static(id="add-ids-error", classes="field-error")
            yield Static(id="add-summary")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add (Enter / ctrl+s)", id="add-submit", variant="primary")
                yield Button("Cancel (Esc)", id="add-cancel")

    def on_mount(self) -> None:
        self._apply_cursor_blink()
        ids = self.query_one("#add-ids", JobIdsArea)
        ids.cursor_blink = self._cursor_blink
        if self._organization_id:
            ids.focus()
        else:
            self.query_one("#add-organization", Input).focus()
        self._show(self._check())

    def _check(self) -> AddCheck:
        return check_add_form(
            self.query_one("#add-region", Input).value,
            self.query_one("#add-organization", Input).value,
            self.query_one("#add-ids", JobIdsArea).text,
            endpoint_url=self._endpoint_url,
            watched=self._watched,
            require_all=self._tried_submit,
        )

    def _show(self, check: AddCheck) -> None:
        # The job IDs are a TextArea, not an Input: no field is marked, only its error shown.
        show_errors(self, self.PREFIX, self.FIELDS, check.errors, mark_inputs=False)
        summary = self.query_one("#add-summary", Static)
        if check.keys:
            count = len(check.keys)
            text = f"{count} job{'s' if count != 1 else ''} to watch"
            if check.ids_error is not None:
                text = f"{count} valid so far; fix the rest to add them"
            elif check.already_watched:
                text += f" ({check.already_watched} already watched)"
            summary.update(Text(text))
        else:
            summary.update(Text(""))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show(self._check())

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._show(self._check())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_job_ids_area_submit_requested(self, event: JobIdsArea.SubmitRequested) -> None:
        event.stop()
        self.action_submit()
