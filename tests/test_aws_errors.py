"""Every exception the AWS layer can meet becomes one ServiceError with a kind and a fix."""

from __future__ import annotations

from typing import Any

import pytest
from botocore import exceptions as bx

from wmtui.aws.errors import MESSAGE_LIMIT, to_service_error
from wmtui.core.models import ValidationError
from wmtui.core.service import ErrorKind, ServiceError


def client_error(
    code: str, message: str = "msg", *, status: int = 400, retries: int = 0, op: str = "Op"
) -> bx.ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": retries},
    }
    return bx.ClientError(response, op)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("ExpiredTokenException", ErrorKind.EXPIRED_TOKEN),
        ("ExpiredToken", ErrorKind.EXPIRED_TOKEN),
        ("RequestExpired", ErrorKind.EXPIRED_TOKEN),
        ("AccessDeniedException", ErrorKind.ACCESS_DENIED),
        ("AccessDenied", ErrorKind.ACCESS_DENIED),
        ("UnauthorizedOperation", ErrorKind.ACCESS_DENIED),
        ("ThrottlingException", ErrorKind.THROTTLED),
        ("Throttling", ErrorKind.THROTTLED),
        ("TooManyRequestsException", ErrorKind.THROTTLED),
        ("LimitExceededException", ErrorKind.LIMIT_EXCEEDED),
        ("EntityNotFoundException", ErrorKind.JOB_NOT_FOUND),
        ("OrganizationNotFoundException", ErrorKind.ORGANIZATION_NOT_FOUND),
        ("OrganizationStateException", ErrorKind.ORGANIZATION_STATE),
        ("InvalidParameterException", ErrorKind.INVALID_PARAMETER),
        ("ValidationException", ErrorKind.INVALID_PARAMETER),
        ("UnrecognizedClientException", ErrorKind.NO_CREDENTIALS),
        ("InvalidSignatureException", ErrorKind.NO_CREDENTIALS),
        ("DirectoryUnavailableException", ErrorKind.OTHER),
    ],
)
def test_service_codes_map_to_kinds(code: str, kind: ErrorKind) -> None:
    error = to_service_error(client_error(code), "DescribeMailboxExportJob", region="us-east-1")
    assert error.kind is kind
    assert error.code == code
    assert error.operation == "DescribeMailboxExportJob"
    assert error.fix
    assert "msg" in error.message


def test_access_denied_names_the_iam_action_and_profile() -> None:
    error = to_service_error(
        client_error("AccessDeniedException", "User: x is not authorized"),
        "StartMailboxExportJob",
        profile="migration",
    )
    assert "workmail:StartMailboxExportJob" in error.message
    assert "workmail:StartMailboxExportJob" in error.fix
    assert "migration" in error.message


def test_limit_exceeded_explains_the_two_limits() -> None:
    error = to_service_error(client_error("LimitExceededException"), "StartMailboxExportJob")
    assert "10" in error.fix and "24 hours" in error.fix


def test_entity_not_found_says_job_or_mailbox_by_operation() -> None:
    job = to_service_error(client_error("EntityNotFoundException"), "DescribeMailboxExportJob")
    mailbox = to_service_error(client_error("EntityNotFoundException"), "StartMailboxExportJob")
    assert "job" in job.message
    assert "mailbox" in mailbox.message


def test_throttled_reports_the_attempts_made() -> None:
    error = to_service_error(client_error("ThrottlingException", retries=3), "ListOrganizations")
    assert "4 attempts" in error.message


@pytest.mark.parametrize(
    ("code", "message", "status", "kind"),
    [
        ("500", "Internal Server Error", 500, ErrorKind.OTHER),  # an HTML body: botocore's code
        ("", "", 500, ErrorKind.OTHER),
        ("InternalFailure", "boom", 500, ErrorKind.OTHER),
        ("503", "Service Unavailable", 503, ErrorKind.UNREACHABLE),
        ("", "", 429, ErrorKind.THROTTLED),
    ],
)
def test_http_status_decides_when_the_code_does_not(
    code: str, message: str, status: int, kind: ErrorKind
) -> None:
    error = to_service_error(client_error(code, message, status=status), "ListUsers")
    assert error.kind is kind
    if status >= 500:
        assert f"HTTP {status}" in error.message
        assert "tries again" in error.fix


def test_expired_token_fix_names_the_profile() -> None:
    error = to_service_error(client_error("ExpiredTokenException"), "X", profile="ops")
    assert "aws sso login --profile ops" in error.fix


