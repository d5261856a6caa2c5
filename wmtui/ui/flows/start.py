"""n: start one mailbox export — the form, a confirmation, the call, and watching the new job."""

from __future__ import annotations

import uuid
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text

from wmtui.core.destinations import (
    Destination,
    last_organization,
    latest_destination,
    remember_destination,
    remembered_destination,
)
from wmtui.core.limits import explain_limit, names_the_rule
from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox, StartRequest
from wmtui.core.preflight import PreflightTarget
from wmtui.core.service import ErrorKind, ExportService, ServiceError
from wmtui.ui.flows.calls import call_service
from wmtui.ui.flows.preflight import PreflightFlow
from wmtui.ui.messages import ExportStarted
from wmtui.ui.safe_text import safe_text, sanitize
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.form import DestinationFormScreen, KnownProfile, ProfileChoice
from wmtui.ui.screens.start import StartExportScreen, StartPlan

if TYPE_CHECKING:
    from wmtui.ui.screens.jobs import JobsScreen

DEFAULT_REGION = "us-east-1"
# What an export needs from the service's limits, said where a start is refused for them.
LIMITS_NOTE = (
    "WorkMail runs at most 10 exports at once per organization and one export per mailbox"
    " per 24 hours"
)
NOTIFY_TIMEOUT = 8.0


def where_to_start(screen: JobsScreen) -> tuple[str, str]:
    """(region, organization) a form opens with: the selected job's, else the last used."""
    selected = screen.selected_key()
    if selected is not None:
        return selected.region, selected.organization_id
    last = last_organization(screen.settings.config_dir)
    if last is not None:
        return last
    return screen.settings.region or DEFAULT_REGION, ""


def destination_for(screen: JobsScreen, organization_id: str) -> Destination | None:
    """What a form proposes: the destination last used for the organization, else where its
    newest watched export went (the values are shown, to change or keep)."""
    remembered = remembered_destination(screen.settings.config_dir, organization_id)
    if remembered is not None:
        return remembered
    newest = latest_destination(screen.board.jobs.values(), None, organization_id)
    return newest[1] if newest is not None else None


def mailbox_count(screen: JobsScreen, region: str, organization_id: str) -> int | None:
    """How many enabled mailboxes the organization has, as far as the names cache knows."""
    known = screen.context.names.mailboxes(region, organization_id)
    return sum(1 for m in known.values() if (m.state or "ENABLED") == "ENABLED") or None


def known_profile(screen: JobsScreen, region: str, organization_id: str) -> KnownProfile | None:
    """The organization's profile as the watch list (or a pick this session) says; None when
    nothing is known of it."""
    router = screen.watching.profiles
    if router is None:
        return None
    org = (region, organization_id)
    watched = any((key.region, key.organization_id) == org for key in screen.board.watched)
    owner = router.book.owner(region, organization_id)
    if owner == router.label(None):
        owner = None  # the default chain's own profile, by name
    if owner is None and not watched:
        return None
    return KnownProfile(owner, watched)


def profile_choice(screen: JobsScreen) -> ProfileChoice | None:
    """The start and export forms' profile picker; None (no picker) without profiles."""
    profiles, profile, default_label = screen.watching.picker()
    if not profiles:
        return None
    return ProfileChoice(tuple(profiles), profile, default_label, partial(known_profile, screen))


def service_as(screen: JobsScreen, profile: str | None, picked: bool) -> ExportService:
    """The service acting as the profile picked in a form (without a picker: as routed)."""
    router = screen.watching.profiles
    if router is None or not picked:
        return screen.service
    return router.service_for_profile(profile)


def use_picked_profile(
    screen: JobsScreen, form: DestinationFormScreen[Any, Any], region: str, organization_id: str
) -> None:
    """From now on the organization acts as the form's profile: the doctor, the start(s), the
    export's rounds; the jobs started join the watch list with it (the watch list asks the
    book of an organization it does not name)."""
    router = screen.watching.profiles
    if router is not None and form.picks_profile:
        router.book.assign(region, organization_id, form.profile)


def profile_line(screen: JobsScreen, region: str, organization_id: str) -> str | None:
    """The profile a confirmation names (only when there are profiles to pick from)."""
    router = screen.watching.profiles
    if router is None or not router.available_profiles():
        return None
    return router.label_of(region, organization_id)


def start_refusal(label: str, error: ServiceError | None) -> str:
    """What to tell a person whose start was refused (the limits spelled out for LimitExceeded)."""
    if error is None:
        return f"The export of {label} was not started: the service sent back no job ID."
    # The service's own message may end with a period; the text adds its own.
    said = sanitize(error.message, limit=300).rstrip(". ")
    text = f"The export of {label} was not started: {said}"
    if error.kind is ErrorKind.LIMIT_EXCEEDED and not names_the_rule(error.message):
        text += f". {LIMITS_NOTE}: wait for a running export to end (or for the 24 hours)"
        return text + "."
    if error.fix:
        text += f" ({sanitize(error.fix, limit=300)})"
    return text + "."


