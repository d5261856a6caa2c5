"""Verification against an S3 we did not write: moto's server, with a KMS key from moto's KMS.

botocore finds moto through AWS_ENDPOINT_URL_S3 / _KMS, as it would any other endpoint: no
wmtui flag points it there. Access denied and throttling, which moto does not do, are covered
with botocore's Stubber at the end.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from wmtui.aws.s3 import Boto3ExportObjects
from wmtui.cli import main
from wmtui.core.cache import JobCache
from wmtui.core.locations import jobs_cache_path, watchlist_path
from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.core.settings import load_settings
from wmtui.core.verification import Outcome
from wmtui.core.watchlist import WatchList

REGION = "us-east-1"
ORG = "m-" + "b" * 32
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto(moto_url: str, monkeypatch: pytest.MonkeyPatch, aws_credentials: None) -> str:
    for service in ("S3", "KMS"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", moto_url)
    # moto has no WorkMail: mailbox sizes meet a closed port on loopback (a warning).
    monkeypatch.setenv("AWS_ENDPOINT_URL_WORKMAIL", "http://127.0.0.1:9")
    return moto_url


class World:
    """A bucket, two KMS keys and jobs whose exports we place (or not) in the bucket."""

    def __init__(self) -> None:
        import boto3

        self.s3 = boto3.client("s3", region_name=REGION)
        kms = boto3.client("kms", region_name=REGION)
        self.key = kms.create_key()["KeyMetadata"]["Arn"]
        self.other_key = kms.create_key()["KeyMetadata"]["Arn"]
        self.bucket = f"exports-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=self.bucket)

    def job(self, job_id: str, **changes: Any) -> ExportJob:
        job = ExportJob(
            key=JobKey(REGION, ORG, job_id),
            state=JobState.COMPLETED,
            entity_id=f"user-{job_id}",
            kms_key_arn=self.key,
            s3_bucket_name=self.bucket,
            s3_path=f"{self.bucket}/wm/{job_id}.zip",
            last_seen=NOW,
            described=True,
        )
        return replace(job, **changes)

    def put(self, job: ExportJob, body: bytes, **extra: Any) -> None:
        key = (job.s3_path or "").split("/", 1)[1]
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)

    def put_kms(self, job: ExportJob, body: bytes, key_arn: str) -> None:
        self.put(job, body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)


@pytest.fixture
def world(moto: str) -> World:
    return World()


def objects() -> Boto3ExportObjects:
    return Boto3ExportObjects(region=REGION, max_attempts=1)


def test_each_outcome_against_moto(world: World) -> None:
    verified, missing, empty, wrong, plain = (world.job(n) for n in ("v", "m", "e", "w", "p"))
    world.put_kms(verified, b"PK\x03\x04" + b"x" * 2000, world.key)
    world.put_kms(empty, b"", world.key)
    world.put_kms(wrong, b"zipdata", world.other_key)
    world.put(plain, b"zipdata")
    results = objects().check_many([verified, missing, empty, wrong, plain])
    outcomes = {key.job_id: result.outcome for key, result in results.items()}
    assert outcomes == {
        "v": Outcome.VERIFIED,
        "m": Outcome.MISSING,
        "e": Outcome.EMPTY,
        "w": Outcome.WRONG_KEY,
        "p": Outcome.WRONG_KEY,
    }
    good = results[verified.key]
    assert good.object_size == 2004 and good.etag and good.kms_key == world.key
    assert good.last_modified is not None
    assert world.other_key in (results[wrong.key].error or "")
    assert "not SSE-KMS" in (results[plain.key].error or "")


def test_a_missing_bucket_is_a_missing_export(world: World) -> None:
    job = world.job("nb", s3_bucket_name="no-such-bucket-here", s3_path="wm/x.zip")
    assert objects().check(job).outcome is Outcome.MISSING


def test_jobs_not_completed_are_never_checked(world: World) -> None:
    running = world.job("r", state=JobState.RUNNING)
    assert objects().check_many([running]) == {}


def _watch(jobs: list[ExportJob]) -> None:
    settings = load_settings({"region": REGION})
    watchlist = WatchList(watchlist_path(settings.config_dir))
    watchlist.remove(watchlist.load())
    watchlist.add([job.key for job in jobs])
    cache = JobCache(jobs_cache_path(settings.cache_dir))
    cache.save({job.key: job for job in jobs})


def test_verify_json_and_exit_codes(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    good = world.job("good")
    world.put_kms(good, b"z" * 100, world.key)
    _watch([good, world.job("failed", state=JobState.FAILED)])
    assert main(["verify", "--all", "--json", "--region", REGION]) == 0
    out, err = capsys.readouterr()
    records = json.loads(out)
    assert [record["JobId"] for record in records] == ["good"]
    record = records[0]
    assert record["verification"] == "VERIFIED"
    assert record["OrganizationId"] == ORG and record["Region"] == REGION
    assert record["S3Path"] == good.s3_path
    assert record["object_size"] == 100 and record["kms_key"] == world.key
    assert record["etag"] and record["checked_at"] and record["error"] is None
    assert "1 not COMPLETED" in err
    # The result is kept with the job: `list` and the app show it without a call.
    cached = JobCache(jobs_cache_path(load_settings({}).cache_dir)).load()
    assert cached[good.key].verification is not None

    missing = world.job("gone")
    _watch([good, missing])
    assert main(["verify", ORG, "--region", REGION]) == 1
    out, _ = capsys.readouterr()
    assert "MISSING" in out and "VERIFIED" in out


def test_verify_needs_organizations_or_all(moto: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--region", REGION]) == 252
    assert main(["verify", "m-bad", "--region", REGION]) == 252
    capsys.readouterr()


# ---- what moto does not do: access denied and throttling, with botocore's Stubber --------------


def _stubbed(code: str, status: int, times: int) -> tuple[Boto3ExportObjects, Any]:
    from botocore.stub import Stubber

    store = Boto3ExportObjects(region=REGION, max_attempts=times)
    client = store._s3(REGION)
    stubber = Stubber(client)
    for _ in range(times):
        stubber.add_client_error("head_object", service_error_code=code, http_status_code=status)
    stubber.activate()
    return store, stubber


def test_access_denied_is_forbidden_with_the_permission_to_add(aws_credentials: None) -> None:
    store, stubber = _stubbed("403", 403, 1)
    result = store.check(
        ExportJob(
            key=JobKey(REGION, ORG, "d"),
            state=JobState.COMPLETED,
            kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
            s3_bucket_name="b1",
            s3_path="wm/d.zip",
        )
    )
    assert result.outcome is Outcome.FORBIDDEN
    assert "s3:GetObject" in (result.error or "") and "arn:aws:s3:::b1/wm/d.zip" in (
        result.error or ""
    )
    stubber.assert_no_pending_responses()


def test_throttling_is_an_error_saying_so(aws_credentials: None) -> None:
    store, _ = _stubbed("SlowDown", 503, 1)
    result = store.check(
        ExportJob(
            key=JobKey(REGION, ORG, "t"),
            state=JobState.COMPLETED,
            kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
            s3_bucket_name="b1",
            s3_path="wm/t.zip",
        )
    )
    assert result.outcome is Outcome.ERROR
    assert "throttl" in (result.error or "").lower()


def test_a_job_given_a_key_alias_is_compared_with_the_aliased_key(world: World) -> None:
    import boto3

    kms = boto3.client("kms", region_name=REGION)
    alias = f"alias/wm-export-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=world.key)
    alias_arn = world.key.split(":key/")[0] + ":" + alias
    aliased = world.job("al", kms_key_arn=alias_arn)
    world.put_kms(aliased, b"zip" * 10, world.key)
    assert objects().check(aliased).outcome is Outcome.VERIFIED
    other = world.job("al2", kms_key_arn=alias_arn)
    world.put_kms(other, b"zip" * 10, world.other_key)
    assert objects().check(other).outcome is Outcome.WRONG_KEY
