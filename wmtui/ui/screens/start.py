"""The start form (`n`): one mailbox export, every field checked against the API's rules as typed.

The mailbox is picked from the organization's mailboxes (the name directory's list, read in a
thread worker through the callable the app gives, as the AWS profile picked in the form when
the AWS config file has profiles), found by typing part of a name or an email.
When the list cannot be read, the mailbox's ID, user name or email can be typed instead: the API
takes any of them. The form dismisses with a `StartPlan`; the app asks for a confirmation and
makes the call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from wmtui.core.destinations import (
    Destination,
    description_problem,
    organization_problem,
    region_problem,
)
from wmtui.core.models import Mailbox, StartRequest, ValidationError, validate_entity_id
from wmtui.core.service import ServiceError
from wmtui.ui.messages import MailboxesListed
from wmtui.ui.safe_text import safe_text, sanitize
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

PREFIX = "start"
FIELDS: tuple[str, ...] = (
    "region",
    "organization",
    "mailbox",
    "bucket",
    "prefix",
    "role_arn",
    "kms_key_arn",
    "description",
)
# Options shown at once; more than that is narrowed by typing.
MAX_SHOWN = 200
NAME_WIDTH = 28

# (region, organization, the profile picked: None for the default chain or without a picker)
ListMailboxes = Callable[[str, str, str | None], Sequence[Mailbox]]


@dataclass(frozen=True)
class StartPlan:
    """What the form asks to start: the app confirms it, then calls StartMailboxExportJob."""

    region: str
    organization_id: str
    mailbox: Mailbox
    request: StartRequest

    @property
    def label(self) -> str:
        return self.mailbox.label

    @property
    def destination(self) -> Destination:
        request = self.request
        return Destination(
            request.s3_bucket_name, request.s3_prefix, request.role_arn, request.kms_key_arn
        )


@dataclass(frozen=True)
class StartCheck:
    """The form's state: the plan it would send, and what is wrong with each field."""

    errors: dict[str, str]
    plan: StartPlan | None = None

    @property
    def ok(self) -> bool:
        return self.plan is not None and not self.errors

    @property
    def result(self) -> StartPlan | None:
        return self.plan if self.ok else None


def mailbox_haystack(mailbox: Mailbox) -> str:
    """What the picker's filter matches: every name a person may type, case-folded."""
    parts = (mailbox.display_name, mailbox.name, mailbox.email, mailbox.entity_id)
    return "\n".join(part for part in parts if part).casefold()


def mailbox_matches(mailboxes: Sequence[Mailbox], query: str) -> list[Mailbox]:
    """The mailboxes whose names hold every word of `query` (all of them for an empty one)."""
    words = query.casefold().split()
    if not words:
        return list(mailboxes)
    return [m for m in mailboxes if all(word in mailbox_haystack(m) for word in words)]


