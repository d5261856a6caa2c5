"""Pieces the add, start and export forms share: labelled fields with their errors, the
destination's four fields, `FormScreen` (submit, cancel, focus on the first problem) and
`DestinationFormScreen` (the start and export forms: bindings, remembered destination)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static

from wmtui.core.destinations import (
    Destination,
    bucket_problem,
    kms_key_arn_problem,
    organization_problem,
    prefix_problem,
    region_problem,
    role_arn_problem,
)
from wmtui.ui.safe_text import safe_text

InputType = Literal["integer", "number", "text"]
Problem = Callable[[str], str | None]

DESTINATION_FIELDS: tuple[str, ...] = ("bucket", "prefix", "role_arn", "kms_key_arn")
DESTINATION_CHECKS: dict[str, Problem] = {
    "bucket": bucket_problem,
    "prefix": prefix_problem,
    "role_arn": role_arn_problem,
    "kms_key_arn": kms_key_arn_problem,
}
# Each destination field's label and placeholder.
_DESTINATION_ROWS: tuple[tuple[str, str, str], ...] = (
    ("bucket", "S3 bucket", "example-corp-workmail-export"),
    ("prefix", "S3 prefix", "pre-shutdown/2027"),
    ("role_arn", "Role ARN", "arn:aws:iam::123456789012:role/WorkMailExport"),
    ("kms_key_arn", "KMS key ARN", "arn:aws:kms:us-east-1:123456789012:key/…"),
)


def field_row(
    prefix: str,
    name: str,
    label: str,
    value: str = "",
    *,
    placeholder: str = "",
    input_type: InputType = "text",
    max_length: int = 0,
) -> ComposeResult:
    """`Label  [input]` on one line, and an error line under it shown only when needed."""
    with Horizontal(classes="form-row", id=f"{prefix}-{name}-row"):
        yield Label(label, classes="form-label")
        yield Input(
            value,
            id=f"{prefix}-{name}",
            placeholder=placeholder,
            compact=True,
            type=input_type,
            max_length=max_length,
        )
    yield Static(id=f"{prefix}-{name}-error", classes="field-error form-error")


def organization_rows(prefix: str, region: str, organization_id: str) -> ComposeResult:
    """The region and organization fields."""
    yield from field_row(prefix, "region", "Region", region, placeholder="us-east-1")
    yield from field_row(
        prefix,
        "organization",
        "Organization",
        organization_id,
        placeholder="m- and 32 hex digits",
    )


class DestinationFields(Protocol):
    """What has the destination's four values under their field names (Destination, ExportSpec)."""

    @property
    def bucket(self) -> str: ...

    @property
    def prefix(self) -> str: ...

    @property
    def role_arn(self) -> str: ...

    @property
    def kms_key_arn(self) -> str: ...


def destination_rows(prefix: str, destination: DestinationFields | None) -> ComposeResult:
    """The bucket, prefix, role ARN and KMS key ARN fields, filled from `destination`."""
    for name, label, placeholder in _DESTINATION_ROWS:
        value = getattr(destination, name) if destination is not None else ""
        yield from field_row(prefix, name, label, value, placeholder=placeholder)


def review_buttons(prefix: str) -> ComposeResult:
    """`Review and start` and `Cancel`, as `<prefix>-submit` and `<prefix>-cancel`."""
    with Horizontal(classes="dialog-buttons"):
        yield Button(
            "Review and start (Enter / ctrl+s)",
            id=f"{prefix}-submit",
            variant="primary",
            compact=True,
        )
        yield Button("Cancel (Esc)", id=f"{prefix}-cancel", compact=True)


def field_errors(
    values: Mapping[str, str], checks: Mapping[str, Problem], *, require_all: bool
) -> dict[str, str]:
    """Each checked field's problem; an empty one counts only with `require_all` (a submit)."""
    errors: dict[str, str] = {}
    for name, problem in checks.items():
        value = values.get(name, "")
        if not value:
            if require_all:
                errors[name] = "required"
            continue
        found = problem(value)
        if found is not None:
            errors[name] = found
    return errors


def organization_of(values: Mapping[str, str], endpoint_url: str | None) -> tuple[str, str] | None:
    """The form's region and organization, when both are valid."""
    region, organization = values["region"], values["organization"]
    if region_problem(region, endpoint_url=endpoint_url) is not None:
        return None
    if organization_problem(organization) is not None:
        return None
    return region, organization


