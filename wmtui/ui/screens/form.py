"""Pieces the add, start and export forms share: labelled fields with their errors, the
destination's four fields, `FormScreen` (submit, cancel, focus on the first problem) and
`DestinationFormScreen` (the start and export forms: bindings, remembered destination, and the
AWS profile picker shown when the AWS config file has profiles)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Select, Static

from wmtui.core.destinations import (
    Destination,
    bucket_problem,
    kms_key_arn_problem,
    organization_problem,
    prefix_problem,
    region_problem,
    role_arn_problem,
)
from wmtui.ui.safe_text import safe_text, sanitize

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
# The profile picker's value for "no profile": the default credential chain.
DEFAULT_CHAIN = ""


def profile_select(
    widget_id: str,
    profiles: Sequence[str],
    chosen: str | None,
    default_label: str,
    *,
    compact: bool = False,
) -> Select[str]:
    """A picker of the AWS config file's profiles, the default chain first."""
    # Names from the AWS config file: shown as text, never read as markup.
    options = [(safe_text(f"{default_label} (the default chain)"), DEFAULT_CHAIN)]
    options += [(safe_text(name), name) for name in profiles if name != default_label]
    values = {value for _, value in options}
    return Select(
        options,
        id=widget_id,
        allow_blank=False,
        value=chosen if chosen in values else DEFAULT_CHAIN,
        compact=compact,
    )


def chosen_profile(value: object) -> str | None:
    """The picker's value as a profile; None for the default chain."""
    return value if isinstance(value, str) and value != DEFAULT_CHAIN else None


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


@dataclass(frozen=True)
class KnownProfile:
    """What the app knows of an organization's AWS profile."""

    profile: str | None  # None: the default chain
    # True when the watch list holds the organization: its jobs are read with that profile.
    watched: bool


@dataclass(frozen=True)
class ProfileChoice:
    """The start and export forms' profile picker: shown only when there are `profiles`."""

    profiles: tuple[str, ...] = ()
    # Preselected when the organization's own profile is not known (the selected job's).
    profile: str | None = None
    default_label: str = "default"
    # The organization's known profile, or None when nothing is known of it.
    known: Callable[[str, str], KnownProfile | None] | None = None


def profile_mismatch(organization_id: str, known: KnownProfile, default_label: str) -> str:
    """Why a form refuses a profile other than the one the organization is watched with."""
    watched_with = known.profile or f"{default_label} (the default chain)"
    return (
        f"{sanitize(organization_id)} is watched with profile {sanitize(watched_with)}: an"
        " organization lives in one account. Pick that one (to change it, remove its jobs"
        " from the watch list, then add them with the other profile)"
    )


class DestinationFormScreen(FormScreen[CheckT, ResultT]):
    """A form that starts exports: region, organization and the destination's fields.

    The organization's remembered destination fills the destination fields nobody edited. With
    profiles in the AWS config file, an AWS profile picker follows the organization: its known
    profile is preselected whenever the organization changes.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Review and start", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]
    DEFAULT_CSS = """
    DestinationFormScreen .form-row Select {
        width: 1fr;
    }
    """

    def __init__(
        self,
        region: str,
        organization_id: str,
        initial: _Where | None,
        destination_for: Callable[[str], Destination | None],
        endpoint_url: str | None,
        cursor_blink: bool,
        profiles: ProfileChoice | None = None,
    ) -> None:
        super().__init__(endpoint_url=endpoint_url, cursor_blink=cursor_blink)
        self._region = initial.region if initial else region
        self._organization_id = initial.organization_id if initial else organization_id
        self._destination_for = destination_for
        # What the form filled in by itself: a field still holding it was not edited.
        self._filled: dict[str, str] = {}
        choice = self._choice = profiles or ProfileChoice()
        # The default chain's own profile, named, is the picker's "default chain" entry.
        offered = choice.profile in choice.profiles and choice.profile != choice.default_label
        self._profile = choice.profile if offered else None

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

    # ---- the AWS profile ---------------------------------------------------------------------

    @property
    def picks_profile(self) -> bool:
        """Whether the form shows a profile picker (the AWS config file has profiles)."""
        return bool(self._choice.profiles)

    @property
    def profile(self) -> str | None:
        """The AWS profile picked (None: the default chain, or no picker); kept after dismiss."""
        return self._profile

    def profile_rows(self) -> ComposeResult:
        """`AWS profile  [picker]` and its error line; nothing without profiles."""
        choice = self._choice
        if not choice.profiles:
            return
        with Horizontal(classes="form-row", id=f"{self.PREFIX}-profile-row"):
            yield Label("AWS profile", classes="form-label")
            yield profile_select(
                f"{self.PREFIX}-profile",
                choice.profiles,
                self._profile,
                choice.default_label,
                compact=True,
            )
        yield Static(id=f"{self.PREFIX}-profile-error", classes="field-error form-error")

    def _known_profile(self) -> tuple[str, KnownProfile] | None:
        """The form's organization and what is known of its profile."""
        known_of = self._choice.known
        where = organization_of(self._values(), self._endpoint_url)
        if known_of is None or where is None or not self.picks_profile:
            return None
        known = known_of(*where)
        return None if known is None else (where[1], known)

    def _preselect_profile(self) -> None:
        """The organization's known profile in the picker (the organization changed)."""
        found = self._known_profile()
        if found is None:
            return  # nothing known: the pick stays as it is
        choice = self._choice
        value = found[1].profile or DEFAULT_CHAIN
        offered = {DEFAULT_CHAIN, *choice.profiles} - {choice.default_label}
        if value in offered:
            self.query_one(f"#{self.PREFIX}-profile", Select).value = value
            self._profile = chosen_profile(value)

    def _profile_problem(self) -> str | None:
        """A profile other than the one the organization's watched jobs are read with."""
        found = self._known_profile()
        if found is None or not found[1].watched or found[1].profile == self._profile:
            return None
        return profile_mismatch(found[0], found[1], self._choice.default_label)

    def _show_profile_problem(self, problem: str | None) -> None:
        if not self.picks_profile:
            return
        widget = self.query_one(f"#{self.PREFIX}-profile-error", Static)
        widget.update(safe_text(problem or "", single_line=False))
        widget.display = problem is not None

    def _profile_changed(self) -> None:
        """The picked profile changed (the start form lists the mailboxes again)."""

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.select.id != f"{self.PREFIX}-profile":
            return
        picked = chosen_profile(event.value)
        if picked == self._profile:
            return
        self._profile = picked
        self._profile_changed()
        self._show(self._check())

    def action_submit(self) -> None:
        problem = self._profile_problem()
        super().action_submit()
        if problem is not None:
            self.query_one(f"#{self.PREFIX}-profile", Select).focus()
