"""Commands that act on one job: start an export, cancel one, presign a completed one's URL."""

from __future__ import annotations

import argparse
import contextlib
import sys
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from wmtui.cli.arguments import refuse_if_read_only, resolve_region
from wmtui.cli.errors import EXIT_BAD_PARAMETERS, EXIT_CONFIGURATION, EXIT_OK, CliError
from wmtui.cli.output import mailbox_text, note, plain, say
from wmtui.core.destinations import kms_key_arn_problem, role_arn_problem
from wmtui.core.display import compact_timestamp, precise_span
from wmtui.core.limits import explain_limit
from wmtui.core.models import (
    JobKey,
    JobState,
    Mailbox,
    StartRequest,
    ValidationError,
    validate_entity_id,
    validate_job_id,
    validate_organization_id,
)
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.core.settings import MAX_PRESIGN_EXPIRY
from wmtui.core.watchlist import WatchListError
from wmtui.factory import Backend


def _start_request(args: argparse.Namespace) -> StartRequest:
    """The StartMailboxExportJob input. The service checks every field against the model
    before sending; a token is made here so a failed attempt can be retried without a twin.
    The ARNs are checked first as IAM and KMS read them (the API's own pattern lets a
    wrong account ID through)."""
    for problem in (role_arn_problem(args.role_arn), kms_key_arn_problem(args.kms_key_arn)):
        if problem is not None:
            raise CliError(problem, "", EXIT_BAD_PARAMETERS)
    return StartRequest(
        entity_id=validate_entity_id(args.mailbox),
        s3_bucket_name=args.bucket,
        s3_prefix=args.prefix,
        role_arn=args.role_arn,
        kms_key_arn=args.kms_key_arn,
        description=args.description,
        client_token=args.client_token if args.client_token is not None else str(uuid.uuid4()),
    )


def cmd_start(args: argparse.Namespace, backend: Backend) -> int:
    refuse_if_read_only(backend.settings, "start exports")
    organization = validate_organization_id(args.organization_id)
    request = _start_request(args)
    region = resolve_region(backend, organization)
    # A broken watch list stops us before a job starts that we could not then watch.
    backend.watchlist.load()
    # `--profile P` for an organization no entry names a profile for: its jobs belong to P.
    named = getattr(args, "profile", None)
    profile = named if named and backend.profiles.owner(region, organization) is None else None
    try:
        key = backend.service.start_job(region, organization, request)
    except ServiceError as exc:
        if exc.kind is ErrorKind.LIMIT_EXCEEDED:
            _explain_limit(backend, region, organization, request, exc)
        if exc.kind.is_transient or exc.kind is ErrorKind.OTHER:
            # The request may have reached the service: the same token cannot start a twin.
            exc.fix = (exc.fix + "; " if exc.fix else "") + (
                f"to retry safely, pass --client-token {request.client_token}"
            )
        raise
    say(key.job_id)
    try:
        backend.watchlist.add([key], profile=profile)
    except WatchListError as exc:
        raise CliError(
            f"job {key.job_id} started, but it could not be added to the watch list: {exc}",
            f"run `wmtui add {organization} {key.job_id} --region {region}` once that is fixed",
            EXIT_CONFIGURATION,
        ) from exc
    note(
        f"Started export {plain(key.job_id)} of {_who(backend, region, organization, request)} "
        f"in {organization} ({region}); it is on the watch list."
    )
    return EXIT_OK


def _explain_limit(
    backend: Backend, region: str, organization: str, request: StartRequest, error: ServiceError
) -> None:
    """Name the rule that refused the start (core.limits)."""
    # The mailbox as typed may be a name or an email; the jobs carry entity IDs.
    mailbox = _mailbox(backend, region, organization, request.entity_id)
    ids = {request.entity_id} | ({mailbox.entity_id} if mailbox is not None else set())
    explain_limit(backend.service, region, organization, ids, error)


def _who(backend: Backend, region: str, organization: str, request: StartRequest) -> str:
    """The mailbox as a person knows it: "Alice Smith <alice@example.com> (entity id)".

    The names cache first, else one DescribeUser/DescribeResource (which take an ID, a user
    name or an email, as the start did); a failure leaves just what was typed."""
    mailbox = _mailbox(backend, region, organization, request.entity_id)
    return mailbox_text(mailbox, request.entity_id)


