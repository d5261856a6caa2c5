"""The emulator answers a real boto3 client as WorkMail would: shapes, errors, limits, faults."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.loaders import create_loader

from wmtui.core.models import JobKey
from wmtui.emulator import model
from wmtui.emulator.demo import DEMO_REGION, build_demo_state, demo_job_keys
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState

ROLE = "arn:aws:iam::123456789012:role/WorkMailExportRole"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def start_params(org_id: str, entity: str, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "OrganizationId": org_id,
        "EntityId": entity,
        "RoleArn": ROLE,
        "KmsKeyArn": KMS,
        "S3BucketName": "wm-export",
        "S3Prefix": "pre-shutdown/batch-1",
        "Description": "Pre-shutdown export",
    }
    params.update(overrides)
    return params


_LOADER = create_loader()  # shared: parsing the model JSON per client costs ~0.2 s


def make_client(endpoint_url: str, region: str = "us-east-1", **config: Any) -> Any:
    settings: dict[str, Any] = {
        "retries": {"mode": "standard", "total_max_attempts": 1},
        "connect_timeout": 2,
        "read_timeout": 5,
    }
    settings.update(config)
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core).client(
        "workmail", region_name=region, endpoint_url=endpoint_url, config=Config(**settings)
    )


class ShapeChecker:
    """Checks every raw answer body against botocore's output shape for its operation."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.problems: list[str] = []

    def __call__(self, http_response: Any, model: Any, **kwargs: Any) -> None:
        try:
            body = json.loads(http_response.content or b"{}")
        except ValueError:
            self.problems.append(f"{model.name}: answer is not JSON: {http_response.content!r}")
            return
        if http_response.status_code == 200:
            self.checked.append(model.name)
            self.problems.extend(_output_problems(model.name, body))
        else:
            # An error body must carry the code botocore maps to client.exceptions.<code>.
            if not isinstance(body.get("__type"), str) or not body.get("Message"):
                self.problems.append(f"{model.name}: error body without __type/Message: {body}")


def _output_problems(operation: str, body: object) -> list[str]:
    return model.output_problems(operation, body)


@pytest.fixture
def client(emulator: EmulatorServer, emulator_client: Any) -> Iterator[Any]:
    """emulator_client with every answer checked against the model; no emulator bugs allowed."""
    checker = ShapeChecker()
    emulator_client.meta.events.register("after-call.workmail", checker)
    yield emulator_client
    assert checker.problems == []
    assert emulator.internal_errors == []


@pytest.fixture
def org_id(emulator: EmulatorServer) -> str:
    return emulator.state.organization_ids[0]


def entity(emulator: EmulatorServer, name: str) -> str:
    for mailbox in emulator.state.mailboxes(emulator.state.organization_ids[0]):
        if mailbox.name == name:
            return mailbox.entity_id
    raise KeyError(name)


def error_code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


def raw_call(
    endpoint_url: str,
    operation: str | None,
    body: object,
    *,
    authorization: str | None = (
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/workmail/aws4_request, "
        "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0123456789abcdef"
    ),
) -> tuple[int, dict[str, Any]]:
    """One POST without botocore, for what botocore would refuse to send."""
    host, port = endpoint_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Date": "20260101T000000Z"}
    if operation is not None:
        headers["X-Amz-Target"] = f"WorkMailService.{operation}"
    if authorization is not None:
        headers["Authorization"] = authorization
    conn.request("POST", "/", body=json.dumps(body).encode(), headers=headers)
    response = conn.getresponse()
    data = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, data


# ------------------------------------------------------------------------ happy paths


