"""The command line in-process: parsing, exit codes, what each subcommand prints and writes.

`main([...])` runs exactly what `wmtui ...` runs; the few end-to-end runs in a real
subprocess are in test_cli_e2e.py.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from wmtui.cli import main
from wmtui.cli import run as cli_run
from wmtui.cli.arguments import settings_overrides
from wmtui.cli.output import plain
from wmtui.cli.parser import build_parser
from wmtui.core.cache import JobCache
from wmtui.core.locations import endpoint_cache_dir, jobs_cache_path, watchlist_path
from wmtui.core.models import ExportJob, JobKey, JobState, now_utc
from wmtui.core.settings import load_settings
from wmtui.core.watchlist import WatchList
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState

ORG = "m-0123456789abcdef0123456789abcdef"
OTHER_ORG = "m-fedcba9876543210fedcba9876543210"
ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture
def config_dir(isolated_env: Path) -> Path:
    return isolated_env / "wmtui-config"


@pytest.fixture
def watchlist(config_dir: Path) -> WatchList:
    return WatchList(watchlist_path(config_dir))


@pytest.fixture
def cache() -> JobCache:
    return JobCache(jobs_cache_path(load_settings().cache_dir))


@pytest.fixture
def world(aws_credentials: None) -> Iterator[tuple[EmulatorServer, dict[str, str]]]:
    """An emulator with one organization and a job in each state, time standing still."""
    state = EmulatorState(clock=EmulatorClock(manual=True), failure_rate=0)
    state.add_organization("example", ORG)
    alice = state.add_mailbox(ORG, "alice")
    bob = state.add_mailbox(ORG, "bob")
    carol = state.add_mailbox(ORG, "carol")
    state.add_mailbox(ORG, "dave")
    jobs = {
        "running": state.add_job(ORG, alice, state="RUNNING", progress=40, job_id="job-running"),
        "completed": state.add_job(
            ORG, bob, state="COMPLETED", started_ago=timedelta(hours=2), job_id="job-done"
        ),
        "failed": state.add_job(
            ORG,
            carol,
            state="FAILED",
            started_ago=timedelta(hours=1),
            # Untrusted text with a terminal escape: must reach the screen made visible.
            error_info="bucket \x1b]0;pwned\x07 denied",
            job_id="job-failed",
        ),
    }
    with EmulatorServer(state) as server:
        yield server, jobs


def _args_for(server: EmulatorServer) -> list[str]:
    return ["--endpoint-url", server.endpoint_url, "--region", "us-east-1"]


# --- parsing -----------------------------------------------------------------------------


def test_global_options_work_before_and_after_the_command(watchlist: WatchList) -> None:
    assert main(["--region", "us-west-2", "add", ORG, "before"]) == 0
    assert main(["add", ORG, "after", "--region", "eu-west-1"]) == 0
    assert watchlist.load() == [
        JobKey("eu-west-1", ORG, "after"),
        JobKey("us-west-2", ORG, "before"),
    ]


def test_only_options_given_become_settings_overrides() -> None:
    parser = build_parser()
    args, _ = parser.parse_known_args(["--no-bell", "list", "--read-only", "--interval", "9"])
    assert settings_overrides(args) == {"bell": False, "read_only": True, "interval": 9.0}
    args, _ = parser.parse_known_args(["list"])
    assert settings_overrides(args) == {}


@pytest.mark.parametrize(
    "argv",
    [["status", "--jsno"], ["add", ORG], ["start", ORG, "alice"], ["frobnicate"]],
)
def test_a_bad_command_line_exits_252(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 252
    assert "error:" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("wmtui ")


# --- add / remove / list -----------------------------------------------------------------


def test_add_takes_ids_separated_any_way_and_says_what_was_new(
    watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--region", "us-east-1", "add", ORG, "a,b", "c d", "a"]) == 0
    out = capsys.readouterr().out
    assert out.count("added:") == 4
    assert [key.job_id for key in watchlist.load()] == ["a", "b", "c", "d"]

    assert main(["--region", "us-east-1", "add", ORG, "c", "e"]) == 0
    out = capsys.readouterr().out
    assert f"already watched: us-east-1/{ORG}/c" in out
    assert f"added: us-east-1/{ORG}/e" in out


def test_invalid_ids_exit_252_and_write_nothing(
    watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--region", "us-east-1", "add", ORG, "keep"]) == 0
    before = watchlist.path.read_bytes()
    capsys.readouterr()

    assert main(["--region", "us-east-1", "add", ORG, "good", "../../x", "ok"]) == 252
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "../../x" in err and "letters, digits and '-'" in err

    assert main(["--region", "us-east-1", "add", "m-nothex", "good"]) == 252
    assert "m-nothex" in capsys.readouterr().err

    assert main(["--region", "us-east-1", "add", ORG, "a" * 64]) == 252
    assert "at most 63" in capsys.readouterr().err
    assert watchlist.path.read_bytes() == before


def test_an_unknown_region_is_refused_naming_the_three(
    watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--region", "eu-central-1", "add", ORG, "job"]) == 252
    err = capsys.readouterr().err
    for region in ("us-east-1", "us-west-2", "eu-west-1"):
        assert region in err
    assert not watchlist.path.exists()
    # Any well-formed region is fine for an emulator or another endpoint.
    argv = ["--endpoint-url", "http://127.0.0.1:9", "--region", "eu-central-1"]
    assert main([*argv, "add", ORG, "job"]) == 0


def test_no_region_at_all_is_a_configuration_error_with_the_fix(
    watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["add", ORG, "job"]) == 253
    assert "--region" in capsys.readouterr().err
    assert not watchlist.path.exists()


def test_a_corrupt_watch_list_is_named_and_left_unchanged(
    watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    watchlist.path.parent.mkdir(parents=True)
    watchlist.path.write_bytes(b'{"version": 1, "jobs": [')
    for argv in (["add", ORG, "job"], ["remove", ORG, "job"], ["list"], ["status"]):
        assert main(["--region", "us-east-1", *argv]) == 253
        err = capsys.readouterr().err
        assert str(watchlist.path) in err
        assert "Traceback" not in err
    assert watchlist.path.read_bytes() == b'{"version": 1, "jobs": ['


def test_remove(watchlist: WatchList, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--region", "us-east-1", "add", ORG, "a,b"])
    capsys.readouterr()
    assert main(["--region", "us-east-1", "remove", ORG, "a", "zzz"]) == 0
    out = capsys.readouterr().out
    assert f"removed: us-east-1/{ORG}/a" in out
    assert f"not watched: us-east-1/{ORG}/zzz" in out
    assert [key.job_id for key in watchlist.load()] == ["b"]


def test_list_shows_last_known_states_without_calling_anything(
    watchlist: WatchList, cache: JobCache, capsys: pytest.CaptureFixture[str]
) -> None:
    done = JobKey("us-east-1", ORG, "done")
    seen = now_utc() - timedelta(hours=3)
    watchlist.add([done, JobKey("us-east-1", ORG, "new")])
    cache.save(
        {
            done: ExportJob(
                key=done,
                state=JobState.COMPLETED,
                entity_id="alice",
                estimated_progress=100,
                s3_bucket_name="bkt",
                s3_path="exports/done.zip",
                start_time=seen - timedelta(minutes=10),
                last_seen=seen,
            )
        }
    )
    # No endpoint, no credentials: list must not need them.
    assert main(["list", "--json"]) == 0
    jobs = json.loads(capsys.readouterr().out)["jobs"]
    assert [job["JobId"] for job in jobs] == ["done", "new"]
    assert jobs[0]["State"] == "COMPLETED"
    assert jobs[0]["Region"] == "us-east-1" and jobs[0]["OrganizationId"] == ORG
    assert jobs[0]["StartTime"].endswith("Z")
    assert jobs[1]["State"] is None and jobs[1]["LastSeen"] is None

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "s3://bkt/exports/done.zip" in out
    assert "(cached)" in out and "never seen" in out


def test_an_empty_watch_list_says_how_to_add(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    assert "wmtui add" in capsys.readouterr().err
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["jobs"] == []


# --- status ------------------------------------------------------------------------------


def test_status_reads_what_can_change_and_marks_a_missing_job(
    world: tuple[EmulatorServer, dict[str, str]],
    watchlist: WatchList,
    cache: JobCache,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, jobs = world
    names = [jobs["running"], jobs["completed"], jobs["failed"], "job-gone"]
    assert main([*_args_for(server), "add", ORG, *names]) == 0
    capsys.readouterr()

    # A job that does not exist is a service error for that job (254); the rest are read.
    assert main([*_args_for(server), "status", "--json"]) == 254
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    by_id = {job["JobId"]: job for job in report["jobs"]}
    assert by_id["job-running"]["State"] == "RUNNING"
    assert by_id["job-running"]["EstimatedProgress"] == 40
    assert by_id["job-done"]["State"] == "COMPLETED"
    assert by_id["job-failed"]["ErrorInfo"] == "bucket \x1b]0;pwned\x07 denied"
    assert by_id["job-gone"]["error"]["kind"] == "job-not-found"
    assert by_id["job-gone"]["error"]["fix"]
    assert by_id["job-running"]["error"] is None
    assert all(job["fresh"] for job in report["jobs"] if job["JobId"] != "job-gone")
    assert [e["job_id"] for e in report["errors"] if e["scope"] == "job"] == ["job-gone"]
    # JSON escapes the control characters: safe to print to a terminal.
    assert "\x1b" not in captured.out
    assert "job-gone" in captured.err
    # Cached for this endpoint, apart from AWS's cache.
    assert set(cache.load()) == set()
    endpoint_cache = JobCache(
        jobs_cache_path(endpoint_cache_dir(load_settings().cache_dir, server.endpoint_url))
    )
    assert set(endpoint_cache.load()) == {JobKey("us-east-1", ORG, j) for j in names[:3]}

    # Final jobs come from the cache the second time: only the running one is read.
    assert main([*_args_for(server), "remove", ORG, "job-gone"]) == 0
    capsys.readouterr()
    server.state.reset_counters()
    assert main([*_args_for(server), "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    fresh = {job["JobId"]: job["fresh"] for job in report["jobs"]}
    assert fresh == {"job-running": True, "job-done": False, "job-failed": False}
    assert sum(server.state.counters_snapshot().values()) == sum(report["calls"].values()) == 1


def test_status_table_escapes_untrusted_text(
    world: tuple[EmulatorServer, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    server, jobs = world
    main([*_args_for(server), "add", ORG, jobs["failed"], jobs["running"]])
    assert main([*_args_for(server), "status"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "bucket \\x1b]0;pwned\\x07 denied" in out
    assert "RUNNING" in out and "40%" in out and "FAILED" in out
    assert "2 read now" in out


def test_status_without_credentials_is_253_with_the_fix(
    world: tuple[EmulatorServer, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, jobs = world
    main([*_args_for(server), "add", ORG, jobs["running"]])
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    capsys.readouterr()
    assert main([*_args_for(server), "status", "--json"]) == 253
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["errors"][0]["scope"] == "all"
    assert report["errors"][0]["kind"] == "no-credentials"
    assert report["jobs"][0]["error"]["kind"] == "no-credentials"
    assert captured.err.startswith("wmtui: error: ")
    assert "Traceback" not in captured.err
    assert server.state.counters_snapshot().total() == 0


# --- start / cancel ----------------------------------------------------------------------


def _start_argv(server: EmulatorServer, mailbox: str = "dave") -> list[str]:
    return [
        *_args_for(server),
        "start",
        ORG,
        mailbox,
        "--bucket",
        "wm-export",
        "--prefix",
        "exports/2027",
        "--role-arn",
        ROLE,
        "--kms-key-arn",
        KMS,
        "--description",
        "before the shutdown",
    ]


def test_start_prints_the_job_id_and_watches_it(
    world: tuple[EmulatorServer, dict[str, str]],
    watchlist: WatchList,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, _ = world
    assert main(_start_argv(server)) == 0
    captured = capsys.readouterr()
    job_id = captured.out.strip()
    job = server.state.job(ORG, job_id)
    assert job.state == "RUNNING" and job.description == "before the shutdown"
    assert JobKey("us-east-1", ORG, job_id) in watchlist.load()
    assert "watch list" in captured.err


def test_start_checks_fields_before_sending(
    world: tuple[EmulatorServer, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = world
    argv = _start_argv(server)
    argv[argv.index("wm-export")] = "bad bucket!"
    assert main(argv) == 252
    assert "bad bucket!" in capsys.readouterr().err
    assert server.state.counters_snapshot()["StartMailboxExportJob"] == 0


def test_read_only_refuses_start_and_cancel(
    world: tuple[EmulatorServer, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, jobs = world
    assert main(["--read-only", *_start_argv(server)]) == 252
    assert "read-only" in capsys.readouterr().err
    monkeypatch.setenv("WMTUI_READ_ONLY", "1")
    assert main([*_args_for(server), "cancel", ORG, jobs["running"], "--yes"]) == 252
    assert "read-only" in capsys.readouterr().err
    assert server.state.counters_snapshot().total() == 0
    assert server.state.job(ORG, jobs["running"]).state == "RUNNING"


def test_cancel_with_yes(
    world: tuple[EmulatorServer, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    server, jobs = world
    assert main([*_args_for(server), "cancel", ORG, jobs["running"], "--yes"]) == 0
    assert "cancelled" in capsys.readouterr().out
    assert server.state.job(ORG, jobs["running"]).state == "CANCELLED"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cancel_asks_on_a_terminal_and_refuses_without_one(
    world: tuple[EmulatorServer, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, jobs = world
    argv = [*_args_for(server), "cancel", ORG, jobs["running"]]

    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(argv) == 252
    assert "--yes" in capsys.readouterr().err

    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    assert main(argv) == 0
    assert "Not cancelled" in capsys.readouterr().err
    assert server.state.job(ORG, jobs["running"]).state == "RUNNING"

    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    assert main(argv) == 0
    assert server.state.job(ORG, jobs["running"]).state == "CANCELLED"


def test_cancel_of_a_job_that_does_not_exist_is_a_service_error(
    world: tuple[EmulatorServer, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = world
    assert main([*_args_for(server), "cancel", ORG, "no-such-job", "--yes"]) == 254
    err = capsys.readouterr().err
    assert err.startswith("wmtui: error: ") and err.count("\n") == 1


# --- failures ----------------------------------------------------------------------------


def test_ctrl_c_exits_130_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*_: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(cli_run.COMMANDS, "list", interrupted)
    assert main(["list"]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_a_settings_warning_is_shown_and_the_command_goes_on(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text("interval = 'soon'\n")
    assert main(["list"]) == 0
    assert "wmtui: warning:" in capsys.readouterr().err


def test_plain_escapes_terminal_controls() -> None:
    assert plain("a\x1b[31mb\u202ec\nd") == "a\\x1b[31mb\\u202ec\\nd"
    assert plain("résumé ✓") == "résumé ✓"


def test_emulator_options_belong_to_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--help"]) == 0
    out = capsys.readouterr().out
    assert "wmtui emulator" in out and "--port" in out
    assert main(["emulator", "--no-such-option"]) == 252


@pytest.mark.parametrize("url", ["localhost:4566", "ftp://127.0.0.1", "http://", ""])
def test_a_mistyped_endpoint_is_refused_not_replaced_by_aws(
    url: str, watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--endpoint-url", url, "--region", "us-east-1", "add", ORG, "job"]) == 252
    assert "endpoint URL" in capsys.readouterr().err
    assert not watchlist.path.exists()
