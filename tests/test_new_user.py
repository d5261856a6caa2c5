"""What a new user tripped over (issue 16, part 2): each fix, as the user would see it."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wmtui.cli import main
from wmtui.cli.operations import signed_with_temporary_credentials
from wmtui.core.limits import limit_explanation
from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState

ORG = "m-0123456789abcdef0123456789abcdef"
ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture
def world(aws_credentials: None) -> Iterator[EmulatorServer]:
    """One organization, a job in each final state and a running one; time stands still."""
    state = EmulatorState(clock=EmulatorClock(manual=True), failure_rate=0)
    state.add_organization("example", ORG)
    alice = state.add_mailbox(ORG, "alice")
    bob = state.add_mailbox(ORG, "bob")
    state.add_mailbox(ORG, "carol")
    state.add_job(ORG, alice, state="RUNNING", progress=40, job_id="job-running")
    state.add_job(ORG, bob, state="COMPLETED", started_ago=timedelta(hours=2), job_id="job-done")
    with EmulatorServer(state) as server:
        yield server


def where(server: EmulatorServer) -> list[str]:
    return ["--endpoint-url", server.endpoint_url, "--region", "us-east-1"]


# --- errors are one line -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "help_of"),
    [(["--bogus"], "wmtui"), (["start", ORG], "wmtui start"), (["list", "--jsn"], "wmtui")],
)
def test_a_bad_command_line_is_one_line_with_a_hint_to_help(
    argv: list[str], help_of: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 252
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{help_of}: error: ")
    assert f"(see `{help_of} --help`)" in err and "usage:" not in err


# --- the region, the same way in every command ------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["list", "--json"],
        ["status"],
        ["add", ORG, "job-1"],
        ["remove", ORG, "job-1"],
        ["presign", ORG, "job-1"],
        ["cancel", ORG, "job-1", "--yes"],
    ],
)
def test_a_region_without_workmail_is_refused_by_every_command(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--region", "us-east-2", *argv]) == 252
    assert "invalid region us-east-2" in capsys.readouterr().err


# --- presign says "temporary" only when it is -------------------------------------------


def test_presign_names_temporary_credentials_only_when_the_url_carries_a_session_token(
    world: EmulatorServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*where(world), "presign", ORG, "job-done"]) == 0
    captured = capsys.readouterr()
    assert "X-Amz-Security-Token" not in captured.out
    assert "temporary" not in captured.err and "anyone who has the URL" in captured.err

    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-session-token")
    assert main([*where(world), "presign", ORG, "job-done"]) == 0
    captured = capsys.readouterr()
    assert "X-Amz-Security-Token" in captured.out
    assert "Signed with temporary credentials" in captured.err


def test_a_session_token_in_any_case_counts() -> None:
    assert signed_with_temporary_credentials("https://b.s3/x.zip?x-amz-security-token=t&a=1")
    assert not signed_with_temporary_credentials("https://b.s3/x.zip?X-Amz-Signature=s")


# --- cancel says what was already so ------------------------------------------------------


def test_cancelling_a_cancelled_job_says_it_was_already_cancelled(
    world: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*where(world), "cancel", ORG, "job-running", "--yes"]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("cancelled: ")
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("already cancelled: ")


def test_cancelling_a_finished_job_is_refused_before_any_question(
    world: EmulatorServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda question: asked.append(question) or "y")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main([*where(world), "cancel", ORG, "job-done"]) == 252
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is COMPLETED: only a RUNNING export" in err
    assert asked == [] and world.state.job(ORG, "job-done").state == "COMPLETED"


# --- a refused start names the rule ---------------------------------------------------------


def _start(server: EmulatorServer, mailbox: str) -> list[str]:
    return [
        *where(server),
        "start",
        ORG,
        mailbox,
        "--bucket",
        "wm-export",
        "--prefix",
        "exports",
        "--role-arn",
        ROLE,
        "--kms-key-arn",
        KMS,
    ]


def test_a_mailbox_exported_today_names_the_24_hour_rule_and_when_it_is_eligible(
    world: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_start(world, "bob")) == 254
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "at most once per 24 hours" in err and "job-done" in err
    # bob's export started two hours ago: 22 hours to go.
    assert re.search(r"exported again from \S+ \S+, in 2[12]h", err)
    assert "wait for running exports to end" not in err


def test_the_running_limit_is_named_as_such() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    running = [
        ExportJob(
            key=JobKey("us-east-1", ORG, f"job-{n}"),
            state=JobState.RUNNING,
            entity_id=f"e-{n}",
            start_time=now - timedelta(minutes=5),
        )
        for n in range(10)
    ]
    said, fix = limit_explanation(running, {"someone-else"}, now)
    assert said.startswith("10 exports are running") and "at most 10 at once" in said
    assert "once one of them has ended" in fix
    said, _ = limit_explanation(running, {"e-3"}, now)
    assert "24 hours" in said and "job-3" in said


def test_the_app_says_a_refused_start_with_one_period_between_sentences() -> None:
    from wmtui.core.service import ErrorKind, ServiceError
    from wmtui.ui.flows.start import start_refusal

    error = ServiceError(
        ErrorKind.LIMIT_EXCEEDED,
        "the export limit is reached: at most 10 can run at the same time.",
        "wait for a running export to end",
    )
    text = start_refusal("alice", error)
    assert "at the same time. WorkMail runs at most 10" in text and ".." not in text


def test_the_app_names_the_24_hour_rule_from_the_organizations_jobs() -> None:
    from wmtui.core.limits import explain_limit
    from wmtui.core.service import ErrorKind, ServiceError

    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    done = ExportJob(
        key=JobKey("us-east-1", ORG, "job-done"),
        state=JobState.COMPLETED,
        entity_id="e-1",
        start_time=now - timedelta(hours=3),
    )

    class Jobs:
        def list_jobs(self, region: str, organization_id: str) -> list[ExportJob]:
            return [done]

    error = ServiceError(ErrorKind.LIMIT_EXCEEDED, "the export limit is reached", "wait")
    explain_limit(Jobs(), "us-east-1", ORG, {"e-1"}, error, now)  # type: ignore[arg-type]
    assert "once per 24 hours" in error.message and "job-done" in error.message
    assert "2026-03-03 09:00" in error.fix and "in 21h00m" in error.fix


# --- the emulator: IDs per run, timestamps never ahead of the wall clock ------------------


def test_a_sped_up_emulator_never_answers_a_time_later_than_now(aws_credentials: None) -> None:
    from wmtui.aws.service import Boto3ExportService
    from wmtui.core.models import StartRequest

    # 100,000 emulated seconds a second: a one-minute export is over in under a millisecond,
    # before the Describe that follows its start can be answered.
    state = EmulatorState(
        clock=EmulatorClock(speed=100_000), failure_rate=0, job_duration=timedelta(minutes=1)
    )
    state.add_organization("example", ORG)
    alice = state.add_mailbox(ORG, "alice")
    state.add_job(ORG, alice, state="COMPLETED", started_ago=timedelta(hours=30), job_id="old")
    with EmulatorServer(state) as server:
        service = Boto3ExportService(endpoint_url=server.endpoint_url, region="us-east-1")
        request = StartRequest(
            entity_id=alice,
            s3_bucket_name="wm-export",
            s3_prefix="exports",
            role_arn=ROLE,
            kms_key_arn=KMS,
            description="",
            client_token="token-1",
        )
        key = service.start_job("us-east-1", ORG, request)
        job = service.describe_job(key)
        now = datetime.now(UTC)
    assert job.state is JobState.COMPLETED
    assert job.start_time is not None and job.end_time is not None
    assert job.start_time <= job.end_time <= now
    # Durations shrink with the speed: minutes of emulated work, a blink on the wall clock.
    assert job.end_time - job.start_time < timedelta(seconds=1)


def test_emulator_ids_differ_per_run_unless_a_seed_is_given() -> None:
    import argparse

    from wmtui.emulator.demo import add_emulator_arguments, emulator_state

    parser = argparse.ArgumentParser()
    add_emulator_arguments(parser)

    def organizations(*argv: str) -> list[str]:
        args = parser.parse_args(["--mailboxes", "3", "--jobs", "2", *argv])
        state, _ = emulator_state(args, EmulatorClock(manual=True))
        return state.organization_ids

    assert organizations() != organizations()
    assert organizations("--seed", "7") == organizations("--seed", "7")


def test_an_endpoints_jobs_are_cached_apart_from_aws_and_other_endpoints(
    world: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from wmtui.core.cache import JobCache
    from wmtui.core.locations import endpoint_cache_dir, jobs_cache_path
    from wmtui.core.settings import load_settings

    cache_dir = load_settings().cache_dir
    assert main([*where(world), "add", ORG, "job-running"]) == 0
    assert main([*where(world), "status"]) == 0
    capsys.readouterr()
    own = JobCache(jobs_cache_path(endpoint_cache_dir(cache_dir, world.endpoint_url))).load()
    assert [key.job_id for key in own] == ["job-running"]
    # AWS's cache (and any other endpoint's) never saw the emulator's job.
    assert not jobs_cache_path(cache_dir).exists()
    other = endpoint_cache_dir(cache_dir, "http://127.0.0.1:1")
    assert other != endpoint_cache_dir(cache_dir, world.endpoint_url)
    assert main(["--region", "us-east-1", "list", "--json"]) == 0
    assert '"State": null' in capsys.readouterr().out


# --- the status line -------------------------------------------------------------------------


def _status(**changes: object) -> str:
    from dataclasses import replace

    from wmtui.ui.widgets.cells import Palette
    from wmtui.ui.widgets.status import StatusInfo, render_status

    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    info = StatusInfo(
        target="profile default · region us-east-1 · endpoint http://127.0.0.1:8765",
        regions=["us-east-1"],
        jobs=40,
        running=8,
        shown=40,
        last_refresh=now - timedelta(seconds=2),
        next_refresh=now + timedelta(seconds=28),
        refreshing=False,
        paused=False,
        backoff=None,
        backoff_reason="",
        unreadable=0,
        sort_label="state",
        filter_text="",
        now=now,
    )
    return render_status(replace(info, **changes), Palette()).plain


def test_the_status_line_shows_the_endpoints_host_and_port_within_120_columns() -> None:
    line = _status()
    assert "endpoint 127.0.0.1:8765 │" in line[:120]
    assert "…" not in line[:120]


def test_read_only_mode_is_the_first_thing_the_status_line_says() -> None:
    assert _status(read_only=True).startswith("read-only │ ")
    assert "read-only" not in _status()


def test_after_a_failed_refresh_the_status_line_says_when_the_last_good_one_was() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    line = _status(
        last_try_failed=True,
        last_good_refresh=now - timedelta(minutes=5),
        last_refresh=now - timedelta(seconds=1),
    )
    assert "refreshed 5m ago · last try failed just now" in line
    assert "refreshed just now" not in line
    line = _status(last_try_failed=True, last_good_refresh=None)
    assert "not refreshed yet · last try failed" in line


# --- ARNs as the service reads them ---------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("role_arn", "arn:aws:iam::12345:role/x"),
        ("role_arn", "arn:aws:iam::123456789012:user/x"),
        ("role_arn", "arn:aws:iam:us-east-1:123456789012:role/x"),
        ("kms_key_arn", "arn:aws:kms:us-east-1:12345:key/abcd-1234"),
        ("kms_key_arn", "arn:aws:kms::123456789012:key/abcd-1234"),
    ],
)
def test_the_start_form_refuses_arns_the_service_would(field: str, value: str) -> None:
    from wmtui.core.models import Mailbox
    from wmtui.ui.screens.start import check_start_form

    good = {
        "region": "us-east-1",
        "organization": ORG,
        "mailbox": "ann",
        "bucket": "wm-export",
        "prefix": "exports",
        "role_arn": ROLE,
        "kms_key_arn": KMS,
        "description": "",
    }
    ann = Mailbox(entity_id="S-1-5-18-1001", name="ann", state="ENABLED")
    assert check_start_form(good, ann, listed=True).ok
    errors = check_start_form({**good, field: value}, ann, listed=True).errors
    assert field in errors
    if ":12345:" in value:
        assert "12 digits" in errors[field]


def test_cli_start_refuses_a_short_account_id_before_sending(
    world: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _start(world, "carol")
    argv[argv.index(ROLE)] = "arn:aws:iam::12345:role/x"
    assert main(argv) == 252
    assert "12 digits" in capsys.readouterr().err
    assert world.state.counters_snapshot().total() == 0


# --- part 1: the same work, less time --------------------------------------------------------


def test_a_save_after_a_load_writes_what_a_fresh_save_of_the_same_jobs_writes(
    tmp_path: Path,
) -> None:
    from dataclasses import replace

    from wmtui.core.cache import JobCache

    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    jobs = {
        JobKey("us-east-1", ORG, f"job-{n}"): ExportJob(
            key=JobKey("us-east-1", ORG, f"job-{n}"),
            state=JobState.RUNNING,
            entity_id=f"e-{n}",
            description="caf\u00e9 \u2028 line",
            start_time=now,
            last_seen=now,
        )
        for n in range(5)
    }
    JobCache(tmp_path / "a.json").save(jobs)
    loaded_cache = JobCache(tmp_path / "a.json")
    loaded = loaded_cache.load()
    changed = JobKey("us-east-1", ORG, "job-2")
    loaded[changed] = replace(loaded[changed], state=JobState.COMPLETED, estimated_progress=100)
    loaded_cache.save(loaded)
    JobCache(tmp_path / "b.json").save(loaded)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert JobCache(tmp_path / "a.json").load()[changed].state is JobState.COMPLETED


@pytest.mark.parametrize(
    "value",
    [
        {"jobs": [{"a": 1, "b": [None, True, 1.5, "\u00e9\x1b"]}], "errors": [], "calls": {}},
        [1, {"x": {}}, [], [[]], {"y": {1: 2}}, float("nan"), -0.0, 10**30],
        "plain",
    ],
)
def test_json_output_is_what_json_itself_writes(value: object) -> None:
    import json

    from wmtui.cli.output import json_dump

    assert json_dump(value) == json.dumps(value, indent=2, ensure_ascii=True)


def test_list_add_and_remove_import_neither_boto3_nor_the_other_commands(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from wmtui.cli import main; main(sys.argv[1:]); "
        "print('modules:' + ','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore') or m in ('wmtui.cli.status', 'wmtui.cli.export', "
        "'wmtui.core.refresh', 'textual'))))"
    )
    for argv in (["list"], ["add", ORG, "job-1"], ["remove", ORG, "job-1"]):
        done = subprocess.run(
            [sys.executable, "-c", code, "--region", "us-east-1", *argv],
            capture_output=True,
            text=True,
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(tmp_path),
                "WMTUI_CONFIG_DIR": str(tmp_path / "config"),
                "WMTUI_CACHE_DIR": str(tmp_path / "cache"),
            },
            check=True,
        )
        assert done.stdout.splitlines()[-1] == "modules:", (argv, done.stdout)
