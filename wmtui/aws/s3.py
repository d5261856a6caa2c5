"""Proof in S3 through boto3: HeadObject on each export, GetMailboxDetails, and downloads.

The S3 endpoint is botocore's own choice: AWS, or `AWS_ENDPOINT_URL_S3` / a profile's
`endpoint_url` (moto, the emulator), or the one the factory passes for the demo. WorkMail's
GetMailboxDetails goes where the export service goes (`workmail_endpoint_url`).

boto3 is imported on the first call. Every method raises only ServiceError, and a check's
answer about the object (missing, forbidden, throttled) is a `Verification`, never an error.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wmtui.aws.answers import parse_timestamp
from wmtui.aws.errors import to_service_error
from wmtui.aws.sessions import new_session
from wmtui.core.models import ExportJob, JobKey, now_utc, s3_uri
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.core.verification import (
    ObjectFacts,
    Outcome,
    Verification,
    failed_check,
    is_checkable,
    judge,
    same_kms_key,
)

if TYPE_CHECKING:
    import boto3.session
    from types_boto3_s3.client import S3Client
    from types_boto3_workmail.client import WorkMailClient

    from wmtui.core.fetching import FetchResult

__all__ = ["Boto3ExportObjects", "object_location"]

# HeadObject calls in flight at once: 1,000 exports at 50 ms each in well under two seconds.
DEFAULT_WORKERS = 64
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
_DENIED_CODES = frozenset({"403", "AccessDenied", "AccessDeniedException", "Forbidden"})
# Errors that are about the caller, not about one object: the whole run cannot go on.
_FATAL_KINDS = frozenset(
    {
        ErrorKind.NO_CREDENTIALS,
        ErrorKind.NO_REGION,
        ErrorKind.UNKNOWN_PROFILE,
        ErrorKind.SSO_TOKEN,
        ErrorKind.EXPIRED_TOKEN,
    }
)


def object_location(job: ExportJob) -> tuple[str, str] | None:
    """(bucket, key) of the job's export, by core's S3Path rule; None without an S3 path."""
    uri = s3_uri(job.s3_bucket_name, job.s3_path)
    if uri is None or not job.s3_bucket_name:
        return None
    return job.s3_bucket_name, uri[len(f"s3://{job.s3_bucket_name}/") :]


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    code = (response.get("Error") or {}).get("Code")
    if code:
        return str(code)
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return str(status) if status else ""


def parse_http_date(value: object) -> datetime:
    """S3's headers carry RFC 1123 dates ("Wed, 03 Dec 2026 10:00:00 GMT"): read with the
    standard library, several times faster than botocore's dateutil path, which stays the
    fallback for anything else."""
    if isinstance(value, str) and value[:3].isalpha():
        with contextlib.suppress(TypeError, ValueError, IndexError):
            parsed = parsedate_to_datetime(value)
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
    return parse_timestamp(value)


def _aware(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return parse_http_date(value)


def facts_from(answer: Mapping[str, Any]) -> ObjectFacts:
    """HeadObject's answer as the facts verification judges."""
    size = answer.get("ContentLength")
    modified = answer.get("LastModified")
    return ObjectFacts(
        size=int(size) if isinstance(size, int) else 0,
        etag=str(answer["ETag"]) if answer.get("ETag") else None,
        last_modified=_aware(modified) if modified is not None else None,
        encryption=str(answer["ServerSideEncryption"])
        if answer.get("ServerSideEncryption")
        else None,
        kms_key=str(answer["SSEKMSKeyId"]) if answer.get("SSEKMSKeyId") else None,
    )


