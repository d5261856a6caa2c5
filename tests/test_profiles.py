"""Profiles side by side (issue 15, part 1): the model, the watch list and the CLI.

Two emulators on 127.0.0.1 stand for two accounts, reached through two profiles of a
temporary AWS config file (tests/profiles_fixtures.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.profiles_fixtures import REGION, TwoAccounts, two_accounts
from wmtui.cli import main
from wmtui.core.locations import watchlist_path
from wmtui.core.models import JobKey, ValidationError
from wmtui.core.profiles import ProfileBook, ProfileRouter, account_of_arn, profile_filter
from wmtui.core.settings import load_settings
from wmtui.core.watchlist import WatchList, WatchListError

__all__ = ["two_accounts"]  # a fixture, used by name


ORG_A = "m-" + "a" * 32
ORG_B = "m-" + "b" * 32


def test_a_watch_list_keeps_each_entrys_profile_and_what_it_does_not_know(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "note": "kept",
                "jobs": [
                    {"region": REGION, "organization_id": ORG_A, "job_id": "old-one"},
                    {
                        "region": REGION,
                        "organization_id": ORG_B,
                        "job_id": "b-one",
                        "profile": "client-b",
                        "colour": "blue",
                    },
                ],
            }
        )
    )
    watchlist = WatchList(path)
    assert len(watchlist.load()) == 2
    # An entry without a profile keeps using the default chain.
    assert watchlist.profiles.owner(REGION, ORG_A) is None
    assert watchlist.profiles.owner(REGION, ORG_B) == "client-b"
    assert watchlist.add([JobKey(REGION, ORG_A, "new-one")], profile="client-a") == [
        JobKey(REGION, ORG_A, "new-one")
    ]
    document = json.loads(path.read_text())
    assert document["note"] == "kept"
    entries = {item["job_id"]: item for item in document["jobs"]}
    assert "profile" not in entries["old-one"]
    assert entries["new-one"]["profile"] == "client-a"
    assert entries["b-one"]["colour"] == "blue"
    # One entry naming a profile names it for its whole organization.
    assert watchlist.owners() == {(REGION, ORG_A): "client-a", (REGION, ORG_B): "client-b"}
    # A job added later to that organization (a start, an import) keeps its profile.
    watchlist.add([JobKey(REGION, ORG_B, "b-two")])
    entries = {item["job_id"]: item for item in json.loads(path.read_text())["jobs"]}
    assert entries["b-two"]["profile"] == "client-b"


def test_adding_a_watched_job_with_a_profile_sets_it(tmp_path: Path) -> None:
    watchlist = WatchList(tmp_path / "watchlist.json")
    key = JobKey(REGION, ORG_A, "job")
    assert watchlist.add([key]) == [key]
    assert watchlist.add([key], profile="client-a") == []
    assert watchlist.owners() == {(REGION, ORG_A): "client-a"}
    with pytest.raises(ValidationError):
        watchlist.add([key], profile="bad\nname")


def test_a_hand_broken_profile_is_a_corrupt_file_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.json"
    text = json.dumps(
        {
            "version": 1,
            "jobs": [{"region": REGION, "organization_id": ORG_A, "job_id": "j", "profile": 7}],
        }
    )
    path.write_text(text)
    with pytest.raises(WatchListError, match="profile"):
        WatchList(path).load()
    assert path.read_text() == text


class _Named:
    """A stand-in service that says who it is."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.target = f"profile {name}"

    def list_jobs(self, region: str, organization_id: str) -> list[object]:
        return [self.name]

    def caller_arn(self) -> str | None:
        return None if self.name == "default" else f"arn:aws:iam::{'1' * 11}{len(self.name)}:user/x"


def test_the_router_sends_each_organization_to_its_profile() -> None:
    book = ProfileBook()
    book.learn({(REGION, ORG_B): "client-b"}, [(REGION, ORG_A), (REGION, ORG_B)])
    made: list[str] = []

    def make(profile: str) -> _Named:
        made.append(profile)
        return _Named(profile)

    router = ProfileRouter(_Named("default"), book, make)  # type: ignore[arg-type]
    assert router.list_jobs(REGION, ORG_A) == ["default"]
    assert router.list_jobs(REGION, ORG_B) == ["client-b"]
    assert router.list_jobs(REGION, ORG_B) == ["client-b"]
    assert made == ["client-b"]  # made once, on first use
    keys = [JobKey(REGION, ORG_B, "x"), JobKey(REGION, ORG_A, "y")]
    groups = router.split_by_profile(keys)
    assert [(label, ks) for label, _, ks in groups] == [
        ("default", [keys[1]]),
        ("client-b", [keys[0]]),
    ]
    assert router.account_label(REGION, ORG_B) == "client-b"  # until STS has said
    assert router.learn_accounts(keys)
    assert router.account_label(REGION, ORG_B) == "111111111118"
    assert router.account_label(REGION, ORG_A) == "default"
    assert router.target == "profiles client-b, default"
    book.learn({(REGION, ORG_B): "client-b"}, [(REGION, ORG_B)])
    assert router.target == "profiles client-b"  # no job uses the default chain