def test_service_text_is_kept_plain_but_capped() -> None:
    text = "[red]x[/red]\x1b]52;c;SGVsbG8=\x07" + "y" * 5000
    error = to_service_error(client_error("InvalidParameterException", text), "X")
    assert "[red]x[/red]\x1b]52" in error.message  # the UI sanitises; we do not rewrite
    assert len(error.message) < MESSAGE_LIMIT + 100


@pytest.mark.parametrize(
    ("exc", "kind", "needle"),
    [
        (bx.NoCredentialsError(), ErrorKind.NO_CREDENTIALS, "aws configure"),
        (
            bx.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
            ErrorKind.NO_CREDENTIALS,
            "aws configure",
        ),
        (bx.NoRegionError(), ErrorKind.NO_REGION, "--region"),
        (bx.ProfileNotFound(profile="nosuch"), ErrorKind.UNKNOWN_PROFILE, "nosuch"),
        (bx.SSOTokenLoadError(error_msg="Token for x does not exist"), ErrorKind.SSO_TOKEN, "sso"),
        (bx.UnauthorizedSSOTokenError(), ErrorKind.SSO_TOKEN, "aws sso login"),
        (
            bx.TokenRetrievalError(provider="sso", error_msg="Token has expired"),
            ErrorKind.SSO_TOKEN,
            "aws sso login",
        ),
        (
            bx.EndpointConnectionError(endpoint_url="https://workmail.us-east-1.amazonaws.com/"),
            ErrorKind.UNREACHABLE,
            "network",
        ),
        (
            bx.ConnectTimeoutError(endpoint_url="https://workmail.us-east-1.amazonaws.com/"),
            ErrorKind.UNREACHABLE,
            "network",
        ),
        (
            bx.ConnectionClosedError(endpoint_url="https://workmail.us-east-1.amazonaws.com/"),
            ErrorKind.UNREACHABLE,
            "refresh",
        ),
        (
            bx.ReadTimeoutError(endpoint_url="https://workmail.us-east-1.amazonaws.com/"),
            ErrorKind.TIMEOUT,
            "refresh",
        ),
        (
            bx.ParamValidationError(report="Invalid length for parameter JobId"),
            ErrorKind.INVALID_PARAMETER,
            "correct",
        ),
        (
            ValidationError("job ID", "../../x y", "may hold only letters, digits and '-'"),
            ErrorKind.INVALID_PARAMETER,
            "correct",
        ),
        (
            bx.InvalidConfigError(error_msg='The specified sso-session does not exist: "x"'),
            ErrorKind.NO_CREDENTIALS,
            "fix the profile",
        ),
        (RuntimeError("something odd"), ErrorKind.OTHER, "report"),
    ],
)
def test_exceptions_map_to_kinds_with_a_fix(
    exc: BaseException, kind: ErrorKind, needle: str
) -> None:
    error = to_service_error(exc, "ListMailboxExportJobs", profile="ops")
    assert error.kind is kind
    assert needle in (error.message + " " + error.fix)
    assert error.operation == "ListMailboxExportJobs"


def test_sso_fix_names_the_profile_to_log_in_with() -> None:
    error = to_service_error(bx.UnauthorizedSSOTokenError(), "X", profile="admin-sso")
    assert error.fix == "run `aws sso login --profile admin-sso`"
    missing = to_service_error(bx.SSOTokenLoadError(error_msg="gone"), "X", profile="p")
    assert "missing" in missing.message
    default = to_service_error(bx.UnauthorizedSSOTokenError(), "X")
    assert default.fix == "run `aws sso login`"


def test_network_errors_name_the_endpoint() -> None:
    url = "http://127.0.0.1:9/"
    for exc in (
        bx.EndpointConnectionError(endpoint_url=url),
        bx.ReadTimeoutError(endpoint_url=url),
    ):
        assert url in to_service_error(exc, "X").message


def test_unknown_profile_names_the_config_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "my-config"))
    error = to_service_error(bx.ProfileNotFound(profile="nosuch"), "X")
    assert "nosuch" in error.message
    assert str(tmp_path / "my-config") in error.message


def test_other_names_the_exception_class() -> None:
    error = to_service_error(KeyError("Jobs"), "ListMailboxExportJobs")
    assert error.kind is ErrorKind.OTHER
    assert "KeyError" in error.message


def test_a_service_error_passes_through_unchanged() -> None:
    original = ServiceError(ErrorKind.THROTTLED, "slow down")
    assert to_service_error(original, "X") is original


def test_every_kind_of_message_is_a_short_single_string() -> None:
    error = to_service_error(RuntimeError("z" * 10_000), "X")
    assert isinstance(error.message, str)
    assert len(error.message) <= MESSAGE_LIMIT + 50