def test_every_operation_answers_in_its_shape(client: Any, org_id: str) -> None:
    orgs = client.list_organizations()["OrganizationSummaries"]
    assert [(o["OrganizationId"], o["Alias"], o["State"]) for o in orgs] == [
        (org_id, "test-org", "Active")
    ]
    described_org = client.describe_organization(OrganizationId=org_id)
    assert described_org["DefaultMailDomain"] == "test-org.awsapps.com"

    users = client.list_users(OrganizationId=org_id)["Users"]
    assert sorted(u["Name"] for u in users) == ["alice", "bob", "carol", "dave"]
    resources = client.list_resources(OrganizationId=org_id)["Resources"]
    assert [(r["Name"], r["Type"]) for r in resources] == [("boardroom", "ROOM")]
    alice = client.describe_user(OrganizationId=org_id, UserId="alice")
    assert (alice["Email"], alice["DisplayName"]) == ("alice@test-org.awsapps.com", "Alice Example")
    room = client.describe_resource(OrganizationId=org_id, ResourceId=resources[0]["Id"])
    assert room["Name"] == "boardroom"

    jobs = client.list_mailbox_export_jobs(OrganizationId=org_id)["Jobs"]
    assert [j["State"] for j in jobs] == ["RUNNING", "COMPLETED"]
    running = client.describe_mailbox_export_job(OrganizationId=org_id, JobId=jobs[0]["JobId"])
    assert (running["EntityId"], running["EstimatedProgress"]) == (alice["UserId"], 40)
    assert "EndTime" not in running and "ErrorInfo" not in running

    job_id = client.start_mailbox_export_job(**start_params(org_id, "dave"))["JobId"]
    client.cancel_mailbox_export_job(OrganizationId=org_id, JobId=job_id, ClientToken="c-1")
    cancelled = client.describe_mailbox_export_job(OrganizationId=org_id, JobId=job_id)
    assert cancelled["State"] == "CANCELLED"
    assert cancelled["EndTime"] >= cancelled["StartTime"]


def test_a_started_job_keeps_its_request_and_moves_with_the_clock(
    client: Any, emulator: EmulatorServer, org_id: str
) -> None:
    emulator.state.job_duration = timedelta(minutes=10)
    emulator.state.job_duration_jitter = 0
    job_id = client.start_mailbox_export_job(**start_params(org_id, "dave@test-org.awsapps.com"))[
        "JobId"
    ]
    job = client.describe_mailbox_export_job(OrganizationId=org_id, JobId=job_id)
    assert job["EntityId"] == entity(emulator, "dave")
    assert (job["RoleArn"], job["KmsKeyArn"], job["S3Prefix"]) == (
        ROLE,
        KMS,
        "pre-shutdown/batch-1",
    )
    assert job["S3Path"] == f"pre-shutdown/batch-1/{job_id}.zip"
    assert (job["State"], job["EstimatedProgress"]) == ("RUNNING", 0)

    emulator.state.clock.advance(5 * 60)
    halfway = client.describe_mailbox_export_job(OrganizationId=org_id, JobId=job_id)
    assert (halfway["State"], halfway["EstimatedProgress"]) == ("RUNNING", 50)

    emulator.state.clock.advance(5 * 60)
    done = client.describe_mailbox_export_job(OrganizationId=org_id, JobId=job_id)
    assert (done["State"], done["EstimatedProgress"]) == ("COMPLETED", 100)
    assert abs(done["EndTime"] - done["StartTime"] - timedelta(minutes=10)) < timedelta(seconds=1)


def test_a_job_bound_to_fail_ends_failed_with_its_reason(
    client: Any, emulator: EmulatorServer, org_id: str
) -> None:
    emulator.state.failure_rate = 1.0
    job_id = client.start_mailbox_export_job(**start_params(org_id, "dave"))["JobId"]
    emulator.state.clock.advance(timedelta(hours=1))
    job = client.describe_mailbox_export_job(OrganizationId=org_id, JobId=job_id)
    assert job["State"] == "FAILED"
    assert job["ErrorInfo"]
    assert 0 < job["EstimatedProgress"] < 100
    listed = client.list_mailbox_export_jobs(OrganizationId=org_id)["Jobs"]
    assert all("ErrorInfo" not in j for j in listed)


