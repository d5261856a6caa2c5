"""The last-known job states: disposable, so a bad file costs a slow start, never a crash."""

from __future__ import annotations

import errno
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wmtui.core.cache import JobCache
from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.core.watchlist import WatchList

ORG = "m-" + "b" * 32
KEY_1 = JobKey("us-east-1", ORG, "job-1")
KEY_2 = JobKey("eu-west-1", ORG, "job-2")
SEEN = datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)

JOB_1 = ExportJob(
    key=KEY_1,
    state=JobState.RUNNING,
    raw_state="RUNNING",
    entity_id="user@example.com",
    description="[red]not markup[/red]\x1b]52;c;AAAA\x07 ‮",
    s3_bucket_name="bucket",
    s3_path="bucket/exports/job-1",
    estimated_progress=42,
    start_time=datetime(2025, 5, 6, 7, 0, tzinfo=UTC),
    last_seen=SEEN,
)
JOB_2 = ExportJob(
    key=KEY_2,
    state=JobState.FAILED,
    raw_state="FAILED",
    error_info="mailbox too large",
    end_time=SEEN,
    last_seen=SEEN,
    described=True,
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "jobs.json"


def test_missing_file_is_an_empty_cache(path: Path) -> None:
    cache = JobCache(path)
    assert cache.load() == {}
    assert cache.last_problem is None


def test_round_trip_keeps_every_field(path: Path) -> None:
    cache = JobCache(path)
    assert cache.save({KEY_1: JOB_1, KEY_2: JOB_2}) is True
    assert JobCache(path).load() == {KEY_1: JOB_1, KEY_2: JOB_2}
    document = json.loads(path.read_text())
    assert document["version"] == 1
    assert [job["key"] for job in document["jobs"]] == [KEY_2.to_dict(), KEY_1.to_dict()]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{", id="truncated"),
        pytest.param(b"\x00\xff\xfe", id="binary"),
        pytest.param(b"[" * 100_000, id="deep"),
        pytest.param(b"[]", id="list"),
        pytest.param(b'{"version": 1, "version": 1, "jobs": []}', id="duplicate-key"),
        pytest.param(b'{"version": 1, "jobs": [NaN]}', id="NaN"),
        pytest.param(b'{"version": 99, "jobs": []}', id="future-version"),
        pytest.param(b'{"version": 1, "jobs": [{"key": {}}]}', id="no-key-fields"),
        pytest.param(b'{"version": 1, "jobs": [{"state": "RUNNING"}]}', id="no-key"),
        pytest.param(
            json.dumps(
                {"version": 1, "jobs": [{**JOB_1.to_dict(), "start_time": "tuesday"}]}
            ).encode(),
            id="bad-time",
        ),
        pytest.param(
            json.dumps(
                {
                    "version": 1,
                    "jobs": [{**JOB_1.to_dict(), "key": {**KEY_1.to_dict(), "job_id": "a b"}}],
                }
            ).encode(),
            id="bad-job-id",
        ),
        pytest.param(
            json.dumps(
                {"version": 1, "jobs": [{**JOB_1.to_dict(), "estimated_progress": "x"}]}
            ).encode(),
            id="bad-progress",
        ),
    ],
)
def test_a_corrupt_cache_is_moved_aside_and_forgotten(path: Path, content: bytes) -> None:
    path.parent.mkdir()
    path.write_bytes(content)
    cache = JobCache(path)
    assert cache.load() == {}
    backups = [p for p in path.parent.iterdir() if p.name.startswith("jobs.json.corrupt-")]
    assert len(backups) == 1 and backups[0].read_bytes() == content
    assert not path.exists()
    assert cache.last_problem is not None and str(backups[0]) in cache.last_problem
    # Next save starts a fresh one.
    assert cache.save({KEY_1: JOB_1})
    assert JobCache(path).load() == {KEY_1: JOB_1}


def test_a_folder_in_the_caches_place_is_moved_aside(path: Path) -> None:
    path.mkdir(parents=True)
    cache = JobCache(path)
    assert cache.load() == {}
    assert cache.last_problem is not None and "folder" in cache.last_problem
    assert cache.save({KEY_1: JOB_1})


def test_a_corrupt_cache_never_touches_the_watch_list(tmp_path: Path) -> None:
    watchlist_path = tmp_path / "watchlist.json"
    WatchList(watchlist_path).add([KEY_1])
    watched = watchlist_path.read_bytes()
    cache_path = tmp_path / "jobs.json"
    cache_path.write_bytes(b"{")
    assert JobCache(cache_path).load() == {}
    assert watchlist_path.read_bytes() == watched


def test_a_failed_save_keeps_the_previous_cache_and_says_so(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = JobCache(path)
    cache.save({KEY_1: JOB_1})
    content = path.read_bytes()

    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", disk_full)
    assert cache.save({KEY_2: JOB_2}) is False
    monkeypatch.undo()
    assert cache.last_problem is not None and "No space left" in cache.last_problem
    assert path.read_bytes() == content
    assert [p.name for p in path.parent.iterdir()] == ["jobs.json"]
