"""The mailboxes screen's two questions: which organization (`o`), and the cut-off date (`c`).

The organization comes from those wmtui has met (the watch list, the names cache, remembered
destinations, saved organization exports) or is typed: `m-… [region]`. The cut-off is a day
(YYYY-MM-DD): exports started before it count as stale; empty means no cut-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from wmtui.core.coverage_read import KnownOrganization
from wmtui.core.destinations import organization_problem, region_problem
from wmtui.ui.safe_text import safe_text, sanitize

DIALOG_CSS = """
#pick-org-dialog, #cutoff-dialog { width: 90; }
#pick-org-list { height: auto; max-height: 12; }
.coverage-dialog-error { color: $error; height: auto; }
.coverage-dialog-hint { color: $text-muted; height: auto; }
"""


def parse_organization(text: str, default_region: str) -> tuple[str, str] | str:
    """(region, organization) from 'm-… [region]' (either order), or what is wrong with it."""
    words = text.split()
    if not words or len(words) > 2:
        return "Type an organization ID, and its region if not " + default_region
    org = next((w for w in words if w.lower().startswith("m-")), words[0])
    rest = [w for w in words if w is not org]
    region = rest[0] if rest else default_region
    problem = organization_problem(org) or region_problem(region)
    return problem if problem is not None else (region, org)


class OrganizationPicker(ModalScreen[tuple[str, str] | None]):
    """Dismisses with (region, organization), or None (Esc)."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, known: Sequence[KnownOrganization], default_region: str) -> None:
        super().__init__()
        self.known = list(known)
        self.default_region = default_region

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-org-dialog", classes="dialog"):
            yield Static(Text("Mailboxes of which organization?"), classes="dialog-title")
            if self.known:
                yield OptionList(
                    *[Option(self.label(k), id=str(i)) for i, k in enumerate(self.known)],
                    id="pick-org-list",
                )
            else:
                yield Static(
                    "No organization met yet (no watched job, names or destination).",
                    id="pick-org-none",
                    classes="coverage-dialog-hint",
                )
            yield Label(f"Or type one: m-… and its region (default {self.default_region})")
            yield Input(id="pick-org-input", placeholder="m-0123456789abcdef0123456789abcdef")
            yield Static(id="pick-org-error", classes="coverage-dialog-error")
            yield Static(
                "Enter opens it · Tab moves · Esc goes back", classes="coverage-dialog-hint"
            )

    @staticmethod
    def label(known: KnownOrganization) -> Text:
        text = safe_text(known.organization_id)
        text.append(f"  {sanitize(known.region)}", style="dim")
        if known.mailboxes:
            text.append(f"  {known.mailboxes} mailboxes known")
        text.append(f"  ({', '.join(known.sources)})", style="dim")
        return text

    def on_mount(self) -> None:
        target = "#pick-org-list" if self.known else "#pick-org-input"
        self.query_one(target).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        chosen = self.known[int(event.option.id or 0)]
        self.dismiss((chosen.region, chosen.organization_id))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        answer = parse_organization(event.value, self.default_region)
        if isinstance(answer, str):
            self.query_one("#pick-org-error", Static).update(Text(sanitize(answer, limit=200)))
            return
        self.dismiss(answer)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class CutoffChoice:
    day: date | None  # None: no cut-off


def parse_cutoff(text: str) -> CutoffChoice | str:
    """The day typed (empty: none), or what is wrong with it."""
    text = text.strip()
    if not text:
        return CutoffChoice(None)
    try:
        return CutoffChoice(date.fromisoformat(text))
    except ValueError:
        return f"{sanitize(text, limit=30)!r} is not a date: use YYYY-MM-DD"


class CutoffScreen(ModalScreen[CutoffChoice | None]):
    """Dismisses with the cut-off chosen, or None (Esc: unchanged)."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: date | None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="cutoff-dialog", classes="dialog"):
            yield Static(Text("Cut-off date"), classes="dialog-title")
            yield Static(
                "Exports started before this day count as stale: the mailbox must be exported"
                " again. Empty: every good export counts.",
                classes="coverage-dialog-hint",
            )
            yield Input(
                self.current.isoformat() if self.current else "",
                id="cutoff-input",
                placeholder="YYYY-MM-DD",
            )
            yield Static(id="cutoff-error", classes="coverage-dialog-error")
            yield Static("Enter sets it · Esc goes back", classes="coverage-dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#cutoff-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        answer = parse_cutoff(event.value)
        if isinstance(answer, str):
            self.query_one("#cutoff-error", Static).update(Text(answer))
            return
        self.dismiss(answer)

    def action_cancel(self) -> None:
        self.dismiss(None)