def check_start_form(
    values: Mapping[str, str],
    chosen: Mailbox | None,
    *,
    listed: bool,
    endpoint_url: str | None = None,
    require_all: bool = False,
) -> StartCheck:
    """Check every field; an empty one counts only with `require_all` (after a submit).

    `chosen` is the mailbox picked from the list; when the list could not be read (`listed`
    False) the typed text is the mailbox's ID, user name or email.
    """
    where_checks: dict[str, Callable[[str], str | None]] = {
        "region": lambda value: region_problem(value, endpoint_url=endpoint_url),
        "organization": organization_problem,
    }
    errors = field_errors(values, where_checks, require_all=require_all)
    mailbox = chosen
    typed = values.get("mailbox", "")
    if chosen is not None:
        if chosen.state and chosen.state != "ENABLED":
            errors["mailbox"] = (
                f"{sanitize(chosen.label)} is {chosen.state}: it has no mailbox to export"
            )
    elif listed:
        if require_all:
            errors["mailbox"] = (
                "pick a mailbox: type part of its name or email, then Enter (↑/↓ to move)"
            )
    elif not typed:
        if require_all:
            errors["mailbox"] = "required: the mailbox's ID, user name or email"
    else:
        try:
            mailbox = Mailbox(entity_id=validate_entity_id(typed))
        except ValidationError as exc:
            errors["mailbox"] = str(exc)
    errors.update(field_errors(values, DESTINATION_CHECKS, require_all=require_all))
    problem = description_problem(values.get("description", ""))
    if problem is not None:
        errors["description"] = problem
    required = ("region", "organization", "bucket", "prefix", "role_arn", "kms_key_arn")
    if errors or mailbox is None or not all(values.get(name) for name in required):
        return StartCheck(errors)
    request = StartRequest(
        entity_id=mailbox.entity_id,
        s3_bucket_name=values["bucket"],
        s3_prefix=values["prefix"],
        role_arn=values["role_arn"],
        kms_key_arn=values["kms_key_arn"],
        description=values.get("description", ""),
    )
    return StartCheck(errors, StartPlan(values["region"], values["organization"], mailbox, request))


def mailbox_option_label(mailbox: Mailbox) -> Text:
    label = Text(no_wrap=True, overflow="ellipsis")
    name = safe_text(mailbox.label, style="bold", limit=NAME_WIDTH - 2)
    # Names in a column, emails lined up after them.
    name.pad_right(max(1, NAME_WIDTH - name.cell_len))
    label.append(name)
    if mailbox.email:
        label.append(safe_text(mailbox.email, limit=50))
    if mailbox.kind != "USER":
        label.append(f"  {sanitize(mailbox.kind.lower())}", style="italic")
    if mailbox.state and mailbox.state != "ENABLED":
        label.append(f"  {sanitize(mailbox.state.lower())}", style="dim")
    return label


