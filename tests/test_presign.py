"""Presigned download URLs: signed on this machine, never a request to anyone.

The service's `presign_url` is checked with every socket connection and name lookup made to
fail, and with the WorkMail endpoint pointed at a closed loopback port: the URL still comes
back. `wmtui presign` gets the job (from the cache when its final state is known, else one
Describe) and prints the URL for scripts.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from wmtui.aws.service import Boto3ExportService
from wmtui.cli import main
from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.core.settings import load_settings
from wmtui.emulator.server import EmulatorServer

ORG = "m-0123456789abcdef0123456789abcdef"
CLOSED_PORT = "http://127.0.0.1:9"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every connection or name lookup fails the test (and is recorded)."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise AssertionError(f"a network call was made: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def completed(
    bucket: str = "wm-export", path: str = "exports/2027/job-1.zip", region: str = "us-east-1"
) -> ExportJob:
    return ExportJob(
        key=JobKey(region, ORG, "job-1"),
        state=JobState.COMPLETED,
        s3_bucket_name=bucket,
        s3_path=path,
    )


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_the_url_is_signed_here_and_nothing_is_contacted(
    aws_credentials: None, no_network: list[Any]
) -> None:
    service = Boto3ExportService(region="us-east-1", endpoint_url=CLOSED_PORT)
    url = service.presign_url(completed(), 900)
    parts = urlsplit(url)
    assert parts.scheme == "https"
    assert parts.hostname == "wm-export.s3.us-east-1.amazonaws.com"
    assert parts.path == "/exports/2027/job-1.zip"
    signed = query(url)
    assert signed["X-Amz-Expires"] == "900"
    assert signed["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert "/us-east-1/s3/aws4_request" in signed["X-Amz-Credential"]
    assert len(signed["X-Amz-Signature"]) == 64
    assert no_network == []


def test_an_s3_path_that_starts_with_the_bucket_is_not_doubled(
    aws_credentials: None, no_network: list[Any]
) -> None:
    service = Boto3ExportService(region="eu-west-1", endpoint_url=CLOSED_PORT)
    url = service.presign_url(completed(path="wm-export/exports/job-1.zip", region="eu-west-1"), 60)
    parts = urlsplit(url)
    assert parts.hostname == "wm-export.s3.eu-west-1.amazonaws.com"
    assert parts.path == "/exports/job-1.zip"


def test_a_dotted_bucket_uses_path_style_so_tls_still_matches(
    aws_credentials: None, no_network: list[Any]
) -> None:
    service = Boto3ExportService(region="us-east-1")
    url = service.presign_url(completed(bucket="corp.mail.archive"), 60)
    parts = urlsplit(url)
    assert parts.hostname == "s3.us-east-1.amazonaws.com"
    assert parts.path == "/corp.mail.archive/exports/2027/job-1.zip"


@pytest.mark.parametrize(
    ("job", "seconds", "needle"),
    [
        (ExportJob(key=JobKey("us-east-1", ORG, "job-1"), s3_bucket_name="b"), 60, "no S3 path"),
        (completed(path="exports/\x1b[2J.zip"), 60, "no S3 path"),
        (completed(), 0, "0 seconds"),
        (completed(), 7 * 24 * 3600 + 1, "seven days"),
    ],
)
def test_what_cannot_be_presigned_is_an_invalid_parameter(
    aws_credentials: None, no_network: list[Any], job: ExportJob, seconds: int, needle: str
) -> None:
    service = Boto3ExportService(region="us-east-1", endpoint_url=CLOSED_PORT)
    with pytest.raises(ServiceError) as caught:
        service.presign_url(job, seconds)
    assert caught.value.kind is ErrorKind.INVALID_PARAMETER
    assert needle in str(caught.value)


def test_without_credentials_it_says_so(no_network: list[Any]) -> None:
    service = Boto3ExportService(region="us-east-1", endpoint_url=CLOSED_PORT)
    with pytest.raises(ServiceError) as caught:
        service.presign_url(completed(), 60)
    assert caught.value.kind is ErrorKind.NO_CREDENTIALS
    assert caught.value.exit_code == 253


def test_presigning_an_emulated_job_sends_the_emulator_nothing(
    emulator: EmulatorServer, emulator_service: Boto3ExportService
) -> None:
    org = emulator.state.organization_ids[0]
    bob_job = next(job for job in emulator.state.jobs(org) if job.state == "COMPLETED")
    job = emulator_service.describe_job(JobKey("us-east-1", org, bob_job.job_id))
    emulator.state.reset_counters()
    url = emulator_service.presign_url(job, 3600)
    assert urlsplit(url).path == f"/{bob_job.s3_path}"
    assert emulator.state.counters_snapshot().total() == 0


# --- wmtui presign -----------------------------------------------------------------------


def jobs_by_state(server: EmulatorServer) -> tuple[str, dict[str, str]]:
    org = server.state.organization_ids[0]
    return org, {job.state: job.job_id for job in server.state.jobs(org)}


def run(server: EmulatorServer, *args: str) -> int:
    return main(["--endpoint-url", server.endpoint_url, "--region", "us-east-1", "presign", *args])


def test_presign_prints_the_url_for_scripts(
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    org, jobs = jobs_by_state(emulator)
    assert run(emulator, org, jobs["COMPLETED"]) == 0
    captured = capsys.readouterr()
    url = captured.out.strip()
    assert captured.out.count("\n") == 1 and url.startswith("https://wm-export.s3.")
    assert query(url)["X-Amz-Expires"] == "3600"
    assert "valid for 1h00m" in captured.err and "anyone who has the URL" in captured.err

    assert run(emulator, org, jobs["COMPLETED"], "--expires", "600") == 0
    assert query(capsys.readouterr().out.strip())["X-Amz-Expires"] == "600"


def test_the_expiry_setting_comes_from_the_environment_or_config(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    org, jobs = jobs_by_state(emulator)
    config: Path = load_settings().config_dir
    config.mkdir(parents=True)
    (config / "config.toml").write_text("presign_expiry = 900\n")
    assert run(emulator, org, jobs["COMPLETED"]) == 0
    assert query(capsys.readouterr().out.strip())["X-Amz-Expires"] == "900"
    monkeypatch.setenv("WMTUI_PRESIGN_EXPIRY", "120")
    assert run(emulator, org, jobs["COMPLETED"]) == 0
    assert query(capsys.readouterr().out.strip())["X-Amz-Expires"] == "120"


def test_a_bad_expiry_setting_is_a_warning_and_the_default_stays(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"WMTUI_CONFIG_DIR": str(tmp_path), "WMTUI_PRESIGN_EXPIRY": "a week"}
    )
    assert settings.presign_expiry == 3600
    assert "WMTUI_PRESIGN_EXPIRY" in settings.warnings[0]
    (tmp_path / "config.toml").write_text("presign_expiry = 999999\n")
    settings = load_settings(environ={"WMTUI_CONFIG_DIR": str(tmp_path)})
    assert settings.presign_expiry == 3600 and "seven days" in settings.warnings[0]


def test_presign_refuses_what_has_nothing_to_download(
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    org, jobs = jobs_by_state(emulator)
    assert run(emulator, org, jobs["RUNNING"]) == 252
    assert "still RUNNING" in capsys.readouterr().err
    assert run(emulator, org, jobs["COMPLETED"], "--expires", "0") == 252
    assert "expiry" in capsys.readouterr().err
    assert run(emulator, org, "no-such-job") == 254
    assert capsys.readouterr().out == ""


def test_a_completed_job_in_the_cache_needs_no_call(
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    org, jobs = jobs_by_state(emulator)
    where = ["--endpoint-url", emulator.endpoint_url, "--region", "us-east-1"]
    assert main([*where, "add", org, jobs["COMPLETED"]]) == 0
    assert main([*where, "status"]) == 0
    capsys.readouterr()
    emulator.state.reset_counters()
    assert run(emulator, org, jobs["COMPLETED"]) == 0
    assert capsys.readouterr().out.startswith("https://")
    assert emulator.state.counters_snapshot().total() == 0


def test_the_validity_is_stated_in_utc(
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    org, jobs = jobs_by_state(emulator)
    before = datetime.now(UTC)
    assert run(emulator, org, jobs["COMPLETED"], "--expires", "86400") == 0
    err = capsys.readouterr().err
    assert "valid for 1d00h" in err
    assert f"until {before.year + (before.month == 12 and before.day == 31)}" in err
