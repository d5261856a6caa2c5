"""What the app needs from WorkMail, as an interface, and the one error type it raises.

The UI and the refresh plan talk to an `ExportService`; `wmtui.aws.service.Boto3ExportService`
is the real one. Nothing here knows boto3 exists.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from wmtui.core.models import ExportJob, JobKey, Mailbox, Organization, StartRequest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime
    from pathlib import Path

    from wmtui.core.fetching import FetchResult
    from wmtui.core.verification import ObjectFacts, Verification


class ErrorKind(StrEnum):
    NO_CREDENTIALS = "no-credentials"
    NO_REGION = "no-region"
    UNKNOWN_PROFILE = "unknown-profile"
    SSO_TOKEN = "sso-token"  # missing or expired SSO token: `aws sso login`
    EXPIRED_TOKEN = "expired-token"  # session credentials expired
    ACCESS_DENIED = "access-denied"
    THROTTLED = "throttled"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    ORGANIZATION_NOT_FOUND = "organization-not-found"
    ORGANIZATION_STATE = "organization-state"
    JOB_NOT_FOUND = "job-not-found"  # EntityNotFoundException for a job or mailbox
    INVALID_PARAMETER = "invalid-parameter"
    LIMIT_EXCEEDED = "limit-exceeded"
    OTHER = "other"

    @property
    def affects_all(self) -> bool:
        """A problem with the whole connection rather than with one job or organization."""
        return self in _GLOBAL_KINDS

    @property
    def is_transient(self) -> bool:
        """Worth backing off and trying again later by itself."""
        return self in (ErrorKind.THROTTLED, ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT)

    @property
    def exit_code(self) -> int:
        """As the AWS CLI: 252 bad parameters, 253 configuration, 254 service, 255 other."""
        if self is ErrorKind.INVALID_PARAMETER:
            return 252
        if self in _CONFIG_KINDS:
            return 253
        if self is ErrorKind.OTHER:
            return 255
        return 254


_CONFIG_KINDS = frozenset(
    {
        ErrorKind.NO_CREDENTIALS,
        ErrorKind.NO_REGION,
        ErrorKind.UNKNOWN_PROFILE,
        ErrorKind.SSO_TOKEN,
        ErrorKind.EXPIRED_TOKEN,
    }
)
_GLOBAL_KINDS = _CONFIG_KINDS | {
    ErrorKind.ACCESS_DENIED,
    ErrorKind.UNREACHABLE,
    ErrorKind.TIMEOUT,
    ErrorKind.THROTTLED,
}


class ServiceError(Exception):
    """Anything that went wrong talking to WorkMail, with what to do about it.

    `message` and `fix` may quote text from the service: display them through safe_text.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        fix: str = "",
        *,
        operation: str | None = None,
        code: str | None = None,
    ) -> None:
        self.kind = kind
        self.message = message
        self.fix = fix
        self.operation = operation
        self.code = code  # the service's error code, e.g. EntityNotFoundException
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} ({self.fix})" if self.fix else self.message

    def __repr__(self) -> str:
        return f"ServiceError({self.kind.value!r}, {self.message!r})"

    @property
    def exit_code(self) -> int:
        return self.kind.exit_code


class ExportService(Protocol):
    """The calls wmtui makes. Every method raises only ServiceError.

    Implementations must be safe to call from several threads at once.
    """

    @property
    def target(self) -> str:
        """Who we talk to, for the status line: profile, endpoint."""
        ...

    def describe_job(self, key: JobKey) -> ExportJob:
        """DescribeMailboxExportJob: the full record, `described=True`, `last_seen` now."""
        ...

    def list_jobs(self, region: str, organization_id: str) -> list[ExportJob]:
        """ListMailboxExportJobs, every page: jobs started in the last seven days."""
        ...

    def start_job(self, region: str, organization_id: str, request: StartRequest) -> JobKey:
        """StartMailboxExportJob; returns the new job's key."""
        ...

    def cancel_job(self, key: JobKey, client_token: str | None = None) -> None:
        """CancelMailboxExportJob."""
        ...

    def list_organizations(self, region: str) -> list[Organization]: ...

    def list_mailboxes(self, region: str, organization_id: str) -> list[Mailbox]:
        """ListUsers and ListResources, every page."""
        ...

    def describe_mailbox(self, region: str, organization_id: str, entity_id: str) -> Mailbox:
        """DescribeUser, falling back to DescribeResource."""
        ...

    def presign_url(self, job: ExportJob, expires_in: int) -> str:
        """An HTTPS URL that downloads the job's export from S3 for `expires_in` seconds,
        signed locally (no call is made). INVALID_PARAMETER when the job has no S3 path yet."""
        ...


class ExportObjects(Protocol):
    """The export files in S3 and the mailboxes' sizes (`wmtui.aws.s3.Boto3ExportObjects`).

    Safe to call from several threads. A check's finding about the object (missing,
    forbidden, throttled) is a Verification; ServiceError only for the caller's credentials
    or configuration, which every other check would meet too.
    """

    def check(
        self,
        job: ExportJob,
        *,
        mailbox_size_mb: float | None = None,
        clock: Callable[[], datetime] = ...,
    ) -> Verification:
        """HeadObject on the job's export, judged (wmtui.core.verification.judge)."""
        ...

    def check_many(
        self,
        jobs: Iterable[ExportJob],
        *,
        mailbox_sizes: Mapping[JobKey, float] | None = None,
        clock: Callable[[], datetime] = ...,
        on_result: Callable[[ExportJob, Verification], None] | None = None,
    ) -> dict[JobKey, Verification]:
        """Every COMPLETED job's check, in parallel."""
        ...

    def mailbox_size_mb(self, region: str, organization_id: str, entity_id: str) -> float | None:
        """GetMailboxDetails' MailboxSize (MB); None when the service gives none."""
        ...

    def head_object(self, job: ExportJob) -> ObjectFacts | None:
        """HeadObject on the job's export; None when there is no such object."""
        ...

    def download(
        self,
        job: ExportJob,
        folder: Path,
        facts: ObjectFacts,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> FetchResult:
        """The job's export into `folder` as `<JobId>.zip`, resumably, never overwriting;
        LocalFileError (wmtui.core.fetching) for a local problem."""
        ...
