"""Narrow units of Boto3ExportService: answers mapped, inputs checked before sending.

botocore's Stubber stands in for the wire here; tests/test_aws_emulator.py crosses it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from wmtui.aws.service import Boto3ExportService
from wmtui.core.models import JobKey, JobState, StartRequest
from wmtui.core.service import ErrorKind, ServiceError

ORG = "m-" + "0123456789abcdef" * 2
JOB = "a1b2c3d4-job"
KEY = JobKey("us-east-1", ORG, JOB)
# A closed loopback port: should anything slip past the Stubber it fails here, never outside.
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture
def service(aws_credentials: None) -> Boto3ExportService:
    return Boto3ExportService(region="us-east-1", endpoint_url=NOWHERE, max_attempts=1)


@pytest.fixture
def stub(service: Boto3ExportService) -> Iterator[Stubber]:
    client, _ = service._client_for("us-east-1")
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def start_request(**overrides: Any) -> StartRequest:
    fields: dict[str, Any] = {
        "entity_id": "alice@example.com",
        "s3_bucket_name": "wm-export",
        "s3_prefix": "exports/2026",
        "role_arn": "arn:aws:iam::123456789012:role/WorkMailExport",
        "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/abcd-1234",
        "description": "migration",
    }
    fields.update(overrides)
    return StartRequest(**fields)


def test_importing_and_building_the_service_loads_no_boto3() -> None:
    code = (
        "import sys\n"
        "from wmtui.aws.service import Boto3ExportService\n"
        "s = Boto3ExportService(region='us-east-1', endpoint_url='http://127.0.0.1:9')\n"
        "s.target\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_describe_maps_every_field_to_utc(service: Boto3ExportService, stub: Stubber) -> None:
    plus_two = timezone(timedelta(hours=2))
    stub.add_response(
        "describe_mailbox_export_job",
        {
            "EntityId": "a1b2c3d4e5f6",
            "Description": "alice",
            "RoleArn": "arn:aws:iam::123456789012:role/R",
            "KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k",
            "S3BucketName": "wm-export",
            "S3Prefix": "exports",
            "S3Path": "wm-export/exports/a1b2.zip",
            "EstimatedProgress": 100,
            "State": "FAILED",
            "ErrorInfo": "the role could not be assumed",
            "StartTime": datetime(2026, 3, 1, 12, 0, tzinfo=plus_two),
            "EndTime": datetime(2026, 3, 1, 13, 0, tzinfo=plus_two),
        },
        {"JobId": JOB, "OrganizationId": ORG},
    )
    before = datetime.now(UTC)
    job = service.describe_job(KEY)
    assert job.key == KEY
    assert job.described is True
    assert job.state is JobState.FAILED and job.raw_state == "FAILED"
    assert job.error_info == "the role could not be assumed"
    assert job.start_time == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert job.start_time is not None and job.start_time.utcoffset() == timedelta(0)
    assert job.end_time == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert job.estimated_progress == 100
    assert job.role_arn and job.kms_key_arn and job.s3_prefix == "exports"
    assert job.s3_uri == "s3://wm-export/exports/a1b2.zip"
    assert job.last_seen is not None and job.last_seen >= before


def test_describe_survives_missing_and_odd_values(
    service: Boto3ExportService, stub: Stubber
) -> None:
    stub.add_response(
        "describe_mailbox_export_job",
        {"State": "PAUSED", "EstimatedProgress": 250},
        {"JobId": JOB, "OrganizationId": ORG},
    )
    job = service.describe_job(KEY)
    assert job.state is JobState.UNKNOWN
    assert job.raw_state == "PAUSED"
    assert job.estimated_progress == 250 and job.progress == 100
    assert job.s3_path is None and job.end_time is None and job.start_time is None
    assert job.entity_id is None and job.s3_uri is None


def test_list_pages_on_next_token_and_marks_jobs_undescribed(
    service: Boto3ExportService, stub: Stubber
) -> None:
    stub.add_response(
        "list_mailbox_export_jobs",
        {
            "Jobs": [{"JobId": "job-1", "State": "RUNNING", "EstimatedProgress": 5}],
            "NextToken": "t1",
        },
        {"OrganizationId": ORG, "MaxResults": 100},
    )
    stub.add_response(
        "list_mailbox_export_jobs",
        {"Jobs": [{"JobId": "job-2", "State": "COMPLETED"}, {"State": "RUNNING"}]},
        {"OrganizationId": ORG, "MaxResults": 100, "NextToken": "t1"},
    )
    jobs = service.list_jobs("us-east-1", ORG)
    assert [j.job_id for j in jobs] == ["job-1", "job-2"]  # an entry without JobId is dropped
    assert all(not j.described for j in jobs)
    assert jobs[0].key == JobKey("us-east-1", ORG, "job-1")
    assert jobs[1].state is JobState.COMPLETED


def test_list_stops_when_a_next_token_comes_back(
    service: Boto3ExportService, stub: Stubber
) -> None:
    for token in ("a", "b", "a"):
        stub.add_response("list_mailbox_export_jobs", {"Jobs": [], "NextToken": token})
    with pytest.raises(ServiceError) as caught:
        service.list_jobs("us-east-1", ORG)
    assert caught.value.kind is ErrorKind.OTHER
    assert "NextToken" in caught.value.message


def test_list_stops_after_the_page_bound(aws_credentials: None) -> None:
    service = Boto3ExportService(region="us-east-1", endpoint_url=NOWHERE, max_list_pages=3)
    client, _ = service._client_for("us-east-1")
    with Stubber(client) as stub:
        for n in range(3):
            stub.add_response("list_mailbox_export_jobs", {"Jobs": [], "NextToken": f"t{n}"})
        with pytest.raises(ServiceError, match="never ended after 3 pages"):
            service.list_jobs("us-east-1", ORG)
        stub.assert_no_pending_responses()


def test_start_sends_a_client_token_and_returns_the_key(
    service: Boto3ExportService, stub: Stubber
) -> None:
    request = start_request()
    stub.add_response(
        "start_mailbox_export_job",
        {"JobId": "new-job-1"},
        {
            "ClientToken": ANY,
            "OrganizationId": ORG,
            "EntityId": "alice@example.com",
            "Description": "migration",
            "RoleArn": request.role_arn,
            "KmsKeyArn": request.kms_key_arn,
            "S3BucketName": "wm-export",
            "S3Prefix": "exports/2026",
        },
    )
    stub.add_response(
        "start_mailbox_export_job",
        {"JobId": "new-job-1"},
        {
            "ClientToken": "same-token",
            "OrganizationId": ORG,
            "EntityId": "alice@example.com",
            "RoleArn": request.role_arn,
            "KmsKeyArn": request.kms_key_arn,
            "S3BucketName": "wm-export",
            "S3Prefix": "exports/2026",
        },
    )
    assert service.start_job("us-east-1", ORG, request) == JobKey("us-east-1", ORG, "new-job-1")
    again = start_request(client_token="same-token", description="")
    assert service.start_job("us-east-1", ORG, again).job_id == "new-job-1"


def test_cancel_sends_the_given_client_token(service: Boto3ExportService, stub: Stubber) -> None:
    stub.add_response(
        "cancel_mailbox_export_job",
        {},
        {"ClientToken": "tok-1", "JobId": JOB, "OrganizationId": ORG},
    )
    service.cancel_job(KEY, client_token="tok-1")


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda s: s.describe_job(JobKey("us-east-1", ORG, "../../x y")), "job ID"),
        (lambda s: s.describe_job(JobKey("us-east-1", ORG, "x" * 64)), "at most 63"),
        (lambda s: s.describe_job(JobKey("us-east-1", ORG, "")), "(empty)"),
        (lambda s: s.describe_job(JobKey("us-east-1", ORG.upper(), JOB)), "organization ID"),
        (lambda s: s.list_jobs("us-east-1", "m-123"), "34 characters"),
        (lambda s: s.cancel_job(JobKey("us-east-1", ORG, "a\nb")), "job ID"),
        (lambda s: s.cancel_job(KEY, client_token="has space"), "client token"),
        (lambda s: s.start_job("us-east-1", ORG, start_request(entity_id="a b")), "mailbox"),
        (lambda s: s.start_job("us-east-1", ORG, start_request(s3_bucket_name="")), "S3 bucket"),
        (lambda s: s.start_job("us-east-1", ORG, start_request(s3_prefix="a b")), "S3 prefix"),
        (lambda s: s.start_job("us-east-1", ORG, start_request(role_arn="arn:x")), "role ARN"),
        (
            lambda s: s.start_job(
                "us-east-1", ORG, start_request(kms_key_arn="arn:aws:iam::123456789012:role/R")
            ),
            "KMS key ARN",
        ),
        (lambda s: s.start_job("us-east-1", ORG, start_request(description="d" * 1024)), "1023"),
        (lambda s: s.describe_mailbox("us-east-1", ORG, "bob smith"), "mailbox"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    service: Boto3ExportService, stub: Stubber, call: Any, needle: str
) -> None:
    with pytest.raises(ServiceError) as caught:
        call(service)
    assert caught.value.kind is ErrorKind.INVALID_PARAMETER
    assert needle in caught.value.message


def test_unknown_region_is_refused_naming_the_workmail_regions(aws_credentials: None) -> None:
    service = Boto3ExportService()
    with pytest.raises(ServiceError) as caught:
        service.describe_job(JobKey("ap-south-1", ORG, JOB))
    assert caught.value.kind is ErrorKind.INVALID_PARAMETER
    assert "ap-south-1" in caught.value.message
    for region in ("us-east-1", "us-west-2", "eu-west-1"):
        assert region in caught.value.message


def test_any_well_formed_region_goes_with_an_endpoint_url(aws_credentials: None) -> None:
    service = Boto3ExportService(endpoint_url=NOWHERE)
    client, _ = service._client_for("ap-south-1")
    with Stubber(client) as stub:
        stub.add_response("list_mailbox_export_jobs", {"Jobs": []})
        assert service.list_jobs("ap-south-1", ORG) == []


def test_no_region_anywhere_is_no_region() -> None:
    service = Boto3ExportService(endpoint_url=NOWHERE)
    assert service.default_region is None
    with pytest.raises(ServiceError) as caught:
        service.list_organizations("")
    assert caught.value.kind is ErrorKind.NO_REGION
    assert "--region" in caught.value.fix


def test_default_region_comes_from_the_profile(isolated_env: Any) -> None:
    (isolated_env / "aws-config").write_text("[profile eu]\nregion = eu-west-1\n")
    assert Boto3ExportService(profile="eu").default_region == "eu-west-1"
    assert Boto3ExportService(profile="eu", region="us-west-2").default_region == "us-west-2"


def test_one_client_per_region_shared_by_threads(aws_credentials: None) -> None:
    from concurrent.futures import ThreadPoolExecutor

    service = Boto3ExportService(endpoint_url=NOWHERE)
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda r: service._client_for(r)[0], ["us-east-1"] * 16))
    assert len({id(c) for c in clients}) == 1
    assert service._client_for("eu-west-1")[0] is not clients[0]
    config: Any = clients[0].meta.config  # botocore's stubs do not list Config's fields
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert config.connect_timeout == 5.0 and config.read_timeout == 10.0
    assert config.max_pool_connections == 16
    assert clients[0].meta.endpoint_url == NOWHERE


def test_describe_mailbox_falls_back_to_resources(
    service: Boto3ExportService, stub: Stubber
) -> None:
    stub.add_client_error(
        "describe_user",
        service_error_code="EntityNotFoundException",
        http_status_code=400,
        expected_params={"OrganizationId": ORG, "UserId": "room-1"},
    )
    stub.add_response(
        "describe_resource",
        {"ResourceId": "r-" + "0" * 32, "Name": "room-1", "Type": "ROOM", "State": "ENABLED"},
        {"OrganizationId": ORG, "ResourceId": "room-1"},
    )
    mailbox = service.describe_mailbox("us-east-1", ORG, "room-1")
    assert mailbox.kind == "RESOURCE"
    assert mailbox.entity_id == "r-" + "0" * 32
    assert mailbox.label == "room-1"


def test_target_names_profile_region_and_endpoint_never_keys() -> None:
    service = Boto3ExportService(
        profile="ops", region="eu-west-1", endpoint_url="http://user:pw@127.0.0.1:8080/"
    )
    assert service.target == "profile ops · region eu-west-1 · endpoint http://127.0.0.1:8080/"
    demo = Boto3ExportService(region="us-east-1", credentials=("AKIDSECRETKEY", "sssecret"))
    assert "AKIDSECRETKEY" not in demo.target and "sssecret" not in demo.target
    assert "static keys" in demo.target
    real = Boto3ExportService(region="us-west-2")
    assert (
        real.target
        == "profile default · region us-west-2 · https://workmail.us-west-2.amazonaws.com"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain ascii", "plain ascii"),
        ("Chloé Dubois", "Chloé Dubois"),
        ("bad \ud800 text", "bad \\ud800 text"),
        (42, "42"),
        (None, None),
        ("x" * 5000, "x" * 4095 + "…"),
        ("é" * 5000, "é" * 4095 + "…"),
    ],
    ids=["ascii", "non-ascii", "lone-surrogate", "number", "none", "long-ascii", "long-non-ascii"],
)
def test_fields_read_from_answers_are_escaped_and_capped(value: object, expected: str) -> None:
    """The fast path for short ASCII fields gives what the general one gives."""
    from wmtui.aws.answers import FIELD_LIMIT, read_text

    assert FIELD_LIMIT == 4096
    assert read_text(value) == expected


def test_job_records_read_states_and_utc_times() -> None:
    """Known and unknown states, times in UTC, the read time given for a whole page."""
    from wmtui.aws.answers import job_from

    key = JobKey("us-east-1", ORG, "job-1")
    seen = datetime(2026, 1, 2, tzinfo=UTC)
    started = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    job = job_from(key, {"State": "FAILED", "StartTime": started}, described=False, seen=seen)
    assert (job.state, job.raw_state, job.last_seen) == (JobState.FAILED, "FAILED", seen)
    assert job.start_time == started and job.start_time.tzinfo is UTC
    odd = job_from(key, {"State": "PAUSED"}, described=True)
    assert (odd.state, odd.raw_state) == (JobState.UNKNOWN, "PAUSED")
    assert odd.last_seen is not None and odd.last_seen.tzinfo is UTC
