"""verify tells an export that is not right in S3 to the notify_command, once per job and
outcome, against moto's S3 on 127.0.0.1 (the fixtures of test_verify_moto)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_verify_moto import ORG, REGION, World, _watch, moto, moto_url, world

from wmtui.cli import main

__all__ = ["moto", "moto_url", "world"]  # fixtures, used by name


def test_a_missing_export_is_told_once(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "heard.jsonl"
    script = tmp_path / "notify.py"
    script.write_text(f"import sys\nopen({str(log)!r}, 'a').write(sys.stdin.read())\n")
    good, missing = world.job("good"), world.job("gone")
    world.put_kms(good, b"z" * 100, world.key)
    _watch([good, missing])
    command = ["--notify-command", f"{sys.executable} {script}", "--region", REGION]
    for _ in range(2):
        assert main(["verify", ORG, *command]) == 1
    capsys.readouterr()
    [event] = [json.loads(line) for line in log.read_text().splitlines()]
    assert event["event"] == "verification_failed"
    assert event["job_id"] == "gone" and event["state"] == "MISSING"
    assert event["s3_uri"] == f"s3://{world.bucket}/wm/gone.zip"
