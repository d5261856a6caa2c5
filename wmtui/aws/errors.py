"""Every exception boto3 or botocore can raise, turned into one `ServiceError` with a fix.

botocore is imported inside `to_service_error`, never at module import: by the time an
exception needs translating, boto3 has already been loaded by the call that failed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from wmtui.core.models import WORKMAIL_REGIONS, ValidationError
from wmtui.core.service import ErrorKind, ServiceError

__all__ = ["MESSAGE_LIMIT", "cap", "no_region_error", "to_service_error", "without_userinfo"]

# Text from the service is untrusted: kept as a plain string (the UI sanitises it), but capped.
MESSAGE_LIMIT = 400

_EXPIRED_CODES = frozenset(
    {"ExpiredTokenException", "ExpiredToken", "RequestExpired", "TokenRefreshRequired"}
)
_DENIED_CODES = frozenset(
    {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "UnauthorizedException"}
)
_REJECTED_KEY_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "InvalidAccessKeyId",
    }
)
_THROTTLE_CODES = frozenset(
    {
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ThrottledException",
        "SlowDown",
        "BandwidthLimitExceeded",
    }
)
_INVALID_CODES = frozenset(
    {"InvalidParameterException", "ValidationException", "SerializationException"}
)
_UNAVAILABLE_STATUSES = frozenset({502, 503, 504})


def cap(text: object, limit: int = MESSAGE_LIMIT) -> str:
    """A message from elsewhere, as a string no longer than `limit`."""
    value = text if isinstance(text, str) else str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _profile_label(profile: str | None) -> str:
    return profile or os.environ.get("AWS_PROFILE") or "default"


def _sso_login_command(profile: str | None) -> str:
    name = _profile_label(profile)
    return "aws sso login" if name == "default" else f"aws sso login --profile {name}"


def _config_files() -> str:
    config = os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    credentials = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return f"{config} or {credentials}"


def _where(region: str | None) -> str:
    return f" in region {region}" if region else ""


def to_service_error(
    exc: BaseException,
    operation: str,
    *,
    profile: str | None = None,
    region: str | None = None,
) -> ServiceError:
    """The error a person can act on for `exc`, raised while calling `operation`."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, ValidationError):
        return ServiceError(
            ErrorKind.INVALID_PARAMETER,
            str(exc),
            "correct the value and try again",
            operation=operation,
        )
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        error = _from_client_error(exc, operation, profile=profile, region=region)
    else:
        error = _from_botocore_error(exc, bx, operation, profile=profile, region=region)
    # An endpoint URL may carry user:password@; no message shows it.
    error.message = without_userinfo(error.message)
    error.fix = without_userinfo(error.fix)
    error.args = (error.message,)
    return error


_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def without_userinfo(text: str) -> str:
    """Text fit to show: every URL in it loses its user:password@ part."""
    return _USERINFO.sub("", text)


# Builds the ServiceError for one failure: kind, message, fix.
_MakeError = Callable[[ErrorKind, str, str], ServiceError]


def _from_botocore_error(
    exc: BaseException,
    bx: Any,
    operation: str,
    *,
    profile: str | None,
    region: str | None,
) -> ServiceError:
    """Errors raised before or instead of an answer: credentials, config, network."""
    kwargs: dict[str, Any] = getattr(exc, "kwargs", None) or {}

    def error(kind: ErrorKind, message: str, fix: str) -> ServiceError:
        return ServiceError(kind, message, fix, operation=operation, code=type(exc).__name__)

    if isinstance(exc, bx.NoRegionError):
        return no_region_error(operation)
    found = _network_error(exc, bx, kwargs, error) or _config_error(exc, bx, kwargs, profile, error)
    if found is not None:
        return found
    return error(
        ErrorKind.OTHER,
        f"{type(exc).__name__}: {cap(exc)}",
        "unexpected; if it goes on, report it with this message",
    )


