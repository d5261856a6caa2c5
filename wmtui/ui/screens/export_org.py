"""The organization-wide export's form (`E`).

The export itself runs in the app's background (`wmtui.ui.org_export_runs`) and its progress
view is `wmtui.ui.screens.export_progress`; both are re-exported here for their older callers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static

from wmtui.core.destinations import (
    Destination,
    description_problem,
    organization_problem,
    region_problem,
)
from wmtui.core.export import SERVICE_MAX_RUNNING, ExportSpec
from wmtui.core.models import ValidationError
from wmtui.ui.org_export_runs import ExportWait, wait_or_stop
from wmtui.ui.screens.export_progress import ExportProgressScreen
from wmtui.ui.screens.form import (
    DESTINATION_CHECKS,
    DESTINATION_FIELDS,
    DestinationFormScreen,
    ProfileChoice,
    destination_rows,
    field_errors,
    field_row,
    organization_of,
    organization_rows,
    review_buttons,
    show_errors,
)

PREFIX = "export"
FIELDS: tuple[str, ...] = (
    "region",
    "organization",
    "bucket",
    "prefix",
    "role_arn",
    "kms_key_arn",
    "max_running",
    "description",
)
# Seconds between rounds when nothing is expected sooner (the engine's CLI default).
POLL_INTERVAL = 15.0
# Never sooner than this, even when a job looks about to end.
MIN_INTERVAL = 2.0

__all__ = [
    "MIN_INTERVAL",
    "POLL_INTERVAL",
    "ExportCheck",
    "ExportFormScreen",
    "ExportProgressScreen",
    "ExportWait",
    "check_export_form",
    "wait_or_stop",
]


# ---- the form ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportCheck:
    errors: dict[str, str]
    spec: ExportSpec | None = None

    @property
    def ok(self) -> bool:
        return self.spec is not None and not self.errors

    @property
    def result(self) -> ExportSpec | None:
        return self.spec if self.ok else None


def max_running_problem(value: str) -> str | None:
    try:
        number = int(value)
    except ValueError:
        return f"at most how many exports run at once: a number from 1 to {SERVICE_MAX_RUNNING}"
    if not 1 <= number <= SERVICE_MAX_RUNNING:
        return (
            f"at most {SERVICE_MAX_RUNNING} exports run at once in an organization"
            f" (WorkMail's limit); got {number}"
        )
    return None


def check_export_form(
    values: Mapping[str, str], *, endpoint_url: str | None = None, require_all: bool = False
) -> ExportCheck:
    """Check every field as the engine will (ExportSpec.validate), each error by its field."""
    checks: dict[str, Callable[[str], str | None]] = {
        "region": lambda value: region_problem(value, endpoint_url=endpoint_url),
        "organization": organization_problem,
        **DESTINATION_CHECKS,
        "max_running": max_running_problem,
    }
    errors = field_errors(values, checks, require_all=require_all)
    found = description_problem(values.get("description", ""))
    if found is not None:
        errors["description"] = found
    if errors or not all(values.get(name) for name in checks):
        return ExportCheck(errors)
    spec = ExportSpec(
        region=values["region"],
        organization_id=values["organization"],
        bucket=values["bucket"],
        prefix=values["prefix"],
        role_arn=values["role_arn"],
        kms_key_arn=values["kms_key_arn"],
        max_running=int(values["max_running"]),
        description=values.get("description", ""),
    )
    try:
        spec.validate(endpoint_url=endpoint_url)
    except ValidationError as exc:
        # The engine's rule for the whole (e.g. the generated description) has the last word.
        return ExportCheck({"description": str(exc)})
    return ExportCheck(errors, spec)


class ExportFormScreen(DestinationFormScreen[ExportCheck, ExportSpec]):
    """Dismisses with the export to run, or None when cancelled."""

    PREFIX = PREFIX
    FIELDS = FIELDS

    def __init__(
        self,
        *,
        region: str,
        organization_id: str,
        destination_for: Callable[[str], Destination | None],
        endpoint_url: str | None = None,
        mailbox_count: Callable[[str, str], int | None] | None = None,
        initial: ExportSpec | None = None,
        cursor_blink: bool = True,
        profiles: ProfileChoice | None = None,
    ) -> None:
        super().__init__(
            region, organization_id, initial, destination_for, endpoint_url, cursor_blink, profiles
        )
        self._mailbox_count = mailbox_count
        self._initial = initial
        self._organization: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        spec = self._initial
        with Vertical(id="export-form-dialog", classes="dialog"):
            yield Static(Text("Export every mailbox of an organization"), classes="dialog-title")
            yield Static(
                Text(
                    "Queues every enabled user and resource, keeps up to the chosen number"
                    " running (WorkMail allows 10 per organization), skips a mailbox exported"
                    " in the last 24 hours, retries a failed one. It runs in the background"
                    " until done or stopped (x); its state is saved as it goes, so E here or"
                    " `wmtui export-org` resumes a stopped one.",
                    style="dim",
                )
            )
            yield from organization_rows(PREFIX, self._region, self._organization_id)
            yield from self.profile_rows()
            yield Static(id="export-org-note")
            yield from destination_rows(PREFIX, spec)
            yield from field_row(
                PREFIX,
                "max_running",
                "Max running",
                str(spec.max_running if spec else SERVICE_MAX_RUNNING),
                placeholder=f"1 to {SERVICE_MAX_RUNNING}",
                input_type="integer",
            )
            yield from field_row(
                PREFIX,
                "description",
                "Description",
                spec.description if spec else "",
                placeholder="optional; each job's Description (default: wmtui export-org <id>)",
            )
            yield from review_buttons(PREFIX)

    def on_mount(self) -> None:
        self._apply_cursor_blink()
        self._organization_changed()
        if not self._organization_id:
            self.query_one("#export-organization", Input).focus()
        else:
            first_empty = next(
                (
                    name
                    for name in DESTINATION_FIELDS
                    if not self.query_one(f"#export-{name}", Input).value
                ),
                None,
            )
            target = f"#export-{first_empty}" if first_empty else "#export-submit"
            self.query_one(target).focus()
        self._show(self._check())

    def _organization_changed(self) -> None:
        where = organization_of(self._values(), self._endpoint_url)
        note = self.query_one("#export-org-note", Static)
        if where is None:
            note.update(Text(""))
            return
        if where != self._organization:
            self._organization = where
            self._preselect_profile()
        region, organization = where
        self._fill_remembered(organization)
        count = self._mailbox_count(region, organization) if self._mailbox_count else None
        if count:
            note.update(Text(f"{count} enabled mailboxes known in this organization.", style="dim"))
        else:
            note.update(Text("Its mailboxes are listed when the export starts.", style="dim"))

    def _check(self) -> ExportCheck:
        check = check_export_form(
            self._values(), endpoint_url=self._endpoint_url, require_all=self._tried_submit
        )
        problem = self._profile_problem()
        return check if problem is None else ExportCheck({**check.errors, "profile": problem})

    def _show(self, check: ExportCheck) -> None:
        show_errors(self, PREFIX, FIELDS, check.errors)
        self._show_profile_problem(check.errors.get("profile"))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.input.id in ("export-region", "export-organization"):
            self._organization_changed()
        self._show(self._check())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()