class StartExportScreen(DestinationFormScreen[StartCheck, StartPlan]):
    """Dismisses with what to start, or None when cancelled."""

    PREFIX = PREFIX
    FIELDS = FIELDS

    def __init__(
        self,
        *,
        region: str,
        organization_id: str,
        list_mailboxes: ListMailboxes,
        destination_for: Callable[[str], Destination | None],
        endpoint_url: str | None = None,
        initial: StartPlan | None = None,
        cursor_blink: bool = True,
        profiles: ProfileChoice | None = None,
    ) -> None:
        super().__init__(
            region, organization_id, initial, destination_for, endpoint_url, cursor_blink, profiles
        )
        self._list_mailboxes = list_mailboxes
        self._initial = initial
        self._chosen: Mailbox | None = initial.mailbox if initial else None
        # The organization in the form, the one whose mailboxes are (being) listed (and with
        # which profile), and what came back.
        self._organization: tuple[str, str] | None = None
        self._listing_for: tuple[str, str, str | None] | None = None
        self._mailboxes: list[Mailbox] = []
        self._listed = False
        self._shown: list[Mailbox] = []

    def compose(self) -> ComposeResult:
        initial = self._initial
        request = initial.request if initial else None
        with Vertical(id="start-dialog", classes="dialog"):
            yield Static(Text("Start a mailbox export"), classes="dialog-title")
            yield Static(
                Text(
                    "WorkMail runs at most 10 exports at once per organization and one export"
                    " per mailbox per 24 hours.",
                    style="dim",
                )
            )
            yield from organization_rows(PREFIX, self._region, self._organization_id)
            yield from self.profile_rows()
            yield from field_row(
                PREFIX, "mailbox", "Mailbox", placeholder="type part of a name or email"
            )
            yield Static(id="start-list-status")
            matches = OptionList(id="start-mailboxes", markup=False, compact=True)
            # Not a Tab stop: ↑/↓ in the search box move through it and Enter picks. As a stop
            # it appears once the list has arrived, and what was typed after Tab went to it.
            matches.can_focus = False
            yield matches
            yield Static(id="start-chosen")
            yield from destination_rows(PREFIX, initial.destination if initial else None)
            yield from field_row(
                PREFIX,
                "description",
                "Description",
                request.description if request else "",
                placeholder="optional, up to 1023 characters",
            )
            yield Static(id="start-summary")
            yield from review_buttons(PREFIX)

    def on_mount(self) -> None:
        self._apply_cursor_blink()
        self._fill_destination()
        self._organization_changed()
        self._show_chosen()
        if not self._organization_id:
            self.query_one("#start-organization", Input).focus()
        elif self._chosen is not None:
            self.query_one("#start-submit", Button).focus()
        else:
            self.query_one("#start-mailbox", Input).focus()
        self._show(self._check())

    # ---- the organization and its mailboxes --------------------------------------------------

    def _where(self) -> tuple[str, str] | None:
        return organization_of(self._values(), self._endpoint_url)

    def _fill_destination(self) -> None:
        """Put the organization's remembered destination in the fields nobody edited."""
        where = self._where()
        if where is not None:
            self._fill_remembered(where[1])

    def _organization_changed(self) -> None:
        where = self._where()
        if where == self._organization:
            return
        self._organization = where
        if where is not None:
            self._preselect_profile()
        if self._chosen is not None and self._initial is None:
            self._chosen = None
            self._show_chosen()
        self._initial = None
        self._list_mailboxes_of(where)

    def _profile_changed(self) -> None:
        self._list_mailboxes_of(self._where())

    def _list_mailboxes_of(self, where: tuple[str, str] | None) -> None:
        """List the organization's mailboxes as the picked profile (unless listed already)."""
        listing = None if where is None else (*where, self._profile)
        if listing == self._listing_for:
            return
        self._listing_for = listing
        self._mailboxes = []
        self._listed = False
        if where is None:
            self._status(Text("Enter the region and organization to list its mailboxes.", "dim"))
            self._refilter()
            return
        self._fill_destination()
        self._status(Text(f"Listing the mailboxes of {where[1]}…", style="dim"))
        self._refilter()
        self._load_mailboxes(*where, self._profile)

    @work(thread=True, exclusive=True, group="start-mailboxes", exit_on_error=False)
    def _load_mailboxes(self, region: str, organization_id: str, profile: str | None) -> None:
        worker = get_current_worker()
        try:
            found = list(self._list_mailboxes(region, organization_id, profile))
            message = MailboxesListed(region, organization_id, found)
        except ServiceError as exc:
            message = MailboxesListed(region, organization_id, error=str(exc))
        except Exception as exc:  # a bug or an odd backend must not end the app
            message = MailboxesListed(region, organization_id, error=f"{type(exc).__name__}: {exc}")
        if not worker.is_cancelled:
            self.post_message(message)

    def on_mailboxes_listed(self, message: MailboxesListed) -> None:
        message.stop()
        listing = self._listing_for
        if listing is None or (message.region, message.organization_id) != listing[:2]:
            return  # an answer for an organization no longer in the form
        search = self.query_one("#start-mailbox", Input)
        if message.error is not None:
            self._listed = False
            self._status(
                Text("Could not list the mailboxes: ", style="bold")
                + safe_text(message.error, limit=200)
                + Text(" Type the mailbox's ID, user name or email instead.")
            )
            search.placeholder = "the mailbox's ID, user name or email"
        else:
            self._listed = True
            self._mailboxes = sorted(
                (m for m in message.mailboxes if (m.state or "ENABLED") != "DELETED"),
                key=lambda m: (m.label.casefold(), m.entity_id),
            )
            search.placeholder = "type part of a name or email"
        self._refilter()
        self._show(self._check())

    def _refilter(self) -> None:
        options = self.query_one("#start-mailboxes", OptionList)
        options.clear_options()
        if not self._listed:
            self._shown = []
            options.display = False
            return
        query = self.query_one("#start-mailbox", Input).value
        matches = mailbox_matches(self._mailboxes, query)
        self._shown = matches[:MAX_SHOWN]
        options.add_options([Option(mailbox_option_label(m), id=m.entity_id) for m in self._shown])
        if len(matches) > MAX_SHOWN:
            more = Text(f"… {len(matches) - MAX_SHOWN} more: type to narrow", style="dim")
            options.add_option(Option(more, disabled=True))
        options.display = True
        if self._shown:
            options.highlighted = 0
        listing = self._listing_for
        org = sanitize(listing[1]) if listing else ""
        total = len(self._mailboxes)
        if not total:
            self._status(Text(f"{org} has no mailboxes to export.", style="dim"))
        elif query.strip():
            self._status(Text(f"{len(matches)} of {total} mailboxes match.", style="dim"))
        else:
            self._status(
                Text(f"{total} mailboxes in {org}: type to narrow, Enter picks.", style="dim")
            )

    def _status(self, text: Text) -> None:
        self.query_one("#start-list-status", Static).update(text)

    def _choose(self, mailbox: Mailbox) -> None:
        self._chosen = mailbox
        self._show_chosen()
        self._show(self._check())
        # On to the first destination field still empty (or the button).
        for name in DESTINATION_FIELDS:
            box = self.query_one(f"#start-{name}", Input)
            if not box.value.strip():
                box.focus()
                return
        self.query_one("#start-submit", Button).focus()

    def _show_chosen(self) -> None:
        chosen = self._chosen
        widget = self.query_one("#start-chosen", Static)
        if chosen is None:
            widget.update(Text("No mailbox picked yet.", style="dim"))
            return
        text = Text("→ ", style="bold")
        text.append(safe_text(chosen.label, style="bold", limit=50))
        if chosen.email:
            text.append(" · ", style="dim")
            text.append(safe_text(chosen.email, limit=60))
        if chosen.entity_id != chosen.label:
            text.append(" · ", style="dim")
            text.append(safe_text(chosen.entity_id, style="dim", limit=60))
        widget.update(text)

    # ---- checking ----------------------------------------------------------------------------

    def _check(self) -> StartCheck:
        check = check_start_form(
            self._values(),
            self._chosen,
            listed=self._listed,
            endpoint_url=self._endpoint_url,
            require_all=self._tried_submit,
        )
        problem = self._profile_problem()
        return check if problem is None else StartCheck({**check.errors, "profile": problem})

    def _show(self, check: StartCheck) -> None:
        show_errors(self, PREFIX, FIELDS, check.errors)
        self._show_profile_problem(check.errors.get("profile"))
        summary = self.query_one("#start-summary", Static)
        if check.ok and check.plan is not None:
            summary.update(Text(f"Ready: export {sanitize(check.plan.label)}.", style="bold"))
        else:
            summary.update(Text(""))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        field = (event.input.id or "").removeprefix("start-")
        if field in ("region", "organization"):
            self._organization_changed()
        elif field == "mailbox":
            self._refilter()
        self._show(self._check())

    def on_key(self, event: events.Key) -> None:
        # ↑/↓ in the search box move through the matches, as in any type-ahead picker.
        if event.key not in ("up", "down") or self.focused is not self.query_one(
            "#start-mailbox", Input
        ):
            return
        options = self.query_one("#start-mailboxes", OptionList)
        if not options.display:
            return
        event.stop()
        event.prevent_default()
        if event.key == "down":
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._pick(event.option_index)

    def _pick(self, index: int | None) -> bool:
        if index is None or not 0 <= index < len(self._shown):
            return False
        self._choose(self._shown[index])
        return True

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "start-mailbox" and self._listed:
            self._pick(self.query_one("#start-mailboxes", OptionList).highlighted)
            return
        self.action_submit()

    @property
    def chosen(self) -> Mailbox | None:
        return self._chosen