def _network_error(
    exc: BaseException, bx: Any, kwargs: dict[str, Any], error: _MakeError
) -> ServiceError | None:
    """Timeouts, proxies, TLS and connections; None when `exc` is none of them."""
    endpoint = cap(kwargs.get("endpoint_url") or "the WorkMail endpoint", 200)
    # Timeouts and connection errors first: they are HTTPClientError/ConnectionError subclasses.
    if isinstance(exc, bx.ReadTimeoutError):
        return error(
            ErrorKind.TIMEOUT,
            f"no answer from {endpoint} in time",
            "the service or the network is slow; wmtui tries again at the next refresh",
        )
    if isinstance(exc, bx.ProxyConnectionError):
        proxy = cap(kwargs.get("proxy_url") or "the proxy", 200)
        return error(
            ErrorKind.UNREACHABLE,
            f"could not connect to the proxy {proxy}",
            "check HTTPS_PROXY / HTTP_PROXY and the proxy itself",
        )
    if isinstance(exc, bx.SSLError):
        return error(
            ErrorKind.UNREACHABLE,
            f"TLS failed for {endpoint}: {cap(kwargs.get('error', ''), 200)}",
            "check the endpoint URL, the system time and AWS_CA_BUNDLE",
        )
    if isinstance(exc, bx.ConnectTimeoutError):
        return error(
            ErrorKind.UNREACHABLE,
            f"connecting to {endpoint} timed out",
            "check the network, a proxy or firewall, and the region or endpoint URL",
        )
    if isinstance(exc, bx.ConnectionClosedError):
        return error(
            ErrorKind.UNREACHABLE,
            f"{endpoint} closed the connection before answering",
            "wmtui tries again at the next refresh; check the network if it goes on",
        )
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectionError | bx.HTTPClientError):
        return error(
            ErrorKind.UNREACHABLE,
            f"could not connect to {endpoint}",
            "check the network and the region or endpoint URL; wmtui tries again later",
        )
    if isinstance(exc, ConnectionError | TimeoutError):
        # Plain socket errors, should one ever get past botocore's wrappers.
        kind = ErrorKind.TIMEOUT if isinstance(exc, TimeoutError) else ErrorKind.UNREACHABLE
        return error(kind, f"network error: {cap(exc, 200)}", "check the network")
    return None