def test_entity_may_be_named_by_id_name_or_email(
    client: Any, emulator: EmulatorServer, org_id: str
) -> None:
    dave = entity(emulator, "dave")
    for name in (dave, "dave", "DAVE@test-org.awsapps.com"):
        user = client.describe_user(OrganizationId=org_id, UserId=name)
        assert user["UserId"] == dave


def test_list_users_filters_and_pages(client: Any, org_id: str) -> None:
    enabled = client.list_users(OrganizationId=org_id, Filters={"State": "DISABLED"})["Users"]
    assert [u["Name"] for u in enabled] == ["carol"]
    first = client.list_users(OrganizationId=org_id, MaxResults=3)
    rest = client.list_users(OrganizationId=org_id, MaxResults=3, NextToken=first["NextToken"])
    assert "NextToken" not in rest
    names = [u["Name"] for u in first["Users"] + rest["Users"]]
    assert sorted(names) == ["alice", "bob", "carol", "dave"]


# ------------------------------------------------------------------------ modeled errors


def test_unknown_job_is_entity_not_found(client: Any, org_id: str) -> None:
    with pytest.raises(client.exceptions.EntityNotFoundException):
        client.describe_mailbox_export_job(OrganizationId=org_id, JobId="no-such-job")
    with pytest.raises(client.exceptions.EntityNotFoundException):
        client.cancel_mailbox_export_job(
            OrganizationId=org_id, JobId="no-such-job", ClientToken="t"
        )


def test_unknown_mailbox_is_entity_not_found(client: Any, org_id: str) -> None:
    with pytest.raises(client.exceptions.EntityNotFoundException):
        client.start_mailbox_export_job(**start_params(org_id, "nobody"))
    with pytest.raises(client.exceptions.EntityNotFoundException):
        client.describe_user(OrganizationId=org_id, UserId="boardroom")


@pytest.mark.parametrize(
    ("job_id", "organization_id", "member"),
    [
        ("../../x y", None, "jobId"),
        ("a" * 64, None, "jobId"),
        ("job-1", "m-0123456789ABCDEF0123456789ABCDEF", "organizationId"),
    ],
)
def test_a_bad_identifier_is_invalid_parameter(
    client: Any, org_id: str, job_id: str, organization_id: str | None, member: str
) -> None:
    with pytest.raises(client.exceptions.InvalidParameterException) as caught:
        client.describe_mailbox_export_job(OrganizationId=organization_id or org_id, JobId=job_id)
    assert f"at '{member}' failed to satisfy constraint" in str(caught.value)


def test_what_botocore_lets_through_the_model_still_refuses(
    emulator: EmulatorServer, org_id: str
) -> None:
    # botocore checks neither maximums nor enums; the service does.
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("ListMailboxExportJobs", {"OrganizationId": org_id, "MaxResults": 101}, "maxResults"),
        ("ListUsers", {"OrganizationId": org_id, "Filters": {"State": "GONE"}}, "filters.state"),
        ("DescribeMailboxExportJob", {"OrganizationId": org_id}, "jobId"),
        ("ListMailboxExportJobs", {"OrganizationId": org_id, "MaxResults": "5"}, "maxResults"),
    ]
    for operation, body, member in cases:
        status, answer = raw_call(emulator.endpoint_url, operation, body)
        assert status == 400
        assert answer["__type"] == "InvalidParameterException"
        assert f"'{member}'" in answer["Message"]


def test_unknown_organization_and_other_region(client: Any, org_id: str) -> None:
    with pytest.raises(client.exceptions.OrganizationNotFoundException):
        client.list_mailbox_export_jobs(OrganizationId="m-" + "0" * 32)
    elsewhere = make_client(client.meta.endpoint_url, region="eu-west-1")
    assert elsewhere.list_organizations()["OrganizationSummaries"] == []
    with pytest.raises(elsewhere.exceptions.OrganizationNotFoundException):
        elsewhere.describe_mailbox_export_job(OrganizationId=org_id, JobId="job-1")