def _mailbox(backend: Backend, region: str, organization: str, typed: str) -> Mailbox | None:
    """The mailbox `typed` names (an ID, a user name or an email): the names cache first, else
    one DescribeUser/DescribeResource; None when that fails (a name is a nicety)."""
    names = backend.names
    mailbox = names.lookup(region, organization, typed)
    if mailbox is None:
        with contextlib.suppress(ServiceError):
            names.resolve_missing(backend.service, region, organization, [typed])
        mailbox = names.lookup(region, organization, typed)
    return mailbox


def _confirm(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def cmd_cancel(args: argparse.Namespace, backend: Backend) -> int:
    refuse_if_read_only(backend.settings, "cancel exports")
    organization = validate_organization_id(args.organization_id)
    region = resolve_region(backend, organization)
    key = JobKey(region, organization, validate_job_id(args.job_id))
    # Read first: cancelling a cancelled job succeeds without a word from the service, and
    # a person should hear that it was already so (and why a finished one cannot be).
    job = backend.service.describe_job(key)
    if job.state is JobState.CANCELLED:
        say(f"already cancelled: {plain(key)}")
        return EXIT_OK
    if job.state.is_final:
        raise CliError(
            f"job {key.job_id} is {plain(job.raw_state or job.state.value)}: only a RUNNING "
            "export can be cancelled",
            "nothing to do",
            EXIT_BAD_PARAMETERS,
        )
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(
                "refused: cancelling needs a confirmation and standard input is not a terminal",
                "pass --yes to cancel without asking",
                EXIT_BAD_PARAMETERS,
            )
        if not _confirm(
            f"Cancel export job {key.job_id} in {key.organization_id} ({region})? [y/N] "
        ):
            note("Not cancelled.")
            return EXIT_OK
    backend.service.cancel_job(key)
    say(f"cancelled: {plain(key)}")
    return EXIT_OK


def cmd_presign(args: argparse.Namespace, backend: Backend) -> int:
    organization = validate_organization_id(args.organization_id)
    region = resolve_region(backend, organization)
    key = JobKey(region, organization, validate_job_id(args.job_id))
    expires = args.expires if args.expires is not None else backend.settings.presign_expiry
    if not 1 <= expires <= MAX_PRESIGN_EXPIRY:
        raise ValidationError(
            "expiry", expires, f"must be 1 to {MAX_PRESIGN_EXPIRY} seconds (seven days)"
        )
    cached = backend.cache.load().get(key)
    # A final state never changes: a completed job the cache knows needs no call at all.
    if (
        cached is not None
        and cached.state.is_final
        and (cached.state is not JobState.COMPLETED or cached.s3_uri)
    ):
        job = cached
    else:
        job = backend.service.describe_job(key)
    if job.state is not JobState.COMPLETED:
        state = plain(job.raw_state or job.state.value)
        if job.state is JobState.RUNNING:
            problem, fix = (
                "is still RUNNING: its export is not in S3 yet",
                "try again once it is COMPLETED",
            )
        else:
            problem, fix = (
                f"is {state}: it has no export to download",
                "start a new export of the mailbox",
            )
        raise CliError(f"job {key.job_id} {problem}", fix, EXIT_BAD_PARAMETERS)
    url = backend.service.presign_url(job, expires)
    say(url)
    until = datetime.now(UTC).timestamp() + expires
    text = (
        f"{job.s3_uri}: valid for {precise_span(expires)} (until "
        f"{compact_timestamp(datetime.fromtimestamp(until, UTC))}) for anyone who has the URL."
    )
    if signed_with_temporary_credentials(url):
        text += (
            " Signed with temporary credentials (SSO, a role): it stops working when they expire."
        )
    note(text)
    return EXIT_OK


def signed_with_temporary_credentials(url: str) -> bool:
    """Whether a presigned URL carries a session token: only temporary credentials have one,
    and the URL dies with them."""
    query = parse_qs(urlsplit(url).query)
    return any(name.lower() == "x-amz-security-token" for name in query)