def test_account_ids_and_the_profile_filter_words() -> None:
    assert account_of_arn("arn:aws:sts::123456789012:assumed-role/r/s") == "123456789012"
    assert account_of_arn("arn:aws:iam::not-an-id:user/x") is None
    assert account_of_arn(None) is None
    assert profile_filter(["profile:client-a", "alice", "profile:"]) == (
        ["client-a"],
        ["alice", "profile:"],
    )


def _watch_both(accounts: TwoAccounts) -> None:
    for account in (accounts.a, accounts.b):
        ids = [key.job_id for key in account.job_keys()]
        assert main(["add", "--profile", account.profile, account.organization_id, *ids]) == 0


def test_add_with_a_profile_and_one_status_reads_both_accounts(
    two_accounts: TwoAccounts, capsys: pytest.CaptureFixture[str]
) -> None:
    _watch_both(two_accounts)
    capsys.readouterr()
    saved = json.loads(watchlist_path(load_settings({}).config_dir).read_text())
    assert {item["profile"] for item in saved["jobs"]} == {"client-a", "client-b"}

    assert main(["status", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    by_id = {job["JobId"]: job for job in out["jobs"]}
    for account in (two_accounts.a, two_accounts.b):
        for key in account.job_keys():
            record = by_id[key.job_id]
            assert record["State"] in ("RUNNING", "COMPLETED")
            assert record["Profile"] == account.profile
    assert out["errors"] == []
    # Each account was asked about its own jobs only.
    assert two_accounts.a.server.state.counters_snapshot().total() >= 1
    assert two_accounts.b.server.state.counters_snapshot().total() >= 1

    assert main(["status"]) == 0
    table = capsys.readouterr().out
    assert f"{two_accounts.a.organization_id} ({REGION}) · profile client-a" in table
    assert f"{two_accounts.b.organization_id} ({REGION}) · profile client-b" in table


def test_one_profiles_expired_credentials_leave_the_other_working(
    two_accounts: TwoAccounts, capsys: pytest.CaptureFixture[str]
) -> None:
    _watch_both(two_accounts)
    two_accounts.expire(two_accounts.b)
    capsys.readouterr()
    code = main(["status", "--json"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 253  # a configuration problem, as the AWS CLI says it
    by_id = {job["JobId"]: job for job in out["jobs"]}
    for key in two_accounts.a.job_keys():
        assert by_id[key.job_id]["fresh"] is True
        assert by_id[key.job_id]["error"] is None
    running_b = [
        key for key in two_accounts.b.job_keys() if by_id[key.job_id]["State"] != "COMPLETED"
    ]
    for key in two_accounts.b.job_keys():
        assert by_id[key.job_id]["fresh"] is False
    # The profile's error is said once, for the profile.
    assert [e["scope"] for e in out["errors"]] == ["profile"]
    assert out["errors"][0]["profile"] == "client-b"
    assert captured.err.count("profile client-b") >= 1
    assert "client-a" not in captured.err
    assert running_b == list(two_accounts.b.job_keys())  # never read: no state known yet


ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_start_cancel_and_report_act_with_the_organizations_profile(
    two_accounts: TwoAccounts, capsys: pytest.CaptureFixture[str]
) -> None:
    _watch_both(two_accounts)
    capsys.readouterr()
    b = two_accounts.b
    before = len(b.server.state.jobs(b.organization_id))
    start = ["start", b.organization_id, "dave", "--bucket", "bucket", "--prefix", "p"]
    assert main([*start, "--role-arn", ROLE, "--kms-key-arn", KMS]) == 0
    job_id = capsys.readouterr().out.strip()
    # Started in b's account, with b's keys; nothing started in a's.
    assert len(b.server.state.jobs(b.organization_id)) == before + 1
    assert job_id in {job.job_id for job in b.server.state.jobs(b.organization_id)}
    assert len(two_accounts.a.server.state.jobs(two_accounts.a.organization_id)) == 2
    # The new job joins the watch list and stays with b's profile.
    watchlist = WatchList(watchlist_path(load_settings({}).config_dir))
    assert JobKey(REGION, b.organization_id, job_id) in watchlist.load()
    assert watchlist.owners()[(REGION, b.organization_id)] == "client-b"

    assert main(["cancel", "--yes", b.organization_id, job_id]) == 0
    assert f"cancelled: {REGION}/{b.organization_id}/{job_id}" in capsys.readouterr().out

    # The trail says which profile acted, for the start and the cancel alike.
    assert main(["log", "--json"]) == 0
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert {entry["profile"] for entry in logged if entry.get("job_id") == job_id} == {"client-b"}

    assert main(["report", b.organization_id, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["Profile"] for row in rows} == {"client-b"}
    assert job_id in {row["JobId"] for row in rows}
    assert list(rows[0])[-2:] == ["Profile", "Account"]


def test_without_a_profile_nothing_reaches_either_account(
    two_accounts: TwoAccounts, capsys: pytest.CaptureFixture[str]
) -> None:
    """Old watch lists (no profile) keep using the default chain: here it has no keys."""
    key = two_accounts.a.job_keys()[0]
    assert main(["add", key.organization_id, key.job_id, "--region", REGION]) == 0
    capsys.readouterr()
    assert main(["status", "--json"]) == 253
    out = json.loads(capsys.readouterr().out)
    assert [e["scope"] for e in out["errors"]] == ["all"]
    assert out["jobs"][0]["Profile"] is None


@pytest.fixture
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_a_profiles_services_section_is_honoured_and_sts_names_its_account(
    two_accounts: TwoAccounts, moto_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = two_accounts.a, two_accounts.b
    # client-b reaches WorkMail and STS through its `services` section, as botocore reads it.
    two_accounts.config_file.write_text(
        f"[profile client-a]\nregion = {REGION}\nendpoint_url = {a.server.endpoint_url}\n\n"
        f"[profile client-b]\nregion = {REGION}\nservices = b-endpoints\n\n"
        f"[services b-endpoints]\nworkmail =\n  endpoint_url = {b.server.endpoint_url}\n"
        f"sts =\n  endpoint_url = {moto_url}\n"
    )
    _watch_both(two_accounts)
    capsys.readouterr()
    assert main(["status"]) == 0
    table = capsys.readouterr().out
    assert f"{b.organization_id} ({REGION}) · profile client-b, account 123456789012" in table
    # client-a's STS is its emulator, which does not answer it: the profile's name stands in.
    assert f"{a.organization_id} ({REGION}) · profile client-a\n" in table
    assert main(["status", "--json"]) == 0
    jobs = json.loads(capsys.readouterr().out)["jobs"]
    accounts = {job["Profile"]: job["Account"] for job in jobs}
    assert accounts == {"client-a": None, "client-b": "123456789012"}


def test_endpoint_url_on_the_command_line_still_counts_for_every_profile(
    two_accounts: TwoAccounts, capsys: pytest.CaptureFixture[str]
) -> None:
    _watch_both(two_accounts)
    capsys.readouterr()
    a = two_accounts.a
    a.server.state.reset_counters()
    two_accounts.b.server.state.reset_counters()
    main(["status", "--json", "--endpoint-url", a.server.endpoint_url])
    capsys.readouterr()
    assert a.server.state.counters_snapshot().total() >= 2
    assert two_accounts.b.server.state.counters_snapshot().total() == 0


def test_s3_checks_and_the_doctor_use_the_organizations_profile() -> None:
    from wmtui.core.models import ExportJob
    from wmtui.core.preflight import PreflightTarget
    from wmtui.core.profile_objects import ProfileObjects, ProfilePreflight

    class Who:
        def __init__(self, name: str) -> None:
            self.name = name

        def head_object(self, job: ExportJob) -> str:
            return self.name

        def check_many(self, jobs: list[ExportJob], **_: object) -> dict[JobKey, str]:
            return {job.key: self.name for job in jobs}

        def run(self, target: PreflightTarget) -> str:
            return self.name

    book = ProfileBook()
    book.learn({(REGION, ORG_B): "client-b"})
    objects = ProfileObjects(Who("default"), book, Who)  # type: ignore[arg-type]
    job_a, job_b = (
        ExportJob(key=JobKey(REGION, ORG_A, "a")),
        ExportJob(key=JobKey(REGION, ORG_B, "b")),
    )
    assert objects.head_object(job_b) == "client-b"
    assert objects.check_many([job_a, job_b]) == {job_a.key: "default", job_b.key: "client-b"}
    doctor = ProfilePreflight(Who("default"), book, Who)  # type: ignore[arg-type]
    target = PreflightTarget(REGION, ORG_B, "bucket", "p", ROLE, KMS)
    assert doctor.run(target) == "client-b"


def test_an_organizations_commands_use_the_region_it_is_watched_in(
    two_accounts: TwoAccounts, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --region and no default region: the watch list says where the organization is."""
    b = two_accounts.b
    ids = [key.job_id for key in b.job_keys()]
    assert main(["add", "--profile", b.profile, b.organization_id, *ids]) == 0
    capsys.readouterr()
    # Read from b's account: its mailboxes, not all exported yet (exit 1), not "no region" (253).
    assert main(["coverage", b.organization_id, "--json"]) == 1
    assert "alice" in capsys.readouterr().out


def test_a_refresh_keeps_one_profiles_credentials_problem_to_its_own_jobs() -> None:
    from wmtui.core.board import JobBoard
    from wmtui.core.models import ExportJob, JobState
    from wmtui.core.refresh import RefreshPlanner
    from wmtui.core.service import ErrorKind, ServiceError

    class Working:
        def describe_job(self, key: JobKey) -> ExportJob:
            return ExportJob(key=key, state=JobState.RUNNING, estimated_progress=50)

    class Expired:
        def describe_job(self, key: JobKey) -> ExportJob:
            raise ServiceError(ErrorKind.SSO_TOKEN, "the SSO session of client-b has expired")

    book = ProfileBook()
    book.learn({(REGION, ORG_B): "client-b"}, [(REGION, ORG_A), (REGION, ORG_B)])
    router = ProfileRouter(Working(), book, lambda profile: Expired())  # type: ignore[arg-type,return-value]
    a_key, b_key = JobKey(REGION, ORG_A, "job-a"), JobKey(REGION, ORG_B, "job-b")
    result = RefreshPlanner().refresh(router, [a_key, b_key], {})  # type: ignore[arg-type]
    assert result.global_error is None
    assert set(result.jobs) == {a_key}
    assert list(result.profile_errors) == ["client-b"]
    assert result.org_errors[(REGION, ORG_B)].kind is ErrorKind.SSO_TOKEN
    board = JobBoard()
    board.set_watched([a_key, b_key])
    board.apply(result)
    assert board.error_for(b_key) is not None and board.error_for(a_key) is None
    assert board.profile_errors == result.profile_errors


def test_export_org_with_a_profile_keeps_it_for_the_jobs_it_watches(
    two_accounts: TwoAccounts, capsys: pytest.CaptureFixture[str]
) -> None:
    b = two_accounts.b
    where = ["--bucket", "bucket", "--prefix", "p", "--role-arn", ROLE, "--kms-key-arn", KMS]
    code = main(["--profile", "client-b", "export-org", b.organization_id, *where, "--once"])
    assert code in (0, 75), capsys.readouterr().err
    watchlist = WatchList(watchlist_path(load_settings({}).config_dir))
    assert watchlist.load()
    # Read later without --profile, the jobs still go to b's account.
    assert watchlist.owners() == {(REGION, b.organization_id): "client-b"}


def test_an_ended_jobs_notification_names_its_own_profile(
    two_accounts: TwoAccounts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_notify import heard, recorder

    _watch_both(two_accounts)
    command, log = recorder(tmp_path)
    assert main(["status", "--notify-command", command]) == 0
    for account in (two_accounts.a, two_accounts.b):
        account.server.state.clock.advance(timedelta(hours=6))
    assert main(["status", "--notify-command", command]) == 0
    capsys.readouterr()
    profiles = {str(event["job_id"]): event["profile"] for event in heard(log)}
    ended = {
        key.job_id: account.profile
        for account in (two_accounts.a, two_accounts.b)
        for key in account.job_keys()
        if key.job_id in profiles
    }
    assert ended and {event_profile for event_profile in ended.values()} == {
        "client-a",
        "client-b",
    }
    assert profiles == ended