def _config_error(
    exc: BaseException,
    bx: Any,
    kwargs: dict[str, Any],
    profile: str | None,
    error: _MakeError,
) -> ServiceError | None:
    """Credentials, profiles, SSO, regions and parameters; None when `exc` is none of them."""
    name = _profile_label(profile)
    if isinstance(exc, bx.ProfileNotFound):
        missing = cap(kwargs.get("profile") or name, 100)
        return error(
            ErrorKind.UNKNOWN_PROFILE,
            f"the AWS profile {missing!r} is not defined in {_config_files()}",
            f"create it (aws configure --profile {missing}) or pick another "
            "with --profile / AWS_PROFILE",
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        detail = "no AWS credentials found" if isinstance(exc, bx.NoCredentialsError) else cap(exc)
        return error(
            ErrorKind.NO_CREDENTIALS,
            f"{detail} (profile {name})",
            "configure credentials: aws configure, AWS_PROFILE, or aws sso login",
        )
    if isinstance(exc, bx.SSOError | bx.TokenRetrievalError | bx.NoAuthTokenError):
        state = "missing" if isinstance(exc, bx.SSOTokenLoadError) else "expired or not valid"
        return error(
            ErrorKind.SSO_TOKEN,
            f"the SSO login for profile {name} is {state}",
            f"run `{_sso_login_command(profile)}`",
        )
    login_error = getattr(bx, "LoginError", None)
    if login_error is not None and isinstance(exc, login_error):
        return error(
            ErrorKind.EXPIRED_TOKEN,
            f"the console login session for profile {name} has ended: {cap(exc, 200)}",
            f"run `aws login --profile {name}`",
        )
    if isinstance(exc, bx.UnknownRegionError | bx.InvalidRegionError):
        return error(
            ErrorKind.INVALID_PARAMETER,
            cap(exc),
            "use a region WorkMail runs in: " + ", ".join(WORKMAIL_REGIONS),
        )
    if isinstance(exc, bx.CredentialRetrievalError | bx.InvalidConfigError | bx.ConfigParseError):
        return error(
            ErrorKind.NO_CREDENTIALS,
            f"could not load credentials for profile {name}: {cap(exc)}",
            f"fix the profile in {_config_files()}",
        )
    if isinstance(exc, bx.ParamValidationError):
        return error(ErrorKind.INVALID_PARAMETER, cap(exc), "correct the value and try again")
    if isinstance(exc, bx.CapacityNotAvailableError):
        return error(
            ErrorKind.THROTTLED,
            "too many failed requests in a row: retries are paused",
            "wmtui tries again at the next refresh",
        )
    return None


def no_region_error(operation: str | None) -> ServiceError:
    return ServiceError(
        ErrorKind.NO_REGION,
        "no AWS region is set",
        "pass --region or set AWS_REGION / region in your profile",
        operation=operation,
        code="NoRegionError",
    )


def _service_text(message: object) -> str:
    """The service's message, capped; an HTML page (a proxy's or a load balancer's) says
    nothing a person can use, so it is left out."""
    text = message.strip() if isinstance(message, str) else ""
    if text.startswith("<"):
        return ""
    return cap(text)


def _attempts(response: dict[str, Any]) -> int:
    metadata = response.get("ResponseMetadata") or {}
    retries = metadata.get("RetryAttempts")
    return retries + 1 if isinstance(retries, int) else 1


def _from_client_error(
    exc: Any, operation: str, *, profile: str | None, region: str | None
) -> ServiceError:
    """The service answered with an error: map its code (and, failing that, its HTTP status)."""
    response: dict[str, Any] = exc.response if isinstance(exc.response, dict) else {}
    error_info: dict[str, Any] = response.get("Error") or {}
    code = str(error_info.get("Code") or "")
    service_message = _service_text(error_info.get("Message"))
    metadata = response.get("ResponseMetadata") or {}
    status = metadata.get("HTTPStatusCode")
    status = status if isinstance(status, int) else 0
    said = f": {service_message}" if service_message else ""

    def error(kind: ErrorKind, message: str, fix: str) -> ServiceError:
        return ServiceError(kind, message, fix, operation=operation, code=code or None)

    found = (
        _caller_code_error(code, status, response, said, operation, profile, error)
        or _entity_code_error(code, said, operation, region, error)
        or _status_error(status, response, said, error)
    )
    if found is not None:
        return found
    shown_code = code or (f"HTTP {status}" if status else "an unknown error")
    return error(
        ErrorKind.OTHER,
        f"{operation} failed with {cap(shown_code, 100)}{said}",
        "unexpected; if it goes on, report it with this message",
    )


def _caller_code_error(
    code: str,
    status: int,
    response: dict[str, Any],
    said: str,
    operation: str,
    profile: str | None,
    error: _MakeError,
) -> ServiceError | None:
    """Codes about the caller: credentials, permissions, throttling, the export limit."""
    name = _profile_label(profile)
    action = f"workmail:{operation}"
    if code in _EXPIRED_CODES:
        return error(
            ErrorKind.EXPIRED_TOKEN,
            f"the AWS credentials of profile {name} have expired{said}",
            f"get fresh credentials (`{_sso_login_command(profile)}`, or a new session token); "
            "if they are fresh, check the system clock",
        )
    if code in _DENIED_CODES:
        return error(
            ErrorKind.ACCESS_DENIED,
            f"access denied to {action} (profile {name}){said}",
            f"allow {action} for your IAM identity, or use a profile that has it",
        )
    if code in _REJECTED_KEY_CODES:
        return error(
            ErrorKind.NO_CREDENTIALS,
            f"the service rejected the credentials of profile {name} ({code}){said}",
            "check the access key (aws configure, AWS_PROFILE) and try "
            "`aws sts get-caller-identity`",
        )
    if code.startswith("Throttl") or code in _THROTTLE_CODES or status == 429:
        return error(
            ErrorKind.THROTTLED,
            f"WorkMail is throttling requests ({_attempts(response)} attempts){said}",
            "wmtui backs off and tries again; a longer --interval makes fewer calls",
        )
    if code == "LimitExceededException":
        return error(
            ErrorKind.LIMIT_EXCEEDED,
            f"the export limit is reached{said}",
            "WorkMail runs at most 10 exports at once per organization and one export "
            "per mailbox per 24 hours: wait for running exports to end",
        )
    return None


def _entity_code_error(
    code: str, said: str, operation: str, region: str | None, error: _MakeError
) -> ServiceError | None:
    """Codes about what was asked for: jobs, mailboxes, organizations, parameters."""
    if code == "EntityNotFoundException":
        if operation in ("DescribeMailboxExportJob", "CancelMailboxExportJob"):
            message = f"no such export job{_where(region)}{said}"
            fix = "check the job ID, the organization and the region"
        else:
            message = f"no such mailbox{_where(region)}{said}"
            fix = "check the user or resource ID, name or email, and the organization"
        return error(ErrorKind.JOB_NOT_FOUND, message, fix)
    if code == "OrganizationNotFoundException":
        return error(
            ErrorKind.ORGANIZATION_NOT_FOUND,
            f"the organization was not found{_where(region)}{said}",
            "check the organization ID and that it lives in this region",
        )
    if code == "OrganizationStateException":
        return error(
            ErrorKind.ORGANIZATION_STATE,
            f"the organization is not in a state that allows {operation}{said}",
            "check in the WorkMail console that the organization is Active",
        )
    if code == "EntityStateException":
        return error(
            ErrorKind.INVALID_PARAMETER,
            f"the mailbox is disabled or deleted{said}",
            "enable the user or resource in WorkMail first, or pick another mailbox",
        )
    if code in _INVALID_CODES:
        return error(
            ErrorKind.INVALID_PARAMETER,
            f"WorkMail refused a parameter of {operation}{said}",
            "correct the value and try again",
        )
    return None


def _status_error(
    status: int, response: dict[str, Any], said: str, error: _MakeError
) -> ServiceError | None:
    """No code we know: the HTTP status says whether the service itself failed."""
    if status in _UNAVAILABLE_STATUSES:
        return error(
            ErrorKind.UNREACHABLE,
            f"WorkMail is unavailable (HTTP {status}, {_attempts(response)} attempts){said}",
            "a problem on the service's side; wmtui tries again at the next refresh",
        )
    if status >= 500:
        return error(
            ErrorKind.OTHER,
            f"the service had an internal error (HTTP {status}, "
            f"{_attempts(response)} attempts){said}",
            "a problem on the service's side; wmtui tries again at the next refresh",
        )
    return None
