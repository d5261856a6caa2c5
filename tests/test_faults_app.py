"""The app, headless, against the emulator through wmtui's real boto3 service, under faults.

Each case checks what the user sees (a banner, a row, the detail pane or the status line saying
what went wrong and what to do), that the app keeps running and recovers by itself, and that
the watch list file is byte for byte what it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_faults_support import (
    ORG,
    REGION,
    SIZE,
    World,
    banner,
    botocore_backoff_tiny,
    cell,
    detail_of,
    make_app,
    notices,
    row_keys,
    running_world,
    settle,
    status,
    watchlist_file,
)

from wmtui.aws.service import Boto3ExportService
from wmtui.core.models import ExportJob, JobKey
from wmtui.core.watchlist import WatchList

ALL = ("running", "running2", "done", "failed")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    botocore_backoff_tiny(monkeypatch)


@pytest.fixture
def world(aws_credentials: None) -> Iterator[World]:
    with running_world() as started:
        yield started


def known_records(world: World, *names: str) -> list[ExportJob]:
    """What a previous session left in the cache: the jobs as the service describes them."""
    reader = world.service(credentials=("AKIDCACHEDCACHED0001", "cached"))
    records = [reader.describe_job(world.key(name)) for name in names]
    world.state.reset_counters()
    return records


# ------------------------------------------------------------------ faults injected on the wire

# (fault, service options, where it shows, what it says, what the fix says, status line)
WIRE_FAULTS: list[tuple[str, dict[str, Any], str, str, str, str]] = [
    (
        "throttle",
        {},
        "banner",
        "WorkMail is throttling requests (2 attempts)",
        "backs off and tries again",
        "backing off: every 1m (throttled)",
    ),
    (
        "503",
        {},
        "banner",
        "WorkMail is unavailable (HTTP 503, 2 attempts)",
        "service's side",
        "backing off: every 1m (unreachable)",
    ),
    (
        "hang",
        {"read_timeout": 0.5, "max_attempts": 1},
        "banner",
        "no answer from http://127.0.0.1:",
        "tries again at the next refresh",
        "backing off: every 1m (timeout)",
    ),
    (
        "expired-token",
        {},
        "banner",
        "credentials of profile default have expired",
        "get fresh credentials",
        "",
    ),
    (
        "500-html",
        {},
        "rows",
        "internal error (HTTP 500, 2 attempts)",
        "service's side",
        "unreadable",
    ),
    (
        "500",
        {},
        "rows",
        "internal error (HTTP 500, 2 attempts)",
        "service's side",
        "unreadable",
    ),
    (
        "access-denied",
        {},
        "rows",
        "access denied to workmail:ListMailboxExportJobs",
        "allow workmail:ListMailboxExportJobs for your IAM identity",
        "unreadable",
    ),
    (
        "org-state",
        {},
        "rows",
        "the organization is not in a state that allows",
        "check in the WorkMail console that the organization is Active",
        "unreadable",
    ),
]


@pytest.mark.parametrize(
    ("fault", "options", "where", "says", "fix", "status_says"),
    WIRE_FAULTS,
    ids=[case[0] for case in WIRE_FAULTS],
)
async def test_a_fault_is_shown_with_its_fix_and_the_app_recovers_when_it_stops(
    tmp_path: Path,
    world: World,
    fault: str,
    options: dict[str, Any],
    where: str,
    says: str,
    fix: str,
    status_says: str,
) -> None:
    cached = known_records(world, *ALL)
    app = make_app(tmp_path, world.service(**options), world.keys(*ALL), cached=cached)
    before = watchlist_file(app).read_bytes()
    world.server.inject(None, fault, count=None)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert app.is_running
        running = world.key("running")
        if where == "banner":
            shown = banner(app)
            assert says in shown and fix in shown
            # The last-known jobs stay on screen and can be browsed.
            assert len(row_keys(app)) == 4
            assert "RUNNING" in cell(app, running, "state")
            await pilot.press("j", "k")
            assert "STALE" in await detail_of(app, pilot, running)
        else:
            assert banner(app) == ""
            assert cell(app, running, "state").startswith("! ")
            shown = await detail_of(app, pilot, running)
            assert says in shown and fix in shown
            assert "<" not in shown, "an HTML error page is never shown"
            # A final job is not asked again, so it is not marked.
            assert "COMPLETED" in cell(app, world.key("done"), "state")
        assert status_says in status(app)

        # The fault stops: the next refresh (r here, the timer otherwise) clears everything.
        world.server.clear_faults()
        await pilot.press("r")
        await settle(app, pilot)
        assert banner(app) == ""
        assert "backing off" not in status(app) and "unreadable" not in status(app)
        assert cell(app, running, "state") == "● RUNNING"
        assert "STALE" not in await detail_of(app, pilot, running)
    assert watchlist_file(app).read_bytes() == before


async def test_connection_refused_is_a_banner_naming_the_endpoint(
    tmp_path: Path, aws_credentials: None
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    service = Boto3ExportService(endpoint_url=url, region=REGION, max_attempts=2)
    key = JobKey(REGION, ORG, "job-1")
    app = make_app(tmp_path, service, [key])
    before = watchlist_file(app).read_bytes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        shown = banner(app)
        assert f"could not connect to {url}" in shown
        assert "Fix: check the network and the region or endpoint URL" in shown
        assert "backing off: every 1m (unreachable)" in status(app)
        assert row_keys(app) == [str(key)]
        assert app.is_running
    assert watchlist_file(app).read_bytes() == before


# ------------------------------------------------------------------ credentials and configuration


async def test_no_credentials_says_how_to_configure_and_recovers_once_they_exist(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = known_records(world, *ALL)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    app = make_app(tmp_path, world.service(), world.keys(*ALL), cached=cached)
    before = watchlist_file(app).read_bytes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        shown = banner(app)
        assert "no AWS credentials found" in shown
        assert "aws configure" in shown
        assert len(row_keys(app)) == 4
        assert world.requests() == 0, "nothing unsigned is sent"
        # The user configures credentials in another terminal and presses r: no restart.
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDLATERLATERLATER1")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "later")
        await pilot.press("r")
        await settle(app, pilot)
        assert banner(app) == ""
        assert cell(app, world.key("running"), "state") == "● RUNNING"
    assert watchlist_file(app).read_bytes() == before


async def test_an_unknown_profile_is_named_with_the_config_file(
    tmp_path: Path, world: World, isolated_env: Path
) -> None:
    (isolated_env / "aws-config").write_text("[profile other]\nregion = us-east-1\n")
    app = make_app(tmp_path, world.service(profile="nosuch"), world.keys(*ALL))
    before = watchlist_file(app).read_bytes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        shown = banner(app)
        assert "'nosuch' is not defined" in shown
        assert str(isolated_env / "aws-config") in shown
        assert "aws configure --profile nosuch" in shown
        assert world.requests() == 0
        assert "profile nosuch" in status(app)
    assert watchlist_file(app).read_bytes() == before


SSO_START_URL = "https://wmtui-faults.awsapps.com/start"


def sso_profile(style: str) -> str:
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


@pytest.fixture
def sso_cache(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The SSO token cache of this test's HOME (botocore fixed its folder at import)."""
    import botocore.credentials
    import botocore.tokens

    cache = isolated_env / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(botocore.tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    return cache


def write_expired_token(cache: Path, style: str) -> None:
    """As `aws sso login` leaves it, an hour past expiry, with nothing to refresh it with."""
    name = SSO_START_URL if style == "legacy" else "corp"
    expired = datetime.now(UTC) - timedelta(hours=1)
    (cache / (hashlib.sha1(name.encode()).hexdigest() + ".json")).write_text(
        json.dumps(
            {
                "startUrl": SSO_START_URL,
                "region": "us-east-1",
                "accessToken": "not-a-real-token",
                "expiresAt": expired.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    )


@pytest.mark.parametrize("style", ["legacy", "sso-session"])
@pytest.mark.parametrize("token", ["missing", "expired"])
async def test_an_sso_login_that_is_needed_says_which_command_to_run(
    tmp_path: Path,
    world: World,
    isolated_env: Path,
    sso_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    style: str,
    token: str,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    (isolated_env / "aws-config").write_text(sso_profile(style))
    if token == "expired":
        write_expired_token(sso_cache, style)
    tokens_before = {p.name: p.read_bytes() for p in sso_cache.iterdir()}
    cached = known_records(world, *ALL)
    app = make_app(tmp_path, world.service(profile="admin"), world.keys(*ALL), cached=cached)
    before = watchlist_file(app).read_bytes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        shown = banner(app)
        assert "run `aws sso login --profile admin`" in shown
        assert ("missing" in shown) == (token == "missing")
        assert len(row_keys(app)) == 4 and "RUNNING" in cell(app, world.key("running"), "state")
        assert world.requests() == 0
        assert app.is_running
    assert watchlist_file(app).read_bytes() == before
    assert {p.name: p.read_bytes() for p in sso_cache.iterdir()} == tokens_before


async def test_no_region_anywhere_still_reads_the_watched_jobs_in_their_own_region(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    service = world.service(region=None)
    app = make_app(tmp_path, service, world.keys(*ALL), region=None)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert banner(app) == ""
        assert cell(app, world.key("running"), "state") == "● RUNNING"
        assert REGION in status(app)


async def test_nothing_watched_and_no_region_says_so_without_calling(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    app = make_app(tmp_path, world.service(region=None), [], region=None)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert "no region set" in status(app)
        assert world.requests() == 0
        assert app.is_running


# ------------------------------------------------------------------ quitting with a call in flight


async def test_q_while_a_call_hangs_exits_the_app_without_waiting_for_the_call(
    tmp_path: Path, aws_credentials: None
) -> None:
    with running_world(hang_seconds=300) as world:
        world.server.inject(None, "hang", count=None)
        stopped = threading.Event()
        service = world.service(read_timeout=300, max_attempts=1)
        app = make_app(tmp_path, service, world.keys(*ALL))
        app._on_exit = stopped.set
        before = watchlist_file(app).read_bytes()

        async def run() -> None:
            async with app.run_test(size=SIZE) as pilot:
                for _ in range(2000):
                    await pilot.pause()
                    if world.requests():
                        break
                assert app.refreshing and world.requests() >= 1
                await pilot.press("q")
                await pilot.pause()

        await asyncio.wait_for(run(), timeout=30)
        assert app.return_code == 0
        assert stopped.is_set()
        # The call is still hanging on the emulator: the exit did not wait for it.
        assert world.server._connections
        assert watchlist_file(app).read_bytes() == before
    # Stopping the emulator released the hung call; nothing is left but closed sockets.


QUIT_CHILD = r"""
import asyncio, sys, threading
from pathlib import Path
from wmtui.core.settings import load_settings
from wmtui.factory import make_app

go = Path(sys.argv[1])
app = make_app(load_settings())

async def press_q_when_told(pilot):
    while not go.exists():
        await asyncio.sleep(0.01)
    await pilot.press("q")

app.run(headless=True, size=(120, 36), auto_pilot=press_q_when_told)
go.with_name("returned").write_text(
    f"{app.return_code} " + ",".join(t.name for t in threading.enumerate() if not t.daemon)
)
"""


def test_q_while_a_call_hangs_ends_the_process_without_waiting_for_the_call(
    tmp_path: Path, aws_credentials: None
) -> None:
    with running_world(hang_seconds=300) as world:
        world.server.inject(None, "hang", count=None)
        config = tmp_path / "config"
        WatchList(config / "watchlist.json").add(world.keys("running"))
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "WMTUI_CONFIG_DIR": str(config),
            "WMTUI_CACHE_DIR": str(tmp_path / "cache"),
            "WMTUI_DATA_DIR": str(tmp_path / "data"),
            "WMTUI_ENDPOINT_URL": world.endpoint_url,
            "WMTUI_READ_TIMEOUT": "300",
            "WMTUI_MAX_ATTEMPTS": "1",
        }
        go = tmp_path / "go"
        child = subprocess.Popen(
            [sys.executable, "-c", QUIT_CHILD, str(go)],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            for _ in range(600):
                if world.requests() or child.poll() is not None:
                    break
                threading.Event().wait(0.05)
            assert world.requests() >= 1, "the refresh never reached the emulator"
            go.write_text("q")
            try:
                # The hang lasts 300 s: exiting within 8 s means the exit did not wait for it.
                child.wait(timeout=8)
            except subprocess.TimeoutExpired:
                returned = go.with_name("returned")
                said = returned.read_text() if returned.exists() else "app.run() did not return"
                pytest.fail(f"the process did not exit after q while a call hung ({said})")
            assert child.returncode == 0
        finally:
            if child.poll() is None:
                child.kill()
            child.communicate()


# ------------------------------------------------------------------ what the service answers


def rewrite_answers(world: World, change: Any) -> None:
    """Pass every answer through `change(job_id, job_record)` before it goes on the wire."""
    original = world.state.handle

    def handle(operation: str, params: Any, region: str) -> dict[str, Any]:
        answer = original(operation, params, region)
        if "Jobs" in answer:
            for job in answer["Jobs"]:
                change(job.get("JobId"), job)
        elif operation == "DescribeMailboxExportJob":
            change(params["JobId"], answer)
        return answer

    world.state.handle = handle  # type: ignore[method-assign]


async def test_a_job_the_service_does_not_know_is_kept_marked_and_never_dropped(
    tmp_path: Path, world: World
) -> None:
    gone = JobKey(REGION, ORG, "job-never-existed")
    app = make_app(tmp_path, world.service(), [*world.keys(*ALL), gone])
    before = watchlist_file(app).read_bytes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        for _ in range(2):
            assert str(gone) in row_keys(app)
            assert cell(app, gone, "state") == "! not found"
            shown = await detail_of(app, pilot, gone)
            assert "no such export job in region us-east-1" in shown
            assert "check the job ID, the organization and the region" in shown
            assert "stays in the watch list" in shown
            assert "! 1 unreadable" in status(app)
            assert cell(app, world.key("running"), "state") == "● RUNNING"
            await pilot.press("r")
            await settle(app, pilot)
    assert watchlist_file(app).read_bytes() == before
    # The next start still has it, and still says why.
    again = make_app(tmp_path, world.service(), [])
    async with again.run_test(size=SIZE, notifications=True) as pilot:
        await settle(again, pilot)
        assert cell(again, gone, "state") == "! not found"
    assert watchlist_file(again).read_bytes() == before


async def test_a_job_that_vanishes_after_being_seen_keeps_its_last_known_record(
    tmp_path: Path, world: World
) -> None:
    app = make_app(tmp_path, world.service(), world.keys(*ALL))
    before = watchlist_file(app).read_bytes()
    running = world.key("running")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert cell(app, running, "state") == "● RUNNING"
        with world.state._lock:
            del world.state._jobs[ORG][running.job_id]
        await pilot.press("r")
        await settle(app, pilot)
        assert cell(app, running, "state") == "! not found"
        shown = await detail_of(app, pilot, running)
        assert "no such export job" in shown
        assert "batch 1" in shown, "what was last seen is still shown"
        assert str(running) in row_keys(app)
    assert watchlist_file(app).read_bytes() == before


async def test_an_organization_that_does_not_exist_marks_only_its_own_jobs(
    tmp_path: Path, world: World
) -> None:
    from test_faults_support import OTHER_ORG

    elsewhere = [JobKey(REGION, OTHER_ORG, "job-a"), JobKey(REGION, OTHER_ORG, "job-b")]
    app = make_app(tmp_path, world.service(), [*world.keys(*ALL), *elsewhere])
    before = watchlist_file(app).read_bytes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        for key in elsewhere:
            assert cell(app, key, "state") == "! organization not found"
        shown = await detail_of(app, pilot, elsewhere[0])
        assert f"Organization {OTHER_ORG} does not exist in region us-east-1" in shown
        assert "check the organization ID and that it lives in this region" in shown
        assert "! 2 unreadable" in status(app)
        assert banner(app) == ""
        assert cell(app, world.key("running"), "state") == "● RUNNING"
    assert watchlist_file(app).read_bytes() == before


async def test_an_organization_in_a_bad_state_says_to_check_the_console(
    tmp_path: Path, world: World
) -> None:
    world.state.set_organization_state(ORG, "Deleted")
    app = make_app(tmp_path, world.service(), world.keys(*ALL))
    before = watchlist_file(app).read_bytes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert cell(app, world.key("running"), "state") == "! organization state"
        shown = await detail_of(app, pilot, world.key("running"))
        assert "not in a valid state: Deleted" in shown
        assert "check in the WorkMail console that the organization is Active" in shown
        # Back to Active: the next refresh reads the jobs again.
        world.state.set_organization_state(ORG, "Active")
        await pilot.press("r")
        await settle(app, pilot)
        assert cell(app, world.key("running"), "state") == "● RUNNING"
    assert watchlist_file(app).read_bytes() == before


@pytest.mark.parametrize("fault", ["endless-token", "500"])
async def test_a_listing_that_fails_falls_back_to_describe_and_the_jobs_read_are_shown(
    tmp_path: Path, world: World, fault: str
) -> None:
    world.server.inject("ListMailboxExportJobs", fault, count=None)
    app = make_app(tmp_path, world.service(), world.keys(*ALL))
    before = watchlist_file(app).read_bytes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert world.state.counters_snapshot()["DescribeMailboxExportJob"] >= 2
        assert app.is_running
        # Every job was read one by one: it is RUNNING at 40%, and not called unreadable.
        assert cell(app, world.key("running"), "state") == "● RUNNING"
        assert "40%" in cell(app, world.key("running"), "progress")
        assert "unreadable" not in status(app)
    assert watchlist_file(app).read_bytes() == before


async def test_missing_s3_path_end_time_and_progress_are_shown_as_unknown(
    tmp_path: Path, world: World
) -> None:
    def strip(job_id: str, job: dict[str, Any]) -> None:
        for name in ("S3Path", "EndTime", "EstimatedProgress"):
            job.pop(name, None)

    rewrite_answers(world, strip)
    app = make_app(tmp_path, world.service(), world.keys(*ALL))
    before = watchlist_file(app).read_bytes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert app.is_running and banner(app) == ""
        done = world.key("done")
        assert cell(app, done, "state") == "✔ COMPLETED"
        assert cell(app, done, "progress").strip() == "—"
        assert cell(app, world.key("running"), "progress").strip() == "—"
        shown = await detail_of(app, pilot, done)
        assert "s3://" not in shown
        await pilot.press("y")
        await settle(app, pilot)
        assert app.clipboard == ""
        assert "has no S3 path yet" in notices(app)[-1]
    assert watchlist_file(app).read_bytes() == before


@pytest.mark.parametrize(
    ("sent", "shown"),
    [("PAUSED", "PAUSED"), ("", "UNKNOWN"), ("[red]X\x1b[2J", "[red]X\\x1b[2J")],
    ids=["new-state", "empty", "hostile"],
)
async def test_an_unknown_state_is_shown_as_sent_and_polled_again(
    tmp_path: Path, world: World, sent: str, shown: str
) -> None:
    def odd_state(job_id: str, job: dict[str, Any]) -> None:
        if job_id == "job-running":
            job["State"] = sent

    rewrite_answers(world, odd_state)
    running = world.key("running")
    app = make_app(tmp_path, world.service(), [running])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert app.is_running
        assert shown in cell(app, running, "state")
        assert "\x1b" not in cell(app, running, "state")
        detail = await detail_of(app, pilot, running)
        # An empty State reads "?" in the pane (the table says UNKNOWN); anything else as sent.
        assert (shown if sent else "?") in detail and "\x1b" not in detail
        world.state.reset_counters()
        await pilot.press("r")
        await settle(app, pilot)
        assert world.requests() >= 1, "a job in a state wmtui does not know is not final"


@pytest.mark.parametrize(
    ("sent", "bar"),
    [(-5, "0%"), (150, "100%"), (2**31 - 1, "100%"), ("42", "42%"), (42.9, "42%"), ("abc", "—")],
    ids=["negative", "over-100", "int-max", "string", "float", "not-a-number"],
)
async def test_estimated_progress_outside_0_to_100_is_kept_in_range(
    tmp_path: Path, world: World, sent: object, bar: str
) -> None:
    def odd_progress(job_id: str, job: dict[str, Any]) -> None:
        job["EstimatedProgress"] = sent

    rewrite_answers(world, odd_progress)
    running = world.key("running")
    app = make_app(tmp_path, world.service(), [running])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert app.is_running and banner(app) == ""
        assert cell(app, running, "progress").strip().endswith(bar)
        assert cell(app, running, "state") == "● RUNNING"


async def test_an_unparsable_start_time_marks_the_job_and_the_app_goes_on(
    tmp_path: Path, world: World
) -> None:
    def odd_time(job_id: str, job: dict[str, Any]) -> None:
        if job_id == "job-running":
            job["StartTime"] = "yesterday [/]"

    rewrite_answers(world, odd_time)
    app = make_app(tmp_path, world.service(), world.keys(*ALL))
    before = watchlist_file(app).read_bytes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert app.is_running
        assert cell(app, world.key("running"), "state").startswith("! ")
        shown = await detail_of(app, pilot, world.key("running"))
        assert 'Invalid timestamp "yesterday [/]"' in shown and "report it" in shown
        # One bad record spoils the List page; the others are read one by one.
        assert cell(app, world.key("done"), "state") == "✔ COMPLETED"
        assert world.key("running2") in app.jobs
        assert str(world.key("running")) in row_keys(app)
    assert watchlist_file(app).read_bytes() == before


async def test_times_far_in_the_future_or_the_past_are_shown_without_harm(
    tmp_path: Path, world: World
) -> None:
    def odd_times(job_id: str, job: dict[str, Any]) -> None:
        if job_id == "job-running":
            job["StartTime"] = 1e11  # the year 5138
        elif job_id == "job-done":
            job["EndTime"] = 0  # ended in 1970, before it started

    rewrite_answers(world, odd_times)
    app = make_app(tmp_path, world.service(), world.keys(*ALL))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert app.is_running and banner(app) == ""
        assert cell(app, world.key("running"), "state") == "● RUNNING"
        assert cell(app, world.key("running"), "started").startswith("in ")
        assert cell(app, world.key("done"), "state") == "✔ COMPLETED"
        assert "-" not in cell(app, world.key("done"), "time")
        await detail_of(app, pilot, world.key("done"))
        await pilot.press("s", "s", "s", "r")
        await settle(app, pilot)
        assert app.is_running
    assert (tmp_path / "cache" / "jobs.json").exists()
