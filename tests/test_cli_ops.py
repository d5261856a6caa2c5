"""`wmtui export-org` in-process against the emulator: rounds, limits, refusals, exit codes.

The emulator's clock is manual and the export engine is pointed at it
(wmtui.cli.export.EXPORT_CLOCK), so a test runs `export-org --once` (one round, as cron does),
moves time on, and runs it again:
30 mailboxes with five-minute jobs finish in a few rounds and nothing depends on timing.
What is asserted comes from the emulator's own records (jobs started per mailbox, the most
ever running), from the files a user has (watch list, state file) and from what is printed.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wmtui import factory
from wmtui.cli import export as cli_export
from wmtui.cli import main
from wmtui.core.export import ExportSpec, export_state_path
from wmtui.core.locations import watchlist_path
from wmtui.core.models import JobKey
from wmtui.core.service import ExportService
from wmtui.core.settings import Settings, load_settings
from wmtui.core.watchlist import WatchList
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState

REGION = "us-east-1"
ORG = "m-0123456789abcdef0123456789abcdef"
MISSING_ORG = "m-99999999999999999999999999999999"
ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET = "migration-bucket"
PREFIX = "workmail/final"
ROUND = timedelta(minutes=6)  # longer than any job (5 minutes, give or take 20%)


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync guards against power loss, which no test can stage; each save costs ~10 ms."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture(autouse=True)
def one_service_per_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real make_service, built once per test and set of credentials: a boto3 client
    costs ~80 ms to make, and a test runs the command many times."""
    real = factory.make_service
    made: dict[tuple[object, ...], ExportService] = {}

    def memoised(settings: Settings) -> ExportService:
        key = (settings.endpoint_url, settings.region, os.environ.get("AWS_ACCESS_KEY_ID"))
        if key not in made:
            made[key] = real(settings)
        return made[key]

    monkeypatch.setattr(factory, "make_service", memoised)


@dataclass
class World:
    state: EmulatorState
    server: EmulatorServer
    users: list[str]  # entity IDs of the enabled users, in order
    room: str
    disabled: str

    @property
    def args(self) -> list[str]:
        return ["--endpoint-url", self.server.endpoint_url, "--region", REGION]

    def export_argv(self, *extra: str) -> list[str]:
        return [
            *self.args,
            "export-org",
            ORG,
            "--bucket",
            BUCKET,
            "--prefix",
            PREFIX,
            "--role-arn",
            ROLE,
            "--kms-key-arn",
            KMS,
            *extra,
        ]

    def started(self) -> dict[str, list[str]]:
        return self.state.exports_started(ORG)