def test_an_inactive_organization_is_organization_state(
    client: Any, emulator: EmulatorServer, org_id: str
) -> None:
    emulator.state.set_organization_state(org_id, "Inactive")
    with pytest.raises(client.exceptions.OrganizationStateException):
        client.list_mailbox_export_jobs(OrganizationId=org_id)
    with pytest.raises(client.exceptions.OrganizationStateException):
        client.start_mailbox_export_job(**start_params(org_id, "dave"))
    assert client.describe_organization(OrganizationId=org_id)["State"] == "Inactive"


def test_the_eleventh_running_export_is_refused(
    client: Any, emulator: EmulatorServer, org_id: str
) -> None:
    state = emulator.state
    names = [f"user{i:02d}" for i in range(11)]
    for name in names:
        state.add_mailbox(org_id, name)
    assert state.running_count(org_id) == 1  # alice's, from the fixture
    started = [
        client.start_mailbox_export_job(**start_params(org_id, name))["JobId"] for name in names[:9]
    ]
    with pytest.raises(client.exceptions.LimitExceededException) as caught:
        client.start_mailbox_export_job(**start_params(org_id, names[9]))
    assert "at most 10" in str(caught.value)
    assert state.running_count(org_id) == 10

    client.cancel_mailbox_export_job(OrganizationId=org_id, JobId=started[0], ClientToken="c")
    client.start_mailbox_export_job(**start_params(org_id, names[9]))
    assert state.max_running_seen(org_id) == 10


def test_a_mailbox_is_exported_once_per_24_hours(
    client: Any, emulator: EmulatorServer, org_id: str
) -> None:
    emulator.state.job_duration = timedelta(minutes=30)
    first = client.start_mailbox_export_job(**start_params(org_id, "dave"))["JobId"]
    emulator.state.clock.advance(timedelta(hours=2))  # finished, still within the day
    with pytest.raises(client.exceptions.LimitExceededException) as caught:
        client.start_mailbox_export_job(**start_params(org_id, "dave"))
    assert "24 hours" in str(caught.value)
    emulator.state.clock.advance(timedelta(hours=22, minutes=1))
    second = client.start_mailbox_export_job(**start_params(org_id, "dave"))["JobId"]
    assert emulator.state.exports_started(org_id) == {entity(emulator, "dave"): [first, second]}


def test_bob_exported_two_days_ago_may_be_exported_again(client: Any, org_id: str) -> None:
    assert client.start_mailbox_export_job(**start_params(org_id, "bob"))["JobId"]


def test_a_cancelled_export_does_not_block_the_mailbox(client: Any, org_id: str) -> None:
    job_id = client.start_mailbox_export_job(**start_params(org_id, "dave"))["JobId"]
    client.cancel_mailbox_export_job(OrganizationId=org_id, JobId=job_id, ClientToken="c")
    assert client.start_mailbox_export_job(**start_params(org_id, "dave"))["JobId"] != job_id


def test_a_disabled_mailbox_cannot_be_exported(client: Any, org_id: str) -> None:
    with pytest.raises(ClientError) as caught:
        client.start_mailbox_export_job(**start_params(org_id, "carol"))
    assert error_code(caught.value) == "EntityStateException"


def test_client_token_makes_start_idempotent(
    client: Any, emulator: EmulatorServer, org_id: str
) -> None:
    params = start_params(org_id, "dave", ClientToken="export-1:dave")
    first = client.start_mailbox_export_job(**params)["JobId"]
    again = client.start_mailbox_export_job(**params)["JobId"]
    assert again == first
    assert emulator.state.exports_started(org_id) == {entity(emulator, "dave"): [first]}
    assert emulator.state.counters["StartMailboxExportJob"] == 2
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.start_mailbox_export_job(**{**params, "S3Prefix": "elsewhere"})


