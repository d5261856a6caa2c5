"""The doctor's report on screen: `D` shows it whole; before a first start it shows what failed.

Before a start (`gate=True`) it dismisses True for "start anyway" (`s`) and False for "back to
the form" (Esc); as the `D` screen it only closes. Every text from AWS goes through safe_text.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from wmtui.core.preflight import DoctorReport, PreflightTarget, Status
from wmtui.ui.safe_text import safe_text

_STYLES = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "bold red"}


def report_text(report: DoctorReport, *, only_problems: bool = False) -> Text:
    """One line per check, its fix under it: the CLI's lines, coloured."""
    text = Text()
    for check in report.checks:
        if only_problems and check.status is Status.OK:
            continue
        text.append(f"{check.status.value:<5}", style=_STYLES[check.status])
        text.append(f"{check.id:<21}", style="dim")
        text.append(safe_text(check.found, single_line=False))
        text.append("\n")
        if check.fix and check.status is not Status.OK:
            text.append("     fix: ", style="bold")
            text.append(safe_text(check.fix, single_line=False, limit=2000))
            text.append("\n")
    return text


def target_text(target: PreflightTarget) -> Text:
    text = Text()
    text.append("Organization  ", style="dim")
    text.append(safe_text(f"{target.organization_id} ({target.region})"))
    text.append("\nGoes to       ", style="dim")
    text.append(safe_text(f"s3://{target.bucket}/{target.prefix}"))
    text.append("\nRole ARN      ", style="dim")
    text.append(safe_text(target.role_arn))
    text.append("\nKMS key ARN   ", style="dim")
    text.append(safe_text(target.kms_key_arn))
    text.append("\nSame checks:  ", style="dim")
    text.append(safe_text(target.command()))
    return text


class DoctorScreen(ModalScreen[bool]):
    """The doctor's report for one destination, filled in when the checks end."""

    DEFAULT_CSS = """
    DoctorScreen #doctor-target { height: auto; margin-bottom: 1; }
    DoctorScreen #doctor-scroll { height: auto; max-height: 28; }
    DoctorScreen #doctor-report { height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "answer(False)", "Back"),
        Binding("s", "start_anyway", "Start anyway", show=False),
    ]

    def __init__(
        self,
        target: PreflightTarget,
        report: DoctorReport | None = None,
        *,
        gate: bool = False,
    ) -> None:
        super().__init__()
        self.target = target
        self.report = report
        self.error: str | None = None
        self.gate = gate

    def compose(self) -> ComposeResult:
        title = "The set-up has problems" if self.gate else "Doctor: the export's set-up"
        with Vertical(id="doctor-dialog", classes="dialog -wide"):
            yield Static(Text(title), classes="dialog-title")
            yield Static(target_text(self.target), id="doctor-target")
            with VerticalScroll(id="doctor-scroll"):
                yield Static(self._body(), id="doctor-report")
            with Horizontal(classes="dialog-buttons"):
                if self.gate:
                    yield Button("Start anyway (s)", id="doctor-start", variant="error")
                    yield Button("Back to the form (Esc)", id="doctor-back")
                else:
                    yield Button("Close (Esc)", id="doctor-back")

    def on_mount(self) -> None:
        # Fixes carry whole policies and ARNs: as wide as the confirmations with ARNs in them
        # (an inline style, as the app's .dialog width would win over this screen's CSS).
        self.query_one("#doctor-dialog").styles.width = 110
        self.query_one("#doctor-back", Button).focus()

    def _body(self) -> Text:
        if self.error is not None:
            text = Text("The checks could not run: ", style="bold red")
            text.append(safe_text(self.error, single_line=False))
            return text
        if self.report is None:
            return Text("Checking the role, the key and the bucket (read-only calls)…")
        body = report_text(self.report, only_problems=self.gate)
        if self.gate:
            body.append(
                "\nWorkMail would most likely refuse or fail this export. Fix the set-up and "
                "start again, or start anyway.",
                style="dim",
            )
        return body

    def show(self, report: DoctorReport | None, error: str | None = None) -> None:
        """The checks ended (from the UI thread)."""
        self.report, self.error = report, error
        # Not composed yet: compose shows the new values itself.
        for shown in self.query("#doctor-report").results(Static):
            shown.update(self._body())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "doctor-start")

    def action_start_anyway(self) -> None:
        if self.gate:
            self.dismiss(True)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