def show_errors(
    screen: Screen[Any],
    prefix: str,
    names: Iterable[str],
    errors: Mapping[str, str],
    *,
    mark_inputs: bool = True,
) -> None:
    """Show each field's problem under it (text from the user is quoted, never markup).

    With `mark_inputs` each field's Input also gets the `-problem` class while it has one.
    """
    for name in names:
        widget = screen.query_one(f"#{prefix}-{name}-error", Static)
        error = errors.get(name)
        widget.update(safe_text(error or "", single_line=False))
        widget.display = error is not None
        if mark_inputs:
            screen.query_one(f"#{prefix}-{name}", Input).set_class(error is not None, "-problem")


def values_of(screen: Screen[Any], prefix: str, names: Iterable[str]) -> dict[str, str]:
    """The fields' values, stripped of the spaces a paste brings along."""
    return {name: screen.query_one(f"#{prefix}-{name}", Input).value.strip() for name in names}


ResultT = TypeVar("ResultT")
ResultT_co = TypeVar("ResultT_co", covariant=True)


class FormCheck(Protocol[ResultT_co]):
    """A form's state: what is wrong with each field, and what to submit when nothing is."""

    @property
    def errors(self) -> Mapping[str, str]: ...

    @property
    def result(self) -> ResultT_co | None: ...


CheckT = TypeVar("CheckT", bound=FormCheck[Any])


class FormScreen(ModalScreen[ResultT | None], Generic[CheckT, ResultT]):
    """A form dialog that dismisses with its `result`, or None when cancelled.

    Submitting checks every field: with no problem the form dismisses with the result, else it
    shows the problems and takes the user to the first field (in `FIELDS` order) that has one.
    The button `<PREFIX>-submit` submits; any other button cancels.
    """

    PREFIX: ClassVar[str]
    FIELDS: ClassVar[tuple[str, ...]]

    def __init__(self, *, endpoint_url: str | None, cursor_blink: bool) -> None:
        super().__init__()
        self._endpoint_url = endpoint_url
        self._cursor_blink = cursor_blink
        # Empty fields are problems only once a submit was tried.
        self._tried_submit = False

    def _check(self) -> CheckT:
        raise NotImplementedError

    def _show(self, check: CheckT) -> None:
        raise NotImplementedError

    def _apply_cursor_blink(self) -> None:
        for widget in self.query(Input):
            widget.cursor_blink = self._cursor_blink

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == f"{self.PREFIX}-submit":
            self.action_submit()
        else:
            self.action_cancel()

    def action_submit(self) -> None:
        self._tried_submit = True
        check = self._check()
        self._show(check)
        result = check.result
        if result is not None:
            self.dismiss(result)
            return
        # Take the user to the first field that needs fixing.
        for name in self.FIELDS:
            if name in check.errors:
                self.query_one(f"#{self.PREFIX}-{name}").focus()
                break

    def action_cancel(self) -> None:
        self.dismiss(None)


class _Where(Protocol):
    """What names the organization a form was filled for (StartPlan, ExportSpec)."""

    @property
    def region(self) -> str: ...

    @property
    def organization_id(self) -> str: ...


class DestinationFormScreen(FormScreen[CheckT, ResultT]):
    """A form that starts exports: region, organization and the destination's fields.

    The organization's remembered destination fills the destination fields nobody edited.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Review and start", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(
        self,
        region: str,
        organization_id: str,
        initial: _Where | None,
        destination_for: Callable[[str], Destination | None],
        endpoint_url: str | None,
        cursor_blink: bool,
    ) -> None:
        super().__init__(endpoint_url=endpoint_url, cursor_blink=cursor_blink)
        self._region = initial.region if initial else region
        self._organization_id = initial.organization_id if initial else organization_id
        self._destination_for = destination_for
        # What the form filled in by itself: a field still holding it was not edited.
        self._filled: dict[str, str] = {}

    def _values(self) -> dict[str, str]:
        return values_of(self, self.PREFIX, self.FIELDS)

    def _fill_remembered(self, organization_id: str) -> None:
        """Put the organization's remembered destination in the fields nobody edited."""
        remembered = self._destination_for(organization_id)
        if remembered is None:
            return
        for name in DESTINATION_FIELDS:
            box = self.query_one(f"#{self.PREFIX}-{name}", Input)
            if box.value.strip() in ("", self._filled.get(name, "")):
                value = getattr(remembered, name)
                self._filled[name] = value
                box.value = value