def test_cancel_rules(client: Any, emulator: EmulatorServer, org_id: str) -> None:
    jobs = client.list_mailbox_export_jobs(OrganizationId=org_id)["Jobs"]
    running, completed = jobs[0]["JobId"], jobs[1]["JobId"]
    client.cancel_mailbox_export_job(OrganizationId=org_id, JobId=running, ClientToken="c1")
    # A retried cancel must not fail; a finished job cannot be cancelled.
    client.cancel_mailbox_export_job(OrganizationId=org_id, JobId=running, ClientToken="c2")
    with pytest.raises(client.exceptions.InvalidParameterException) as caught:
        client.cancel_mailbox_export_job(OrganizationId=org_id, JobId=completed, ClientToken="c3")
    assert "COMPLETED" in str(caught.value)
    emulator.state.clock.advance(timedelta(days=1))
    job = client.describe_mailbox_export_job(OrganizationId=org_id, JobId=running)
    assert (job["State"], job["EstimatedProgress"]) == ("CANCELLED", 40)


# ------------------------------------------------------------------------ listing


def test_paging_over_250_jobs(client: Any, emulator: EmulatorServer, org_id: str) -> None:
    state = emulator.state
    dave = entity(emulator, "dave")
    added = {
        state.add_job(org_id, dave, state="COMPLETED", started_ago=timedelta(minutes=10 + i))
        for i in range(248)
    }
    pages: list[list[dict[str, Any]]] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"OrganizationId": org_id, "MaxResults": 100}
        if token:
            kwargs["NextToken"] = token
        answer = client.list_mailbox_export_jobs(**kwargs)
        pages.append(answer["Jobs"])
        token = answer.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [100, 100, 50]
    ids = [j["JobId"] for page in pages for j in page]
    assert len(set(ids)) == 250
    assert added <= set(ids)
    starts = [j["StartTime"] for page in pages for j in page]
    assert starts == sorted(starts, reverse=True)
    # Without MaxResults a page holds 100.
    assert len(client.list_mailbox_export_jobs(OrganizationId=org_id)["Jobs"]) == 100


def test_a_token_not_ours_is_invalid(client: Any, org_id: str) -> None:
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.list_mailbox_export_jobs(OrganizationId=org_id, NextToken="not-a-token")
    users_token = client.list_users(OrganizationId=org_id, MaxResults=1)["NextToken"]
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.list_mailbox_export_jobs(OrganizationId=org_id, NextToken=users_token)


def test_list_shows_seven_days_describe_shows_all(
    client: Any, emulator: EmulatorServer, org_id: str
) -> None:
    old = emulator.state.add_job(
        org_id, entity(emulator, "dave"), state="COMPLETED", started_ago=timedelta(days=8)
    )
    listed = {j["JobId"] for j in client.list_mailbox_export_jobs(OrganizationId=org_id)["Jobs"]}
    assert old not in listed
    assert len(listed) == 2
    assert client.describe_mailbox_export_job(OrganizationId=org_id, JobId=old)["State"] == (
        "COMPLETED"
    )
    # Six days on, the fixture's jobs (started now and two days ago) drop out of the list too.
    emulator.state.clock.advance(timedelta(days=6))
    remaining = client.list_mailbox_export_jobs(OrganizationId=org_id)["Jobs"]
    assert [j["State"] for j in remaining] == ["COMPLETED"]


# ------------------------------------------------------------------------ faults and auth


def test_injected_throttle_is_a_throttling_exception(
    client: Any, emulator: EmulatorServer, org_id: str
) -> None:
    emulator.inject("ListMailboxExportJobs", "throttle", count=1)
    with pytest.raises(ClientError) as caught:
        client.list_mailbox_export_jobs(OrganizationId=org_id)
    assert error_code(caught.value) == "ThrottlingException"
    assert client.list_mailbox_export_jobs(OrganizationId=org_id)["Jobs"]
    assert emulator.state.counters["ListMailboxExportJobs"] == 2


