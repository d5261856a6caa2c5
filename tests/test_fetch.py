"""`wmtui fetch`: the transfer manager's download, resumed after a reset, checked, never
overwriting; against the emulator (WorkMail and S3) and against moto's S3."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wmtui.cli import main
from wmtui.emulator.demo import build_small_state
from wmtui.emulator.s3 import S3Server
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatedJob, EmulatorState

REGION = "us-east-1"
SIZE = 20 * 1024 * 1024 + 12345  # three parts for the transfer manager


class World:
    def __init__(self, state: EmulatorState, server: EmulatorServer, s3: S3Server) -> None:
        self.state, self.server, self.s3 = state, server, s3
        org = state.organization_ids[0]
        self.org = org
        self.job: EmulatedJob = next(j for j in state.jobs(org) if j.state == "COMPLETED")
        self.body = os.urandom(SIZE)
        self.client().put_object(
            Bucket=self.job.s3_bucket_name,
            Key=self.job.s3_path,
            Body=self.body,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=self.job.kms_key_arn,
        )

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", region_name=REGION, endpoint_url=self.s3.endpoint_url)

    def fetch(self, folder: Path, *extra: str) -> int:
        return main(
            [
                "--endpoint-url",
                self.server.endpoint_url,
                "--region",
                REGION,
                "fetch",
                self.org,
                self.job.job_id,
                "-o",
                str(folder),
                *extra,
            ]
        )


@pytest.fixture
def world(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    state = build_small_state()
    with EmulatorServer(state) as server:
        s3 = S3Server(state).start()
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint_url)
        monkeypatch.setenv("WMTUI_MAX_ATTEMPTS", "1")
        try:
            yield World(state, server, s3)
        finally:
            s3.stop()


def test_fetch_downloads_checks_and_never_overwrites(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.fetch(tmp_path) == 0
    target = tmp_path / f"{world.job.job_id}.zip"
    assert target.read_bytes() == world.body
    assert not list(tmp_path.glob("*.part*"))
    # Again: the complete file is there, and stays as it is.
    before = target.stat().st_mtime_ns
    assert world.fetch(tmp_path) == 0
    assert "already there" in capsys.readouterr().err
    assert target.stat().st_mtime_ns == before
    # A different file by that name is never replaced.
    target.write_bytes(b"someone else's")
    assert world.fetch(tmp_path) == 255
    assert "never overwritten" in capsys.readouterr().err
    assert target.read_bytes() == b"someone else's"


def test_a_reset_mid_download_leaves_a_good_part_that_the_next_run_continues(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.s3.inject("reset", count=1000)
    assert world.fetch(tmp_path) != 0
    part = tmp_path / f"{world.job.job_id}.zip.part"
    kept = part.read_bytes() if part.exists() else b""
    # Only bytes known to be good: a true start of the object.
    assert world.body.startswith(kept)
    assert not (tmp_path / f"{world.job.job_id}.zip").exists()
    world.s3._faults.clear()
    assert world.fetch(tmp_path) == 0
    assert (tmp_path / f"{world.job.job_id}.zip").read_bytes() == world.body
    assert not part.exists()
    capsys.readouterr()


def test_a_part_from_an_earlier_run_is_continued_with_a_range(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    etag = world.client().head_object(Bucket=world.job.s3_bucket_name, Key=world.job.s3_path)[
        "ETag"
    ]
    part = tmp_path / f"{world.job.job_id}.zip.part"
    part.write_bytes(world.body[: 5 * 1024 * 1024])
    (tmp_path / f"{world.job.job_id}.zip.part.etag").write_text(etag)
    assert world.fetch(tmp_path) == 0
    assert "continued from 5.0 MB" in capsys.readouterr().err
    assert (tmp_path / f"{world.job.job_id}.zip").read_bytes() == world.body


def test_a_part_of_another_object_is_started_over(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    part = tmp_path / f"{world.job.job_id}.zip.part"
    part.write_bytes(b"x" * 1000)
    (tmp_path / f"{world.job.job_id}.zip.part.etag").write_text('"not-this-one"')
    assert world.fetch(tmp_path) == 0
    assert (tmp_path / f"{world.job.job_id}.zip").read_bytes() == world.body
    capsys.readouterr()


def test_a_missing_export_is_exit_1(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.client().delete_object(Bucket=world.job.s3_bucket_name, Key=world.job.s3_path)
    assert world.fetch(tmp_path) == 1
    assert "missing" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_access_denied_names_the_permissions(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.s3.inject("access-denied")
    assert world.fetch(tmp_path) == 254
    assert "s3:GetObject" in capsys.readouterr().err


def test_fetch_against_moto_resumes_a_part(
    tmp_path: Path, aws_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    from wmtui.aws.s3 import Boto3ExportObjects
    from wmtui.core.models import ExportJob, JobKey, JobState

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://{host}:{port}")
        monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", f"http://{host}:{port}")
        key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="fetch-moto")
        body = os.urandom(SIZE)
        s3.put_object(
            Bucket="fetch-moto",
            Key="wm/j-1.zip",
            Body=body,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key_arn,
        )
        job = ExportJob(
            key=JobKey(REGION, "m-" + "c" * 32, "j-1"),
            state=JobState.COMPLETED,
            kms_key_arn=key_arn,
            s3_bucket_name="fetch-moto",
            s3_path="wm/j-1.zip",
        )
        store = Boto3ExportObjects(region=REGION)
        facts = store.head_object(job)
        assert facts is not None
        (tmp_path / "j-1.zip.part").write_bytes(body[:3_000_000])
        (tmp_path / "j-1.zip.part.etag").write_text(facts.etag or "")
        result = store.download(job, tmp_path, facts)
        assert result.resumed_from == 3_000_000
        assert (tmp_path / "j-1.zip").read_bytes() == body
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        assert store.download(job, fresh, facts).resumed_from == 0
        assert (fresh / "j-1.zip").read_bytes() == body
    finally:
        server.stop()


def test_all_verified_fetches_only_what_verify_proved(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--endpoint-url", world.server.endpoint_url, "--region", REGION]
    jobs = world.state.jobs(world.org)
    assert main([*where, "add", world.org, *(job.job_id for job in jobs)]) == 0
    # Nothing verified yet: nothing to fetch, and it says what to run.
    assert main([*where, "fetch", world.org, "--all-verified", "-o", str(tmp_path)]) == 0
    assert "wmtui verify" in capsys.readouterr().err
    assert main([*where, "verify", world.org]) == 0
    capsys.readouterr()
    assert main([*where, "fetch", world.org, "--all-verified", "-o", str(tmp_path)]) == 0
    fetched = sorted(path.name for path in tmp_path.iterdir())
    assert fetched == [f"{world.job.job_id}.zip"]
    assert (tmp_path / fetched[0]).read_bytes() == world.body
    capsys.readouterr()


def test_a_full_disk_keeps_the_good_part_and_the_next_run_continues(
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import errno

    from wmtui.aws import download

    real_write = download._GoodPrefix.write

    def full_after_6_mb(self: Any, data: bytes) -> int:
        if self.tell() + len(data) > 6 * 1024 * 1024:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(download._GoodPrefix, "write", full_after_6_mb)
    assert world.fetch(tmp_path) == 255
    assert "No space left on device" in capsys.readouterr().err
    part = tmp_path / f"{world.job.job_id}.zip.part"
    kept = part.read_bytes()
    assert world.body.startswith(kept) and len(kept) <= 6 * 1024 * 1024
    monkeypatch.setattr(download._GoodPrefix, "write", real_write)
    assert world.fetch(tmp_path) == 0
    assert (tmp_path / f"{world.job.job_id}.zip").read_bytes() == world.body
    capsys.readouterr()


def test_the_progress_line_shows_percent_rate_and_eta(capsys: pytest.CaptureFixture[str]) -> None:
    from wmtui.cli.fetch import _ProgressBar

    bar = _ProgressBar("job-1")
    bar.enabled = True  # as on a terminal
    bar.started -= 2.0  # two seconds in
    bar(0, 100 * 1024 * 1024)
    bar.last_drawn = 0.0
    bar(50 * 1024 * 1024, 100 * 1024 * 1024)
    bar.end()
    line = capsys.readouterr().err.split("\r")[-1]
    assert "job-1:  50%" in line and "50.0 MB of 100.0 MB" in line
    assert "MB/s" in line and "ETA" in line
