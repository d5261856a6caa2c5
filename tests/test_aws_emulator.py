"""Boto3ExportService with a real boto3 client against the emulator on 127.0.0.1.

Signing, error parsing, retries, timeouts and paging all cross the wire here. Nothing reaches
any address but loopback: SSO and credential cases fail before a request is ever made, which
the emulator's counters confirm.
"""

from __future__ import annotations

import hashlib
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from wmtui.aws.service import Boto3ExportService
from wmtui.core.models import JobKey, JobState, StartRequest
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.emulator.server import EmulatorServer

REGION = "us-east-1"
SSO_START_URL = "https://wmtui-test.awsapps.com/start"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore backs off up to seconds between retries; the retries are real, the waits tiny."""
    from botocore.retries.standard import ExponentialBackoff

    config = ExponentialBackoff._DEFAULT_BACKOFF_CONFIG  # type: ignore[attr-defined]
    monkeypatch.setitem(config, "throttling_base_scale", 0.001)
    monkeypatch.setitem(config, "non_throttling_base_scale", 0.001)


@pytest.fixture
def org(emulator: EmulatorServer) -> str:
    return emulator.state.organization_ids[0]


def make_service(emulator: EmulatorServer, **kwargs: Any) -> Boto3ExportService:
    options: dict[str, Any] = {
        "endpoint_url": emulator.endpoint_url,
        "region": REGION,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
    }
    options.update(kwargs)
    return Boto3ExportService(**options)


def expect_error(call: Any, kind: ErrorKind) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call()
    assert caught.value.kind is kind, caught.value
    assert caught.value.fix
    return caught.value


def mailbox_id(emulator: EmulatorServer, org: str, name: str) -> str:
    return next(m.entity_id for m in emulator.state.mailboxes(org) if m.name == name)


def export_request(entity: str, **overrides: Any) -> StartRequest:
    fields: dict[str, Any] = {
        "entity_id": entity,
        "s3_bucket_name": "wm-export",
        "s3_prefix": "exports/batch-2",
        "role_arn": "arn:aws:iam::123456789012:role/WorkMailExportRole",
        "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-aaaa-bbbb-cccc-1234",
        "description": "batch 2",
    }
    fields.update(overrides)
    return StartRequest(**fields)


# ------------------------------------------------------------------------------ every call


def test_start_describe_list_cancel_round_trip(emulator: EmulatorServer, org: str) -> None:
    service = make_service(emulator)
    key = service.start_job(REGION, org, export_request("dave"))
    assert key.region == REGION and key.organization_id == org

    job = service.describe_job(key)
    assert job.state is JobState.RUNNING and job.described
    assert job.entity_id == mailbox_id(emulator, org, "dave")
    assert job.description == "batch 2"
    assert job.s3_prefix == "exports/batch-2" and job.kms_key_arn and job.role_arn
    assert job.start_time is not None and job.start_time.tzinfo is UTC
    assert job.s3_uri is not None and job.s3_uri.startswith("s3://wm-export/")

    listed = {j.key: j for j in service.list_jobs(REGION, org)}
    assert key in listed and not listed[key].described
    assert listed[key].role_arn is None  # List leaves it out; merged_with keeps Describe's
    assert len(listed) == 3  # the two jobs the fixture holds, and ours

    service.cancel_job(key)
    assert service.describe_job(key).state is JobState.CANCELLED
    assert emulator.internal_errors == []


def test_a_finished_job_reads_back_with_utc_times(emulator: EmulatorServer, org: str) -> None:
    job_id = emulator.state.add_job(
        org, mailbox_id(emulator, org, "dave"), state="FAILED", started_ago=timedelta(hours=3)
    )
    job = make_service(emulator).describe_job(JobKey(REGION, org, job_id))
    assert job.state is JobState.FAILED
    assert job.error_info  # why it failed: only Describe says
    assert job.end_time is not None and job.start_time is not None
    assert job.end_time.utcoffset() == timedelta(0)
    assert job.end_time - job.start_time == timedelta(minutes=10)


def test_start_with_the_same_client_token_makes_one_job(emulator: EmulatorServer, org: str) -> None:
    service = make_service(emulator)
    request = export_request("dave", client_token="wmtui-retry-1")
    first = service.start_job(REGION, org, request)
    again = service.start_job(REGION, org, request)
    assert first == again
    assert len(emulator.state.exports_started(org)[mailbox_id(emulator, org, "dave")]) == 1


def test_names_organizations_and_mailboxes(emulator: EmulatorServer, org: str) -> None:
    service = make_service(emulator)
    organizations = service.list_organizations(REGION)
    assert [(o.organization_id, o.alias, o.state) for o in organizations] == [
        (org, "test-org", "Active")
    ]
    mailboxes = {m.name: m for m in service.list_mailboxes(REGION, org)}
    assert mailboxes["alice"].kind == "USER"
    assert mailboxes["alice"].label == "Alice Example"
    assert mailboxes["carol"].state == "DISABLED"
    assert mailboxes["boardroom"].kind == "RESOURCE"

    alice = service.describe_mailbox(REGION, org, mailboxes["alice"].entity_id)
    assert (alice.kind, alice.display_name) == ("USER", "Alice Example")
    room = service.describe_mailbox(REGION, org, mailboxes["boardroom"].entity_id)
    assert (room.kind, room.name) == ("RESOURCE", "boardroom")
    assert emulator.state.counters["DescribeResource"] == 1  # only after DescribeUser missed


def test_mailbox_lists_page_past_one_hundred(emulator: EmulatorServer, org: str) -> None:
    for n in range(100):
        emulator.state.add_mailbox(org, f"user{n:03d}")
    emulator.state.reset_counters()
    mailboxes = make_service(emulator).list_mailboxes(REGION, org)
    assert len({m.entity_id for m in mailboxes}) == 105
    assert emulator.state.counters["ListUsers"] == 2


def test_listing_pages_over_250_jobs(emulator: EmulatorServer, org: str) -> None:
    entity = mailbox_id(emulator, org, "dave")
    added = {
        emulator.state.add_job(org, entity, state="COMPLETED", started_ago=timedelta(minutes=n + 1))
        for n in range(250)
    }
    emulator.state.reset_counters()
    jobs = make_service(emulator).list_jobs(REGION, org)
    ids = [j.job_id for j in jobs]
    assert len(ids) == len(set(ids)) == 252
    assert added <= set(ids)
    assert emulator.state.counters["ListMailboxExportJobs"] == 3  # 100 + 100 + 52


def test_a_next_token_that_never_ends_is_stopped(emulator: EmulatorServer, org: str) -> None:
    emulator.inject("ListMailboxExportJobs", "endless-token", count=None)
    error = expect_error(lambda: make_service(emulator).list_jobs(REGION, org), ErrorKind.OTHER)
    assert "NextToken" in error.message
    assert emulator.state.counters["ListMailboxExportJobs"] == 2


def test_threads_share_one_client(emulator: EmulatorServer, org: str) -> None:
    service = make_service(emulator)
    key = JobKey(REGION, org, emulator.state.jobs(org)[0].job_id)
    with ThreadPoolExecutor(8) as pool:
        jobs = list(pool.map(lambda _: service.describe_job(key), range(16)))
    assert {j.key for j in jobs} == {key}
    assert len(service._clients) == 1
    assert emulator.state.counters["DescribeMailboxExportJob"] == 16


# ------------------------------------------------------------------------- modeled errors


def test_unknown_job_is_job_not_found(emulator: EmulatorServer, org: str) -> None:
    service = make_service(emulator)
    missing = JobKey(REGION, org, "no-such-job")
    error = expect_error(lambda: service.describe_job(missing), ErrorKind.JOB_NOT_FOUND)
    assert error.code == "EntityNotFoundException"
    assert "no-such-job" in error.message  # the service's own words are kept
    expect_error(lambda: service.cancel_job(missing), ErrorKind.JOB_NOT_FOUND)
    assert emulator.state.counters["DescribeMailboxExportJob"] == 1  # a 400 is not retried


def test_unknown_mailbox_on_start_is_not_found(emulator: EmulatorServer, org: str) -> None:
    error = expect_error(
        lambda: make_service(emulator).start_job(REGION, org, export_request("nobody")),
        ErrorKind.JOB_NOT_FOUND,
    )
    assert "mailbox" in error.message


def test_unknown_organization(emulator: EmulatorServer) -> None:
    stranger = "m-" + "f" * 32
    error = expect_error(
        lambda: make_service(emulator).list_jobs(REGION, stranger),
        ErrorKind.ORGANIZATION_NOT_FOUND,
    )
    assert REGION in error.message


def test_organization_in_another_region_is_not_found(emulator: EmulatorServer, org: str) -> None:
    expect_error(
        lambda: make_service(emulator).list_jobs("eu-west-1", org),
        ErrorKind.ORGANIZATION_NOT_FOUND,
    )


def test_organization_in_a_bad_state(emulator: EmulatorServer, org: str) -> None:
    emulator.state.set_organization_state(org, "Deleting")
    expect_error(
        lambda: make_service(emulator).list_jobs(REGION, org), ErrorKind.ORGANIZATION_STATE
    )


def test_second_export_of_a_mailbox_within_a_day_is_limit_exceeded_at_once(
    emulator: EmulatorServer, org: str
) -> None:
    service = make_service(emulator)
    service.start_job(REGION, org, export_request("dave"))
    emulator.state.reset_counters()
    error = expect_error(
        lambda: service.start_job(REGION, org, export_request("dave")), ErrorKind.LIMIT_EXCEEDED
    )
    assert "24 hours" in error.fix
    # botocore would retry LimitExceeded as throttling; it cannot clear in seconds.
    assert emulator.state.counters["StartMailboxExportJob"] == 1


def test_the_eleventh_running_export_is_limit_exceeded(emulator: EmulatorServer, org: str) -> None:
    service = make_service(emulator)
    names = [f"batch{n}" for n in range(10)]
    for name in names:
        emulator.state.add_mailbox(org, name)
    for name in names[:9]:  # alice's export already runs
        service.start_job(REGION, org, export_request(name))
    expect_error(
        lambda: service.start_job(REGION, org, export_request(names[9])),
        ErrorKind.LIMIT_EXCEEDED,
    )
    assert emulator.state.max_running_seen(org) == 10


def test_service_side_invalid_parameter(emulator: EmulatorServer, org: str) -> None:
    completed = next(j for j in emulator.state.jobs(org) if j.state == "COMPLETED")
    expect_error(
        lambda: make_service(emulator).cancel_job(JobKey(REGION, org, completed.job_id)),
        ErrorKind.INVALID_PARAMETER,
    )


def test_disabled_mailbox_cannot_be_exported(emulator: EmulatorServer, org: str) -> None:
    error = expect_error(
        lambda: make_service(emulator).start_job(REGION, org, export_request("carol")),
        ErrorKind.INVALID_PARAMETER,
    )
    assert "disabled" in error.message


def test_bad_ids_never_reach_the_service(emulator: EmulatorServer, org: str) -> None:
    service = make_service(emulator)
    for job_id in ("", "x" * 64, "../../x y", "a\nb"):
        expect_error(
            lambda j=job_id: service.describe_job(JobKey(REGION, org, j)),
            ErrorKind.INVALID_PARAMETER,
        )
    expect_error(lambda: service.list_jobs(REGION, org.upper()), ErrorKind.INVALID_PARAMETER)
    assert sum(emulator.state.counters.values()) == 0


# ------------------------------------------------------------------- retries and faults


def test_throttling_below_the_attempts_is_retried_to_success(
    emulator: EmulatorServer, org: str
) -> None:
    service = make_service(emulator, max_attempts=4)
    emulator.inject("ListMailboxExportJobs", "throttle", count=3)
    assert len(service.list_jobs(REGION, org)) == 2
    assert emulator.state.counters["ListMailboxExportJobs"] == 4


def test_throttling_past_the_attempts_is_throttled(emulator: EmulatorServer, org: str) -> None:
    service = make_service(emulator, max_attempts=3)
    emulator.inject("ListMailboxExportJobs", "throttle", count=3)
    error = expect_error(lambda: service.list_jobs(REGION, org), ErrorKind.THROTTLED)
    assert "3 attempts" in error.message
    assert emulator.state.counters["ListMailboxExportJobs"] == 3
    assert error.kind.is_transient
    assert len(service.list_jobs(REGION, org)) == 2  # the next call, unthrottled, works


@pytest.mark.parametrize(
    ("fault", "kind", "needle"),
    [
        ("500", ErrorKind.OTHER, "HTTP 500"),
        ("500-html", ErrorKind.OTHER, "HTTP 500"),
        ("503", ErrorKind.UNREACHABLE, "HTTP 503"),
    ],
)
def test_server_errors_are_retried_then_reported(
    emulator: EmulatorServer, org: str, fault: str, kind: ErrorKind, needle: str
) -> None:
    service = make_service(emulator, max_attempts=2)
    emulator.inject("DescribeMailboxExportJob", fault, count=2)
    key = JobKey(REGION, org, emulator.state.jobs(org)[0].job_id)
    error = expect_error(lambda: service.describe_job(key), kind)
    assert needle in error.message
    assert "<html" not in error.message.lower()
    assert "tries again" in error.fix
    assert emulator.state.counters["DescribeMailboxExportJob"] == 2
    assert service.describe_job(key).key == key


def test_one_server_error_is_absorbed_by_a_retry(emulator: EmulatorServer, org: str) -> None:
    emulator.inject("ListOrganizations", "500-html", count=1)
    assert len(make_service(emulator).list_organizations(REGION)) == 1
    assert emulator.state.counters["ListOrganizations"] == 2


def test_a_hang_becomes_a_timeout(emulator: EmulatorServer, org: str) -> None:
    service = make_service(emulator, read_timeout=0.5, max_attempts=1)
    emulator.inject("ListMailboxExportJobs", "hang", count=1)
    error = expect_error(lambda: service.list_jobs(REGION, org), ErrorKind.TIMEOUT)
    assert emulator.endpoint_url in error.message


def test_connection_refused_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    service = Boto3ExportService(
        endpoint_url=url, region=REGION, credentials=("AKIDTEST", "secret"), max_attempts=2
    )
    error = expect_error(lambda: service.list_organizations(REGION), ErrorKind.UNREACHABLE)
    assert url in error.message


def test_expired_token(emulator: EmulatorServer, org: str) -> None:
    service = make_service(emulator, credentials=("EXPIREDAKIDTEST", "secret"))
    error = expect_error(lambda: service.list_jobs(REGION, org), ErrorKind.EXPIRED_TOKEN)
    assert error.code == "ExpiredTokenException"


def test_access_denied_names_the_iam_action(emulator: EmulatorServer, org: str) -> None:
    service = make_service(emulator, credentials=("DENIEDAKIDTEST", "secret"))
    error = expect_error(lambda: service.list_jobs(REGION, org), ErrorKind.ACCESS_DENIED)
    assert "workmail:ListMailboxExportJobs" in error.fix
    assert "workmail:ListMailboxExportJobs" in error.message


# ---------------------------------------------------------------- credentials and config


def write_config(home: Path, text: str) -> None:
    (home / "aws-config").write_text(text)


def test_no_credentials(
    emulator: EmulatorServer, org: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    service = make_service(emulator)
    error = expect_error(lambda: service.list_jobs(REGION, org), ErrorKind.NO_CREDENTIALS)
    assert "aws configure" in error.fix
    assert sum(emulator.state.counters.values()) == 0

    # Once the person sets credentials, the same service recovers without a restart.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDLATERLATER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert len(service.list_jobs(REGION, org)) == 2


def test_unknown_profile(emulator: EmulatorServer, org: str, isolated_env: Path) -> None:
    write_config(isolated_env, "[profile other]\nregion = us-east-1\n")
    service = make_service(emulator, profile="nosuch")
    error = expect_error(lambda: service.list_jobs(REGION, org), ErrorKind.UNKNOWN_PROFILE)
    assert "nosuch" in error.message
    assert str(isolated_env / "aws-config") in error.message
    assert service.default_region is None or service.default_region == REGION
    assert sum(emulator.state.counters.values()) == 0


def test_no_region_configured(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    service = make_service(emulator, region=None)
    assert service.default_region is None
    error = expect_error(lambda: service.list_organizations(""), ErrorKind.NO_REGION)
    assert "--region" in error.fix


def test_region_from_the_profile(
    emulator: EmulatorServer, org: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    write_config(isolated_env, f"[profile work]\nregion = {REGION}\n")
    # A named profile takes its keys from the files, never from the environment.
    (isolated_env / "aws-credentials").write_text(
        "[work]\naws_access_key_id = AKIDWORKWORK\naws_secret_access_key = secret\n"
    )
    service = make_service(emulator, profile="work", region=None)
    assert service.default_region == REGION
    assert [o.organization_id for o in service.list_organizations("")] == [org]


@pytest.fixture
def sso_cache(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$HOME/.aws/sso/cache of the test's HOME. botocore fixes the folder when it is imported,
    which may be before this test moved HOME, so point its two readers at it."""
    import botocore.credentials
    import botocore.tokens

    cache = isolated_env / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(botocore.tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    # Should botocore ever try the SSO portal or token service, it meets a closed local port.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9")
    return cache


def sso_config(style: str) -> str:
    common = "sso_account_id = 123456789012\nsso_role_name = WorkMailAdmin\nregion = us-east-1\n"
    if style == "legacy":
        return (
            f"[profile admin]\nsso_start_url = {SSO_START_URL}\nsso_region = us-east-1\n" + common
        )
    return (
        "[profile admin]\nsso_session = corp\n" + common + "\n[sso-session corp]\n"
        f"sso_start_url = {SSO_START_URL}\nsso_region = us-east-1\n"
        "sso_registration_scopes = sso:account:access\n"
    )


def write_token(cache: Path, style: str, expires: datetime) -> Path:
    """A cached SSO token as `aws sso login` leaves it, named as botocore looks it up: the
    sha1 of the start URL (legacy) or of the sso-session name. No refresh token, so botocore
    has nothing to refresh with and never calls a login service."""
    name = SSO_START_URL if style == "legacy" else "corp"
    path = cache / (hashlib.sha1(name.encode()).hexdigest() + ".json")
    token = {
        "startUrl": SSO_START_URL,
        "region": "us-east-1",
        "accessToken": "not-a-real-token",
        "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    path.write_text(json.dumps(token))
    return path


@pytest.mark.parametrize("style", ["legacy", "sso-session"])
@pytest.mark.parametrize("token", ["missing", "expired"])
def test_sso_login_needed(
    emulator: EmulatorServer,
    org: str,
    isolated_env: Path,
    sso_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    style: str,
    token: str,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    write_config(isolated_env, sso_config(style))
    if token == "expired":
        write_token(sso_cache, style, datetime.now(UTC) - timedelta(hours=1))
    before = {p.name: p.read_bytes() for p in sso_cache.iterdir()}
    service = make_service(emulator, profile="admin")
    error = expect_error(lambda: service.list_jobs(REGION, org), ErrorKind.SSO_TOKEN)
    assert error.fix == "run `aws sso login --profile admin`"
    assert ("missing" in error.message) == (token == "missing")
    assert sum(emulator.state.counters.values()) == 0
    assert {p.name: p.read_bytes() for p in sso_cache.iterdir()} == before  # nothing refreshed