def test_a_503_is_retried_by_botocore(emulator: EmulatorServer, org_id: str) -> None:
    retrying = make_client(
        emulator.endpoint_url, retries={"mode": "standard", "total_max_attempts": 2}
    )
    # Injected on Describe of a job nobody has: the retry's answer is EntityNotFound.
    emulator.inject(None, "503", count=1)
    with pytest.raises(retrying.exceptions.EntityNotFoundException):
        retrying.describe_mailbox_export_job(OrganizationId=org_id, JobId="gone")
    assert emulator.state.counters["DescribeMailboxExportJob"] == 2


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("500", 500, "InternalFailure"),
        ("503", 503, "ServiceUnavailable"),
        ("500-html", 500, "500"),
        ("expired-token", 400, "ExpiredTokenException"),
        ("org-state", 400, "OrganizationStateException"),
    ],
)
def test_injected_errors(
    emulator_client: Any, emulator: EmulatorServer, org_id: str, fault: str, status: int, code: str
) -> None:
    emulator.inject(None, fault)
    with pytest.raises(ClientError) as caught:
        emulator_client.list_mailbox_export_jobs(OrganizationId=org_id)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert error_code(caught.value) == code


def test_access_denied_names_the_iam_action(
    emulator_client: Any, emulator: EmulatorServer, org_id: str
) -> None:
    emulator.inject("ListMailboxExportJobs", "access-denied")
    with pytest.raises(ClientError) as caught:
        emulator_client.list_mailbox_export_jobs(OrganizationId=org_id)
    assert error_code(caught.value) == "AccessDeniedException"
    message = caught.value.response["Error"]["Message"]
    assert "is not authorized to perform: workmail:ListMailboxExportJobs" in message
    assert org_id in message