class StartFlow:
    def __init__(self, screen: JobsScreen) -> None:
        self.screen = screen

    def _mailboxes_of(
        self, picked: bool, region: str, organization_id: str, profile: str | None
    ) -> list[Mailbox]:
        """From a worker: the organization's mailboxes, listed again only when stale, as the
        profile picked in the form."""
        screen = self.screen
        service = service_as(screen, profile, picked)
        mailboxes = screen.context.names.refresh_org(service, region, organization_id)
        return list(mailboxes.values())

    def open(self, initial: StartPlan | None = None) -> None:
        screen = self.screen
        if screen.settings.read_only:
            screen.refuse_read_only("start_export")
            return
        region, organization_id = where_to_start(screen)
        choice = profile_choice(screen)
        form = StartExportScreen(
            region=region,
            organization_id=organization_id,
            list_mailboxes=partial(self._mailboxes_of, choice is not None),
            destination_for=partial(destination_for, screen),
            endpoint_url=screen.settings.endpoint_url,
            initial=initial,
            cursor_blink=screen.context.cursor_blink,
            profiles=choice,
        )
        screen.app.push_screen(form, partial(self._planned, form))

    def _planned(self, form: StartExportScreen, plan: StartPlan | None) -> None:
        if plan is None:
            return
        use_picked_profile(self.screen, form, plan.region, plan.organization_id)
        request = plan.request
        target = PreflightTarget(
            plan.region,
            plan.organization_id,
            request.s3_bucket_name,
            request.s3_prefix,
            request.role_arn,
            request.kms_key_arn,
        )
        # The first start to a destination: the doctor first, back to the form on its advice.
        PreflightFlow.of(self.screen).before_start(
            target, partial(self._confirm, plan), partial(self.open, plan)
        )

    def _confirm(self, plan: StartPlan) -> None:
        request = plan.request
        summary = Text()

        def line(label: str, value: Text | str) -> None:
            summary.append(f"{label:<14}", style="dim")
            summary.append(value if isinstance(value, Text) else safe_text(value))
            summary.append("\n")

        who = safe_text(plan.label, style="bold")
        if plan.mailbox.email:
            who.append("  ")
            who.append(safe_text(plan.mailbox.email))
        line("Mailbox", who)
        if plan.mailbox.entity_id != plan.label:
            line("Entity ID", plan.mailbox.entity_id)
        line("Organization", f"{plan.organization_id} ({plan.region})")
        profile = profile_line(self.screen, plan.region, plan.organization_id)
        if profile is not None:
            line("AWS profile", profile)
        line("Goes to", f"s3://{request.s3_bucket_name}/{request.s3_prefix}")
        line("Role ARN", request.role_arn)
        line("KMS key ARN", request.kms_key_arn)
        line("Description", request.description or "—")
        summary.append("\n" + LIMITS_NOTE + ". The new job joins the watch list.", style="dim")
        self.screen.app.push_screen(
            ConfirmScreen("Start this export?", summary, yes_label="Start", wide=True),
            partial(self._confirmed, plan),
        )

    def _confirmed(self, plan: StartPlan, yes: bool | None) -> None:
        if not yes:
            # Back to the form as it was, to change something or cancel from there.
            self.open(initial=plan)
            return
        screen = self.screen
        if not remember_destination(
            screen.settings.config_dir, plan.region, plan.organization_id, plan.destination
        ):
            screen.notify("Could not save the destination for next time.", markup=False)
        # One token for this confirmed start: a retry of the same request cannot make two jobs.
        request = replace(plan.request, client_token=str(uuid.uuid4()))
        screen.notify(f"Starting the export of {sanitize(plan.label, limit=60)}…", markup=False)
        self._run(plan.region, plan.organization_id, request, plan.label)

    def _run(self, region: str, organization_id: str, request: StartRequest, label: str) -> None:
        service = self.screen.service

        def unexpected(exc: Exception) -> ServiceError:
            return ServiceError(
                ErrorKind.OTHER,
                f"StartMailboxExportJob failed: {type(exc).__name__}: {exc}",
                operation="StartMailboxExportJob",
            )

        def answer(key: JobKey | None, error: ServiceError | None) -> ExportStarted:
            if error is not None and error.kind is ErrorKind.LIMIT_EXCEEDED:
                # Which of the two limits, and when the mailbox may go again (in the worker).
                explain_limit(service, region, organization_id, {request.entity_id}, error)
            return ExportStarted(region, organization_id, request, label, key=key, error=error)

        call_service(
            self.screen,
            lambda: service.start_job(region, organization_id, request),
            answer,
            group="start",
            description="start an export",
            unexpected=unexpected,
        )

    def started(self, message: ExportStarted) -> None:
        screen = self.screen
        label = sanitize(message.label, limit=60)
        error = message.error
        if error is not None or message.key is None:
            screen.notify(start_refusal(label, error), severity="error", markup=False, timeout=15)
            return
        key = message.key
        request = message.request
        record = ExportJob(
            key=key,
            state=JobState.RUNNING,
            raw_state=JobState.RUNNING.value,
            entity_id=request.entity_id,
            description=request.description or None,
            role_arn=request.role_arn,
            kms_key_arn=request.kms_key_arn,
            s3_bucket_name=request.s3_bucket_name,
            s3_prefix=request.s3_prefix,
            estimated_progress=0,
        )
        screen.watch_jobs([key], records=[record], announce=False)
        screen.notify(
            f"Started the export of {label}: job {sanitize(key.job_id)}. It is watched now.",
            markup=False,
            timeout=NOTIFY_TIMEOUT,
        )