class Boto3ExportObjects:
    """The export files in S3, and mailbox sizes. Safe to share between threads."""

    def __init__(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        s3_endpoint_url: str | None = None,
        workmail_endpoint_url: str | None = None,
        credentials: tuple[str, str] | None = None,
        max_attempts: int = 3,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self._profile = profile or None
        self._region = region or None
        self._s3_endpoint_url = s3_endpoint_url or None
        self._workmail_endpoint_url = workmail_endpoint_url or None
        self._credentials = credentials
        self._max_attempts = max(1, max_attempts)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self.workers = max(1, workers)
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._aliases: dict[str, str | None] = {}

    @property
    def s3_endpoint_url(self) -> str | None:
        return self._s3_endpoint_url

    # -- clients -----------------------------------------------------------------------------

    def _client(self, service: str, region: str) -> Any:
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                from botocore.config import Config

                if self._session is None:
                    self._session = new_session(
                        profile=self._profile,
                        credentials=self._credentials,
                        region=self._region,
                        timestamp_parser=parse_http_date,
                    )
                config = Config(
                    retries={"mode": "standard", "total_max_attempts": self._max_attempts},
                    connect_timeout=self._connect_timeout,
                    read_timeout=self._read_timeout,
                    max_pool_connections=self.workers,
                    user_agent_extra="wmtui",
                    s3={"us_east_1_regional_endpoint": "regional"},
                    # Our own calls, built from validated jobs: botocore's per-call check of
                    # every parameter is CPU a thousand parallel HeadObjects queue behind.
                    parameter_validation=False,
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                )
                # KMS (an alias's target) goes where botocore sends it: AWS_ENDPOINT_URL_KMS.
                endpoint = {
                    "s3": self._s3_endpoint_url,
                    "workmail": self._workmail_endpoint_url,
                }.get(service)
                client = self._session.client(
                    service,  # type: ignore[call-overload]
                    region_name=region,
                    endpoint_url=endpoint,
                    config=config,
                )
                self._clients[(service, region)] = client
            return client

    def _s3(self, region: str) -> S3Client:
        client: S3Client = self._client("s3", region)
        return client

    def _workmail(self, region: str) -> WorkMailClient:
        client: WorkMailClient = self._client("workmail", region)
        return client

    @contextmanager
    def _calling(self, operation: str, region: str) -> Iterator[None]:
        """Any botocore exception inside becomes a ServiceError; a local file problem
        (LocalFileError) passes through."""
        from wmtui.core.fetching import LocalFileError

        try:
            yield
        except (ServiceError, LocalFileError):
            raise
        except Exception as exc:
            raise to_service_error(exc, operation, region=region) from exc

    # -- HeadObject --------------------------------------------------------------------------

    def head_object(self, job: ExportJob) -> ObjectFacts | None:
        """HeadObject on the job's export: its facts, or None when there is no such object.

        Raises ServiceError; ACCESS_DENIED names the permission to add."""
        location = object_location(job)
        if location is None:
            raise ServiceError(
                ErrorKind.INVALID_PARAMETER,
                f"job {job.job_id} has no S3 path yet",
                "wait until the export is COMPLETED",
                operation="HeadObject",
            )
        bucket, key = location
        region = job.key.region
        try:
            answer = self._s3(region).head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            code = _error_code(exc)
            if code in _MISSING_CODES:
                return None
            error = to_service_error(exc, "HeadObject", region=region)
            if code in _DENIED_CODES:
                error = ServiceError(
                    ErrorKind.ACCESS_DENIED,
                    f"S3 refused HeadObject on s3://{bucket}/{key}",
                    f"allow s3:GetObject on arn:aws:s3:::{bucket}/{key} for your IAM identity "
                    "(and check the bucket policy)",
                    operation="HeadObject",
                    code=code,
                )
            raise error from exc
        return facts_from(answer)

    def check(
        self,
        job: ExportJob,
        *,
        mailbox_size_mb: float | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> Verification:
        """The job's verification now. Raises ServiceError only for a problem with the
        caller's credentials or configuration, which no other job would escape either."""
        try:
            found = self.head_object(job)
        except ServiceError as exc:
            if exc.kind in _FATAL_KINDS:
                raise
            outcome = Outcome.FORBIDDEN if exc.kind is ErrorKind.ACCESS_DENIED else Outcome.ERROR
            why = f"{exc.message} ({exc.fix})" if exc.fix else exc.message
            return failed_check(outcome, why, checked_at=clock(), mailbox_size_mb=mailbox_size_mb)
        if (
            found is not None
            and found.kms_key
            and job.kms_key_arn
            and ":alias/" in job.kms_key_arn
            and not same_kms_key(job.kms_key_arn, found.kms_key)
        ):
            # S3 names the key by its ARN; a job given an alias is compared with its target.
            target = self._alias_target(job.key.region, job.kms_key_arn)
            if target is not None:
                job = replace(job, kms_key_arn=target)
        return judge(job, found, checked_at=clock(), mailbox_size_mb=mailbox_size_mb)

    def _alias_target(self, region: str, alias_arn: str) -> str | None:
        """The key ARN an alias points at (kms:DescribeKey), cached; None if it cannot be
        read (the object is then judged against the alias, and says so)."""
        with self._lock:
            if alias_arn in self._aliases:
                return self._aliases[alias_arn]
        try:
            answer = self._client("kms", region).describe_key(KeyId=alias_arn)
            target = answer.get("KeyMetadata", {}).get("Arn")
        except Exception:
            target = None
        target = str(target) if target else None
        with self._lock:
            self._aliases[alias_arn] = target
        return target

    def check_many(
        self,
        jobs: Iterable[ExportJob],
        *,
        mailbox_sizes: Mapping[JobKey, float] | None = None,
        clock: Callable[[], datetime] = now_utc,
        on_result: Callable[[ExportJob, Verification], None] | None = None,
    ) -> dict[JobKey, Verification]:
        """Check every checkable job in parallel; `on_result` hears each as it comes.

        Raises the first credentials/configuration ServiceError (the rest are not waited for)."""
        todo = [job for job in jobs if is_checkable(job)]
        sizes = mailbox_sizes or {}
        results: dict[JobKey, Verification] = {}
        if not todo:
            return results
        with ThreadPoolExecutor(
            min(self.workers, len(todo)), thread_name_prefix="wmtui-verify"
        ) as pool:
            futures = {
                pool.submit(self.check, job, mailbox_size_mb=sizes.get(job.key), clock=clock): job
                for job in todo
            }
            try:
                for future in as_completed(futures):
                    job = futures[future]
                    result = future.result()
                    results[job.key] = result
                    if on_result is not None:
                        on_result(job, result)
            except BaseException:
                for pending in futures:
                    pending.cancel()
                raise
        return results

    # -- downloads ---------------------------------------------------------------------------

    def download(
        self,
        job: ExportJob,
        folder: Path,
        facts: ObjectFacts,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> FetchResult:
        """The job's export into `folder` as `<JobId>.zip` (wmtui.aws.download). Raises
        LocalFileError for a local problem, ServiceError for S3's."""
        from wmtui.aws.download import download_object
        from wmtui.core.fetching import target_path

        location = object_location(job)
        if location is None:
            raise ServiceError(
                ErrorKind.INVALID_PARAMETER,
                f"job {job.job_id} has no S3 path yet",
                "wait until the export is COMPLETED",
                operation="GetObject",
            )
        bucket, key = location
        target = target_path(folder, job.job_id)
        with self._calling("GetObject", job.key.region):
            try:
                return download_object(
                    self._s3(job.key.region), bucket, key, target, facts, progress=progress
                )
            except Exception as exc:
                if _error_code(exc) in _DENIED_CODES:
                    raise ServiceError(
                        ErrorKind.ACCESS_DENIED,
                        f"S3 refused the download of s3://{bucket}/{key}",
                        f"allow s3:GetObject on arn:aws:s3:::{bucket}/{key} and kms:Decrypt on "
                        f"{job.kms_key_arn or 'the export KMS key'}",
                        operation="GetObject",
                        code=_error_code(exc),
                    ) from exc
                raise

    # -- GetMailboxDetails -------------------------------------------------------------------

    def mailbox_size_mb(self, region: str, organization_id: str, entity_id: str) -> float | None:
        """GetMailboxDetails' MailboxSize in MB; None when the service does not give one
        (a resource, a mailbox it does not know). Raises ServiceError for anything else."""
        operation = "GetMailboxDetails"
        try:
            answer = self._workmail(region).get_mailbox_details(
                OrganizationId=organization_id, UserId=entity_id
            )
        except Exception as exc:
            error = to_service_error(exc, operation, region=region)
            if error.kind is ErrorKind.JOB_NOT_FOUND or error.code == "EntityStateException":
                return None
            raise error from exc
        size = answer.get("MailboxSize")
        return float(size) if isinstance(size, int | float) and size >= 0 else None