@pytest.mark.parametrize(
    ("access_key", "code"),
    [("EXPIREDKEY123", "ExpiredTokenException"), ("DENIEDKEY123", "AccessDeniedException")],
)
def test_test_access_keys_trigger_credential_errors(
    emulator: EmulatorServer,
    org_id: str,
    monkeypatch: pytest.MonkeyPatch,
    access_key: str,
    code: str,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
    with pytest.raises(ClientError) as caught:
        make_client(emulator.endpoint_url).describe_mailbox_export_job(
            OrganizationId=org_id, JobId="job-1"
        )
    assert error_code(caught.value) == code


def test_endless_token_never_ends(client: Any, emulator: EmulatorServer, org_id: str) -> None:
    emulator.inject("ListMailboxExportJobs", "endless-token", count=None)
    answer = client.list_mailbox_export_jobs(OrganizationId=org_id)
    for _ in range(5):
        assert answer["Jobs"]
        answer = client.list_mailbox_export_jobs(
            OrganizationId=org_id, NextToken=answer["NextToken"]
        )
    assert answer["NextToken"]
    emulator.clear_faults()
    assert "NextToken" not in client.list_mailbox_export_jobs(OrganizationId=org_id)


def test_a_hang_is_a_read_timeout(emulator: EmulatorServer, org_id: str) -> None:
    impatient = make_client(emulator.endpoint_url, read_timeout=0.5)
    emulator.inject("DescribeMailboxExportJob", "hang")
    with pytest.raises(ReadTimeoutError):
        impatient.describe_mailbox_export_job(OrganizationId=org_id, JobId="job-1")


def test_stop_does_not_wait_for_a_hanging_request(aws_credentials: None) -> None:
    state = EmulatorState(clock=EmulatorClock(manual=True))
    org_id = state.add_organization("hang-org")
    server = EmulatorServer(state, hang_seconds=60).start()
    server.inject(None, "hang")
    client = make_client(server.endpoint_url, read_timeout=60)
    failures: list[BaseException] = []

    def call() -> None:
        try:
            client.list_mailbox_export_jobs(OrganizationId=org_id)
        except Exception as exc:
            failures.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    for _ in range(500):
        if state.counters["ListMailboxExportJobs"]:
            break
        threading.Event().wait(0.01)
    server.stop()
    caller.join(timeout=10)
    assert not caller.is_alive()
    assert failures  # the connection was closed under it, it did not get an answer


def test_rates_are_repeatable_with_a_seed(aws_credentials: None) -> None:
    outcomes: list[list[str]] = []
    for _ in range(2):
        state = EmulatorState(clock=EmulatorClock(manual=True))
        org_id = state.add_organization("flaky-org")
        with EmulatorServer(state, throttle_rate=0.3, error_rate=0.2, seed=42) as server:
            client = make_client(server.endpoint_url)
            run: list[str] = []
            for _ in range(20):
                try:
                    client.list_mailbox_export_jobs(OrganizationId=org_id)
                    run.append("ok")
                except ClientError as exc:
                    run.append(error_code(exc))
            outcomes.append(run)
    assert outcomes[0] == outcomes[1]
    assert {"ok", "ThrottlingException"} <= set(outcomes[0])


def test_an_unsigned_request_is_refused(emulator: EmulatorServer, org_id: str) -> None:
    unsigned = make_client(emulator.endpoint_url, signature_version=UNSIGNED)
    with pytest.raises(ClientError) as caught:
        unsigned.list_mailbox_export_jobs(OrganizationId=org_id)
    assert error_code(caught.value) == "MissingAuthenticationTokenException"
    status, body = raw_call(
        emulator.endpoint_url,
        "ListOrganizations",
        {},
        authorization="AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=00",
    )
    assert (status, body["__type"]) == (400, "InvalidSignatureException")
    status, body = raw_call(
        emulator.endpoint_url, "ListOrganizations", {}, authorization="Bearer x"
    )
    assert (status, body["__type"]) == (400, "IncompleteSignatureException")


def test_unknown_operation(emulator: EmulatorServer, emulator_client: Any) -> None:
    status, body = raw_call(emulator.endpoint_url, "DoSomethingElse", {})
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body = raw_call(emulator.endpoint_url, None, {})
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    with pytest.raises(ClientError) as caught:
        emulator_client.list_groups(OrganizationId=emulator.state.organization_ids[0])
    assert error_code(caught.value) == "UnknownOperationException"


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com", "::1"])
def test_only_loopback_is_served(host: str) -> None:
    with pytest.raises(ValueError, match=r"loopback|IPv4|IP address"):
        EmulatorServer(host=host)


def test_counters_count_every_request(client: Any, emulator: EmulatorServer, org_id: str) -> None:
    emulator.state.reset_counters()
    client.list_mailbox_export_jobs(OrganizationId=org_id)
    with pytest.raises(client.exceptions.EntityNotFoundException):
        client.describe_mailbox_export_job(OrganizationId=org_id, JobId="nope")
    client.describe_mailbox_export_job(
        OrganizationId=org_id, JobId=emulator.state.jobs(org_id)[0].job_id
    )
    assert dict(emulator.state.counters) == {
        "ListMailboxExportJobs": 1,
        "DescribeMailboxExportJob": 2,
    }


def test_concurrent_starts_never_exceed_the_cap(
    client: Any, emulator: EmulatorServer, org_id: str
) -> None:
    state = emulator.state
    names = [f"load{i:02d}" for i in range(20)]
    for name in names:
        state.add_mailbox(org_id, name)
    results: list[str] = []
    lock = threading.Lock()

    def start(name: str) -> None:
        try:
            client.start_mailbox_export_job(**start_params(org_id, name))
            outcome = "started"
        except client.exceptions.LimitExceededException:
            outcome = "limited"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=start, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["limited"] * 11 + ["started"] * 9
    assert state.max_running_seen(org_id) == 10


# ------------------------------------------------------------------------ the demo and the clock


def test_demo_organization_looks_lived_in() -> None:
    clock = EmulatorClock(manual=True)
    state = build_demo_state(clock=clock)
    (org_id,) = state.organization_ids
    assert state.organization(org_id).region == DEMO_REGION
    mailboxes = state.mailboxes(org_id)
    assert len(mailboxes) == 200
    assert any(m.is_resource for m in mailboxes)
    assert len({m.name for m in mailboxes}) == 200
    jobs = state.jobs(org_id)
    by_state = [j.state for j in jobs]
    assert len(jobs) == 40
    assert by_state.count("RUNNING") == 8
    assert by_state.count("FAILED") == by_state.count("CANCELLED") == 1
    failed = next(j for j in jobs if j.state == "FAILED")
    assert failed.error_info and "Access Denied" in failed.error_info
    keys = demo_job_keys(state)
    assert len(keys) == 40 and all(isinstance(k, JobKey) for k in keys)
    assert {k.organization_id for k in keys} == {org_id}
    # Every running job finishes within a quarter of an hour of emulated time.
    clock.advance(timedelta(minutes=15))
    assert state.running_count(org_id) == 0


def test_demo_is_the_same_for_the_same_seed() -> None:
    def snapshot(state: EmulatorState) -> list[tuple[str, str, str]]:
        org_id = state.organization_ids[0]
        return [(org_id, j.job_id, j.entity_id) for j in state.jobs(org_id)]

    first = snapshot(build_demo_state(clock=EmulatorClock(manual=True), seed=3))
    assert first == snapshot(build_demo_state(clock=EmulatorClock(manual=True), seed=3))
    assert first != snapshot(build_demo_state(clock=EmulatorClock(manual=True), seed=4))


def test_demo_answers_in_shape_over_the_wire(aws_credentials: None) -> None:
    state = build_demo_state(clock=EmulatorClock(manual=True))
    org_id = state.organization_ids[0]
    with EmulatorServer(state) as server:
        client = make_client(server.endpoint_url)
        checker = ShapeChecker()
        client.meta.events.register("after-call.workmail", checker)
        jobs = client.list_mailbox_export_jobs(OrganizationId=org_id)["Jobs"]
        assert len(jobs) == 39  # the nine-day-old one is only found by Describe
        for key in demo_job_keys(state):
            client.describe_mailbox_export_job(OrganizationId=org_id, JobId=key.job_id)
        users = client.list_users(OrganizationId=org_id, MaxResults=100)
        client.list_users(OrganizationId=org_id, NextToken=users["NextToken"])
        for resource in client.list_resources(OrganizationId=org_id)["Resources"]:
            client.describe_resource(OrganizationId=org_id, ResourceId=resource["Id"])
        assert checker.problems == []
        assert len(checker.checked) == 49
        assert server.internal_errors == []


def test_clock_speed_and_manual_mode() -> None:
    ticks = [100.0]
    clock = EmulatorClock(speed=60, monotonic=lambda: ticks[0])
    start = clock.now()
    ticks[0] += 1
    assert clock.now() - start == timedelta(minutes=1)
    clock.set_speed(1)
    ticks[0] += 1
    assert clock.now() - start == timedelta(minutes=1, seconds=1)
    manual = EmulatorClock(manual=True)
    frozen = manual.now()
    assert manual.now() == frozen
    assert manual.advance(30) - frozen == timedelta(seconds=30)


def test_output_checker_catches_what_the_service_would_never_send() -> None:
    assert model.output_problems("DescribeMailboxExportJob", {"State": "RUNNING"}) == []
    problems = model.output_problems(
        "DescribeMailboxExportJob",
        {"State": "PAUSED", "JobId": "x", "EstimatedProgress": 101, "StartTime": "yesterday"},
    )
    assert len(problems) == 4


def test_inject_refuses_what_it_does_not_know(emulator: EmulatorServer) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        emulator.inject(None, "slow")
    with pytest.raises(ValueError, match="unknown operation"):
        emulator.inject("DeleteOrganization", "throttle")