def make_world(users: int, *, failure_rate: float = 0.0) -> Iterator[World]:
    clock = EmulatorClock(manual=True, start=datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    state = EmulatorState(
        clock=clock,
        seed=11,
        job_duration=timedelta(minutes=5),
        failure_rate=failure_rate,
    )
    state.add_organization("acme", ORG)
    ids = [
        state.add_mailbox(ORG, f"user{i:02d}", display_name=f"User {i:02d}") for i in range(users)
    ]
    room = state.add_mailbox(ORG, "boardroom", kind="ROOM", display_name="Board Room")
    disabled = state.add_mailbox(ORG, "gone", state="DISABLED")
    with EmulatorServer(state) as server:
        yield World(state, server, ids, room, disabled)
        assert server.internal_errors == []


@pytest.fixture
def world(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for built in make_world(29):
        monkeypatch.setattr(cli_export, "EXPORT_CLOCK", built.state.clock.now)
        yield built


@pytest.fixture
def small_world(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for built in make_world(3):
        monkeypatch.setattr(cli_export, "EXPORT_CLOCK", built.state.clock.now)
        yield built


@pytest.fixture
def watchlist(isolated_env: Path) -> WatchList:
    return WatchList(watchlist_path(isolated_env / "wmtui-config"))


def state_file() -> Path:
    spec = ExportSpec(REGION, ORG, BUCKET, PREFIX, ROLE, KMS)
    return export_state_path(load_settings().data_dir, spec)


def rounds(
    world: World, capsys: pytest.CaptureFixture[str], *extra: str, limit: int = 40
) -> list[tuple[int, str, str]]:
    """`export-org --once` until it exits with something other than 75 ("not finished")."""
    seen: list[tuple[int, str, str]] = []
    for _ in range(limit):
        code = main(world.export_argv("--once", *extra))
        captured = capsys.readouterr()
        seen.append((code, captured.out, captured.err))
        if code != 75:
            return seen
        world.state.clock.advance(ROUND)
    raise AssertionError(f"not finished after {limit} rounds: {seen[-1]}")


# --- the export --------------------------------------------------------------------------


def test_once_rounds_export_every_mailbox_once_within_the_cap(
    world: World, watchlist: WatchList, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exclude = tmp_path / "exclude.txt"
    exclude.write_text("# the CEO's assistant exports by hand\nUSER28@acme.awsapps.com\n")
    history = rounds(world, capsys, "--exclude", str(exclude))

    code, out, _ = history[-1]
    assert code == 0
    assert len(history) >= 3  # 29 mailboxes, 10 at a time
    # Round one: ten started, the rest wait; the line says so, with counts and a percentage.
    # (The excluded mailbox is not part of the export at all; the disabled one is skipped.)
    first_err = history[0][2]
    assert "0/30 done · 10 running · 19 queued · 0 failed · 1 skipped · 3%" in first_err
    assert "ETA" in first_err
    assert "30 mailboxes: 29 done, 0 running, 0 queued, 0 failed, 1 skipped (100%)" in out
    assert "Skipped (1):" in out and "gone" in out and "disabled" in out
    assert str(state_file()) in out
    # The emulator's own record: every selected mailbox exactly once, never over 10 at once.
    started = world.started()
    wanted = {*world.users[:28], world.room}
    assert set(started) == wanted
    assert all(len(jobs) == 1 for jobs in started.values())
    assert world.state.max_running_seen(ORG) == 10
    # Every job it started is on the watch list.
    assert set(watchlist.load()) == {JobKey(REGION, ORG, jobs[0]) for jobs in started.values()}
    # Running it again changes nothing and sends no start.
    world.state.reset_counters()
    assert main(world.export_argv("--once", "--exclude", str(exclude))) == 0
    assert world.state.counters_snapshot()["StartMailboxExportJob"] == 0
    assert "29 done" in capsys.readouterr().out


def test_max_running_caps_the_export(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(world.export_argv("--once", "--max-running", "3")) == 75
    assert "3 running · 27 queued" in capsys.readouterr().err
    assert len(world.started()) == 3


def test_failures_are_retried_then_named_and_exit_254(
    aws_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli_export, "SUMMARY_LIST_LIMIT", 4)
    for world in make_world(5, failure_rate=1.0):
        monkeypatch.setattr(cli_export, "EXPORT_CLOCK", world.state.clock.now)
        # A display name carrying a terminal escape: printed made visible, never raw.
        evil = world.state.add_mailbox(ORG, "mallory", display_name="Mal\x1b]0;pwned\x07lory")
        history = rounds(world, capsys)

        code, out, err = history[-1]
        assert code == 254
        everything = "".join(o + e for _, o, e in history)
        assert "\x1b" not in everything and "\x07" not in everything
        assert "retrying: User 00" in everything and "(attempt 2 next)" in everything
        assert "failed: Mal\\x1b]0;pwned\\x07lory" in everything
        assert "7 of 8 mailboxes failed after retries" in err
        assert "attempt 3 failed: " in out
        # The summary lists a few (20; 4 here) and points at the report for the rest.
        assert "Failed after retries (7):" in out and "... and 3 more" in out
        # Three attempts each (the first and two retries), nothing more.
        started = world.started()
        assert set(started) == {*world.users, world.room, evil}
        assert all(len(jobs) == 3 for jobs in started.values())
        assert world.state.max_running_seen(ORG) <= 10


def test_read_only_refuses_and_sends_nothing(
    small_world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--read-only", *small_world.export_argv()]) == 252
    assert "read-only" in capsys.readouterr().err
    monkeypatch.setenv("WMTUI_READ_ONLY", "true")
    assert main(small_world.export_argv("--once")) == 252
    assert small_world.state.counters_snapshot().total() == 0
    assert not state_file().parent.exists()


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--bucket", "Bad Bucket!", "S3 bucket"),
        ("--prefix", "a b", "S3 prefix"),
        ("--role-arn", "role", "role ARN"),
        ("--max-running", "11", "maximum running"),
        ("--max-running", "0", "maximum running"),
    ],
)
def test_every_field_is_checked_before_anything_is_sent(
    small_world: World, option: str, value: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = small_world.export_argv("--once")
    if option in argv:
        argv[argv.index(option) + 1] = value
    else:
        argv += [option, value]
    assert main(argv) == 252
    assert named in capsys.readouterr().err
    assert small_world.state.counters_snapshot().total() == 0
    assert not state_file().parent.exists()


def test_selector_files_that_cannot_be_used_are_refused(
    small_world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.txt"
    assert main(small_world.export_argv("--only", str(missing))) == 252
    assert str(missing) in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("# nobody yet\n\n")
    assert main(small_world.export_argv("--only", str(empty))) == 252
    assert "names no mailbox" in capsys.readouterr().err
    assert small_world.state.counters_snapshot().total() == 0

    only = tmp_path / "only.txt"
    only.write_text("user00\nnobody@acme.awsapps.com  # left last year\n")
    assert main(small_world.export_argv("--once", "--only", str(only))) == 75
    err = capsys.readouterr().err
    assert "--only names 1 mailbox(es) the organization does not have: " in err
    assert "nobody@acme.awsapps.com" in err and "0/1 done · 1 running" in err
    assert list(small_world.started()) == [small_world.users[0]]


def test_a_corrupt_state_file_is_253_naming_it_and_left_alone(
    small_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    path = state_file()
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"version": 1, "spec": ')
    assert main(small_world.export_argv("--once")) == 253
    err = capsys.readouterr().err
    assert str(path) in err and "not an export state wmtui can read" in err
    assert path.read_bytes() == b'{"version": 1, "spec": '
    assert small_world.state.counters_snapshot()["StartMailboxExportJob"] == 0


def test_a_service_error_keeps_its_exit_code_and_says_how_to_resume(
    small_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = small_world.export_argv("--once")
    argv[argv.index(ORG)] = MISSING_ORG
    assert main(argv) == 254
    err = capsys.readouterr().err
    assert "wmtui: error:" in err and MISSING_ORG in err
    assert "run the same command again to resume" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_progress_is_one_updating_line(
    small_world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(small_world.export_argv("--once")) == 75
    shown = terminal.getvalue()
    assert shown.startswith("\r\x1b[K0/5 done · 4 running")
    # The line is ended once, when the command is done with it.
    assert shown.count("\n") == 2  # the status line, then "Not finished ..."
    assert "Not finished" in shown


# --- report ------------------------------------------------------------------------------


def finished_export(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = rounds(world, capsys)[-1]
    assert code == 0


def list_states(world: World, capsys: pytest.CaptureFixture[str]) -> dict[str, str | None]:
    """What `wmtui list` (no call, the job cache only) says of each watched job."""
    assert main([*world.args, "list", "--json"]) == 0
    return {job["JobId"]: job["State"] for job in json.loads(capsys.readouterr().out)["jobs"]}


def test_export_org_and_report_leave_what_they_read_in_the_job_cache(
    small_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """`list` reads only the cache: after an export it knows how its jobs ended, and after
    a report the states the report read, without a `status` in between."""
    finished_export(small_world, capsys)
    started = {job_id for jobs in small_world.started().values() for job_id in jobs}
    assert list_states(small_world, capsys) == dict.fromkeys(started, "COMPLETED")
    # A watched job that ended after the export's last round: the report reads it.
    user = small_world.users[0]
    later = small_world.state.add_job(ORG, user, state="RUNNING", started_ago=timedelta(0))
    assert main([*small_world.args, "add", ORG, later]) == 0
    capsys.readouterr()
    assert list_states(small_world, capsys)[later] is None
    small_world.state.clock.advance(timedelta(hours=1))
    assert main([*small_world.args, "report", ORG, "--format", "json"]) == 0
    capsys.readouterr()
    assert list_states(small_world, capsys)[later] == "COMPLETED"


def test_report_json_is_the_migration_record(
    small_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    state = small_world.state
    # Before the export: a job of user01 from ten days ago, watched (beyond List's 7 days).
    old_job = state.add_job(
        ORG, small_world.users[1], state="COMPLETED", started_ago=timedelta(days=10)
    )
    assert main([*small_world.args, "add", ORG, old_job]) == 0
    finished_export(small_world, capsys)
    # After it: somebody else's export of a newcomer failed (List carries no ErrorInfo).
    eve = state.add_mailbox(ORG, "eve", display_name="Eve Newcomer")
    failed_job = state.add_job(
        ORG, eve, state="FAILED", started_ago=timedelta(hours=1), error_info="KMS key disabled"
    )
    state.reset_counters()

    assert main([*small_world.args, "report", ORG, "--format", "json"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    by_job = {row["JobId"]: row for row in rows}
    started = small_world.started()
    for entity, (job_id,) in started.items():
        row = by_job[job_id]
        assert row["State"] == "COMPLETED" and row["EntityId"] == entity
        assert row["S3Uri"] == f"s3://{BUCKET}/{PREFIX}/{job_id}.zip"
        assert row["StartTime"].endswith("Z") and row["EndTime"].endswith("Z")
    user00 = by_job[started[small_world.users[0]][0]]
    assert (user00["Mailbox"], user00["Email"]) == ("User 00", "user00@acme.awsapps.com")
    # Resources have no DisplayName: their name is what people know them by.
    assert by_job[started[small_world.room][0]]["Mailbox"] == "boardroom"
    assert by_job[old_job]["State"] == "COMPLETED"
    assert by_job[old_job]["Mailbox"] == "User 01"
    assert by_job[failed_job]["ErrorInfo"] == "KMS key disabled"
    assert by_job[failed_job]["Mailbox"] == "Eve Newcomer"
    (skipped,) = [row for row in rows if row["JobId"] is None]
    assert skipped["State"] == "SKIPPED" and "disabled" in skipped["Note"]
    assert len(rows) == len(started) + 3
    # One sweep, Describe only for what List cannot say (the old job, the FAILED one's why).
    calls = state.counters_snapshot()
    assert calls["ListMailboxExportJobs"] == 1
    assert calls["DescribeMailboxExportJob"] == 2
    assert "7 row(s) written: 5 COMPLETED, 1 FAILED, 1 SKIPPED." in captured.err


def test_report_csv_to_a_file_is_private_and_defuses_formulas(
    small_world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    finished_export(small_world, capsys)
    evil = small_world.state.add_mailbox(
        ORG, "mallory", display_name='=HYPERLINK("http://evil.example","x")'
    )
    small_world.state.add_job(
        ORG, evil, state="FAILED", started_ago=timedelta(hours=2), error_info="bad\x1b[31m key"
    )
    target = tmp_path / "record.csv"
    assert main([*small_world.args, "report", ORG, "--output", str(target)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(target) in captured.err
    assert target.stat().st_mode & 0o777 == 0o600
    text = target.read_text()
    assert text.splitlines()[0].startswith("Mailbox,Email,EntityId,JobId,State,S3Uri")
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text
    assert "bad\\x1b[31m key" in text and "\x1b" not in text


def test_report_without_credentials_uses_the_saved_state_and_says_so(
    small_world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    finished_export(small_world, capsys)
    corrupt = state_file().with_name("0000-corrupt.json")
    corrupt.write_text("{")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    small_world.state.reset_counters()
    assert main([*small_world.args, "report", ORG]) == 253
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1 + 5  # header, four exported mailboxes and the disabled one
    assert sum("COMPLETED" in line for line in lines) == 4
    assert "jobs not read now, the report uses saved states" in captured.err
    assert str(corrupt) in captured.err
    assert small_world.state.counters_snapshot().total() == 0
