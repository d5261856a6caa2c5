"""Names, start, cancel, read-only, the download URL, describe-on-select and the column layout,
driven by keys over an in-process service, asserting what a user would notice."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_ui_app import (
    SIZE,
    cell,
    detail,
    notices,
    rendered,
    rows,
    settle,
    static_text,
    table,
    watchlist_keys,
)
from test_ui_fakes import (
    ORG,
    REGION,
    FakeService,
    build_app,
    key,
    people,
    standard_jobs,
)
from textual.pilot import Pilot
from textual.widgets import Input, Log, OptionList

from wmtui.core.cache import JobCache
from wmtui.core.export import ExportSpec
from wmtui.core.locations import names_cache_path
from wmtui.core.models import ExportJob, JobState, Mailbox
from wmtui.core.names import NameDirectory
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.ui.app import WmtuiApp
from wmtui.ui.flows.copy import https_url_problem
from wmtui.ui.keys import binding_table
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.export_org import ExportFormScreen, check_export_form
from wmtui.ui.screens.help import HelpScreen
from wmtui.ui.screens.start import StartExportScreen, check_start_form, mailbox_matches
from wmtui.ui.widgets.job_table import COLUMN_KEYS, column_widths

ROLE = "arn:aws:iam::111122223333:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:111122223333:key/abcd-1234"


@pytest.fixture
def jobs() -> list[ExportJob]:
    return standard_jobs()


@pytest.fixture
def service(jobs: list[ExportJob]) -> FakeService:
    return FakeService(jobs, mailboxes=people(8))


def app_for(tmp_path: Path, service: FakeService, jobs: list[ExportJob], **kw: Any) -> WmtuiApp:
    return build_app(tmp_path, service, [job.key for job in jobs], **kw)


async def fill(pilot: Pilot[Any], selector: str, value: str) -> None:
    box = pilot.app.screen.query_one(selector, Input)
    box.value = value
    await pilot.pause()


def error_of(pilot: Pilot[Any], selector: str) -> str | None:
    widget = pilot.app.screen.query_one(selector)
    if not widget.display:
        return None
    return static_text(pilot.app.screen, selector)


# ---- names -------------------------------------------------------------------------------------


async def test_names_show_in_the_table_and_detail_and_are_filterable(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert cell(app, key(1), "mailbox") == "Ann Example 1"
        assert cell(app, key(2), "mailbox") == "Bob Example 2"
        table(app).select_key(str(key(3)))
        await pilot.pause()
        shown = detail(app)
        for expected in ("Cleo Example 3", "cleo3@example.com", "S-1-5-18-1003"):
            assert expected in shown, expected
        # `/` finds a job by its mailbox's email and by its name.
        await pilot.press("slash")
        await fill(pilot, "#filter", "bob2@example")
        assert rows(app) == [key(2)]
        await fill(pilot, "#filter", "CLEO example")
        assert rows(app) == [key(3)]
    # One listing for the organization, kept in the cache dir with its age.
    assert service.calls["ListUsers"] == 1
    cached = json.loads(names_cache_path(tmp_path / "cache").read_text())
    assert f"{REGION}/{ORG}" in cached["organizations"]


async def test_names_from_the_cache_show_before_any_call_answers(
    tmp_path: Path, jobs: list[ExportJob]
) -> None:
    directory = NameDirectory(names_cache_path(tmp_path / "cache"))
    directory.refresh_org(FakeService(mailboxes=people(8)), REGION, ORG)
    service = FakeService(jobs, mailboxes=people(8))
    service.gate = threading.Event()
    app = app_for(tmp_path, service, jobs, cached=jobs)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(50):
            await pilot.pause()
            if cell(app, key(1), "mailbox") == "Ann Example 1":
                break
        assert cell(app, key(1), "mailbox") == "Ann Example 1"
        assert sum(service.calls.values()) <= 1 and app.refreshing  # still waiting
        service.gate.set()
        await settle(app, pilot)
    assert service.calls["ListUsers"] == 0  # the cached list is fresh


class NoDirectoryService(FakeService):
    """ListUsers and DescribeUser refused: names cannot be read, jobs can."""

    def list_mailboxes(self, region: str, organization_id: str) -> list[Mailbox]:
        self._enter("ListUsers")
        raise ServiceError(
            ErrorKind.ACCESS_DENIED,
            "not allowed to call ListUsers [/]",
            "allow workmail:ListUsers",
        )


async def test_a_names_failure_is_said_once_and_never_breaks_the_refresh(
    tmp_path: Path, jobs: list[ExportJob]
) -> None:
    service = NoDirectoryService(jobs)
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        for _ in range(2):
            await pilot.press("r")
            await settle(app, pilot)
        said = [n for n in notices(app) if "Mailbox names" in n]
        assert len(said) == 1 and "not allowed to call ListUsers [/]" in said[0]
        assert cell(app, key(1), "mailbox") == "S-1-5-18-1001"  # the ID instead
        assert cell(app, key(1), "state") == "● RUNNING"
        assert not app.query_one("#banner").display
        assert service.calls["ListUsers"] == 1  # not asked again every round


async def test_N_reads_the_names_again(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        service.mailboxes[0] = replace(service.mailboxes[0], display_name="Ann Renamed")
        await pilot.press("r")
        await settle(app, pilot)
        assert cell(app, key(1), "mailbox") == "Ann Example 1"  # fresh for 12 hours
        table(app).select_key(str(key(1)))
        await pilot.press("N")
        await settle(app, pilot)
        assert cell(app, key(1), "mailbox") == "Ann Renamed"
        assert any("Read the mailbox names" in n for n in notices(app))


# ---- n: start ----------------------------------------------------------------------------------


async def test_start_form_checks_every_field_as_you_type(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, StartExportScreen)
        # Region and organization come from the selected job.
        assert screen.query_one("#start-organization", Input).value == ORG
        await fill(pilot, "#start-bucket", "my bucket")
        assert "may hold only letters" in (error_of(pilot, "#start-bucket-error") or "")
        await fill(pilot, "#start-prefix", "exports 2027")
        assert "S3 prefix" in (error_of(pilot, "#start-prefix-error") or "")
        await fill(pilot, "#start-role_arn", "arn:aws:s3:::not-a-role-at-all")
        assert "IAM role ARN" in (error_of(pilot, "#start-role_arn-error") or "")
        await fill(pilot, "#start-kms_key_arn", "short")
        assert "20 to 2048" in (error_of(pilot, "#start-kms_key_arn-error") or "")
        await fill(pilot, "#start-description", "x" * 1024)
        assert "at most 1023" in (error_of(pilot, "#start-description-error") or "")
        await fill(pilot, "#start-organization", "m-12")
        assert "34 characters" in (error_of(pilot, "#start-organization-error") or "")
        # Fixing a field takes its error away.
        await fill(pilot, "#start-bucket", "wm-export")
        assert error_of(pilot, "#start-bucket-error") is None
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, StartExportScreen), "an invalid form is not sent"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, StartExportScreen)
    assert service.calls["StartMailboxExportJob"] == 0


async def test_start_picks_a_mailbox_by_name_confirms_and_watches_the_new_job(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, StartExportScreen)
        options = screen.query_one("#start-mailboxes", OptionList)
        assert options.option_count == 8
        await pilot.press(*"cleo")
        await pilot.pause()
        assert options.option_count == 1
        await pilot.press("enter")
        await pilot.pause()
        chosen = screen.chosen
        assert chosen is not None and chosen.email == "cleo3@example.com"
        assert "Cleo Example 3" in static_text(screen, "#start-chosen")
        await fill(pilot, "#start-bucket", "wm-export")
        await fill(pilot, "#start-prefix", "pre-shutdown")
        await fill(pilot, "#start-role_arn", ROLE)
        await fill(pilot, "#start-kms_key_arn", KMS)
        await fill(pilot, "#start-description", "[red]before the shutdown")
        await pilot.press("ctrl+s")
        await pilot.pause()
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        summary = static_text(confirm, "#confirm-question")
        for expected in ("Cleo Example 3", "s3://wm-export/pre-shutdown", ROLE, KMS, "[red]"):
            assert expected in summary, expected
        await pilot.press("y")
        await settle(app, pilot)
        assert len(service.started) == 1
        region, org, request = service.started[0]
        assert (region, org, request.entity_id) == (REGION, ORG, "S-1-5-18-1003")
        assert request.client_token, "a confirmed start carries its own token"
        new = key(101)
        assert new in rows(app) and new in watchlist_keys(app)
        assert cell(app, new, "mailbox") == "Cleo Example 3"
        assert cell(app, new, "state") == "● RUNNING"
        assert any("Started the export of Cleo Example 3" in n for n in notices(app))
        # The destination is remembered for the organization.
        await pilot.press("n")
        await settle(app, pilot)
        assert app.screen.query_one("#start-bucket", Input).value == "wm-export"
        assert app.screen.query_one("#start-role_arn", Input).value == ROLE
    state = json.loads((tmp_path / "config" / "ui-state.json").read_text())
    assert state["start_defaults"][ORG]["kms_key_arn"] == KMS


async def test_declining_the_confirmation_goes_back_to_the_form(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press(*"ann", "enter")
        for selector, value in (
            ("#start-bucket", "wm-export"),
            ("#start-prefix", "p"),
            ("#start-role_arn", ROLE),
            ("#start-kms_key_arn", KMS),
        ):
            await fill(pilot, selector, value)
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("n")  # No
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, StartExportScreen)
        assert screen.chosen is not None and screen.chosen.display_name == "Ann Example 1"
        assert screen.query_one("#start-prefix", Input).value == "p"
    assert service.calls["StartMailboxExportJob"] == 0


async def test_limit_exceeded_is_explained_and_nothing_is_watched(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    service.start_error = ServiceError(
        ErrorKind.LIMIT_EXCEEDED, "the export limit is reached: [b]10 running", code="LimitExceeded"
    )
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press(*"dan", "enter")
        for selector, value in (
            ("#start-bucket", "wm-export"),
            ("#start-prefix", "p"),
            ("#start-role_arn", ROLE),
            ("#start-kms_key_arn", KMS),
        ):
            await fill(pilot, selector, value)
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
        said = notices(app)[-1]
        assert "not started" in said and "[b]10 running" in said
        assert "at most 10 exports at once per organization" in said
        assert "one export per mailbox per 24 hours" in said
        assert len(watchlist_keys(app)) == len(jobs)


def test_check_start_form_rules() -> None:
    good = {
        "region": REGION,
        "organization": ORG,
        "mailbox": "",
        "bucket": "a.b-c",
        "prefix": "x/y(1)!",
        "role_arn": ROLE,
        "kms_key_arn": KMS,
        "description": "",
    }
    ann = people(1)[0]
    assert check_start_form(good, ann, listed=True).ok
    assert not check_start_form(good, None, listed=True).ok
    assert "mailbox" in check_start_form(good, None, listed=True, require_all=True).errors
    typed = check_start_form({**good, "mailbox": "ann@example.com"}, None, listed=False)
    assert typed.ok and typed.plan is not None
    assert typed.plan.request.entity_id == "ann@example.com"
    assert "mailbox" in check_start_form({**good, "mailbox": "a b"}, None, listed=False).errors
    disabled = replace(ann, state="DISABLED")
    assert "DISABLED" in check_start_form(good, disabled, listed=True).errors["mailbox"]
    assert "bucket" in check_start_form({**good, "bucket": "x" * 64}, ann, listed=True).errors
    assert "kms_key_arn" in check_start_form({**good, "kms_key_arn": ROLE}, ann, listed=True).errors
    assert [m.entity_id for m in mailbox_matches(people(8), "CLEO example")] == ["S-1-5-18-1003"]


# ---- c: cancel ---------------------------------------------------------------------------------


async def test_c_cancels_a_running_job_after_confirmation(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(key(2)))
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Bob Example 2" in static_text(app.screen, "#confirm-question")
        await pilot.press("n")
        await settle(app, pilot)
        assert cell(app, key(2), "state") == "● RUNNING"
        await pilot.press("c", "y")
        await settle(app, pilot)
        assert cell(app, key(2), "state") == "⊘ CANCELLED"
        assert service.jobs[key(2)].state is JobState.CANCELLED
        assert any("Cancelled job" in n for n in notices(app))


async def test_c_refuses_a_final_job_with_a_note(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(key(3)))
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        said = notices(app)[-1]
        assert "COMPLETED" in said and "only a RUNNING export can be cancelled" in said
    assert service.calls["CancelMailboxExportJob"] == 0


# ---- read-only ---------------------------------------------------------------------------------


async def test_read_only_hides_and_refuses_start_cancel_and_export(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs, read_only=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        active = app.screen.active_bindings
        shown_keys = {k for k, active_binding in active.items() if active_binding.binding.show}
        assert {"r", "y", "a"} <= shown_keys
        assert not {"n", "c", "E"} & shown_keys
        table(app).select_key(str(key(1)))
        await pilot.press("n", "c", "E")
        await pilot.pause()
        assert app.screen is app.screen_stack[0], "no form, no confirmation"
        assert len(notices(app)) == 3 and all("read-only" in n for n in notices(app))
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        help_lines = "\n".join(rendered(app.screen.query_one("#help-keys")))
        assert "Refresh" in help_lines
        assert "Start" not in help_lines and "Export org" not in help_lines
        await pilot.press("escape")
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        for title in ("Start (n)", "Cancel (c)", "Export org (E)"):
            commands[title].callback()
            await pilot.pause()
            assert "read-only" in notices(app)[-1]
        assert app.screen is app.screen_stack[0]
    for operation in ("StartMailboxExportJob", "CancelMailboxExportJob"):
        assert service.calls[operation] == 0


# ---- Y: presigned URL --------------------------------------------------------------------------


async def test_Y_copies_a_presigned_https_url_of_a_completed_export(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs, presign_expiry=900)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(key(1)))
        await pilot.press("Y")
        await settle(app, pilot)
        assert app.clipboard == ""
        assert "still RUNNING" in notices(app)[-1]
        table(app).select_key(str(key(4)))
        await pilot.press("Y")
        await settle(app, pilot)
        assert "FAILED" in notices(app)[-1] and app.clipboard == ""
        table(app).select_key(str(key(3)))
        await pilot.press("Y")
        await settle(app, pilot)
        assert app.clipboard.startswith("https://wm-export.s3.us-east-1.amazonaws.com/")
        assert "X-Amz-Signature=" in app.clipboard and "X-Amz-Expires=900" in app.clipboard
        said = notices(app)[-1]
        assert "Download URL" in said and "15m" in said and app.clipboard in said


def test_https_url_problem() -> None:
    assert https_url_problem("https://b.s3.amazonaws.com/k?X-Amz-Signature=1") is None
    assert https_url_problem("http://b/k") is not None
    assert https_url_problem("https://b/k\nrm -rf ~") is not None
    assert https_url_problem("https://b/k x") is not None
    assert https_url_problem("https://b/k\u202e") is not None


# ---- describe on select ------------------------------------------------------------------------


async def wait_for(pilot: Pilot[Any], condition: Any, rounds: int = 200) -> None:
    """A bounded wait on something a user would see (the debounce timer runs in real time)."""
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("the condition never came true")


async def test_resting_on_a_listed_job_describes_it_once(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs)
    app.describe_delay = 0.05
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        # A completed job read from ListMailboxExportJobs: no ARNs, no prefix yet.
        service.gate = threading.Event()  # the Describe waits until the screen was looked at
        table(app).select_key(str(key(3)))
        await pilot.pause()
        assert "List omits it" in detail(app) and ROLE not in detail(app)
        service.gate.set()
        await wait_for(pilot, lambda: ROLE in detail(app))
        shown = detail(app)
        assert KMS in shown and "List omits it" not in shown
        described = service.calls["DescribeMailboxExportJob"]
        # Another one, then back: the first is not asked again in this session.
        table(app).select_key(str(key(5)))
        await wait_for(pilot, lambda: app.jobs[key(5)].described)
        table(app).select_key(str(key(3)))
        await pilot.pause(0.1)
        await settle(app, pilot)
        assert service.calls["DescribeMailboxExportJob"] == described + 1
        # r forgets that: resting on it asks once more.
        await pilot.press("r")
        await settle(app, pilot)
        assert app.jobs[key(3)].described


async def test_moving_quickly_describes_only_where_the_cursor_rests(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs)
    app.describe_delay = 0.3
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await wait_for(pilot, lambda: app.jobs[rows(app)[0]].described)
        before = service.calls["DescribeMailboxExportJob"]
        await pilot.press("j", "j", "j")
        rested = app.selected_key()
        assert rested is not None
        await wait_for(pilot, lambda: app.jobs[rested].described)
        assert service.calls["DescribeMailboxExportJob"] == before + 1
        assert [k for k in rows(app)[1:3] if app.jobs[k].described] == []


# ---- E: the form (the run itself is tested against the emulator) ------------------------------


async def test_export_form_checks_fields_and_fills_the_remembered_destination(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("E")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ExportFormScreen)
        assert screen.query_one("#export-max_running", Input).value == "10"
        await fill(pilot, "#export-max_running", "11")
        assert "at most 10" in (error_of(pilot, "#export-max_running-error") or "")
        await fill(pilot, "#export-bucket", "Bad_Bucket")
        assert error_of(pilot, "#export-bucket-error") is not None
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ExportFormScreen)
        await pilot.press("escape")
        await pilot.pause()
    check = check_export_form(
        {
            "region": REGION,
            "organization": ORG,
            "bucket": "b",
            "prefix": "p",
            "role_arn": ROLE,
            "kms_key_arn": KMS,
            "max_running": "4",
            "description": "",
        }
    )
    assert check.ok and check.spec is not None and check.spec.running_limit == 4


# ---- layout ------------------------------------------------------------------------------------


async def test_every_column_fits_beside_the_detail_pane_at_120_columns(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        lines = rendered(table(app))
        assert "Description" in lines[0] and "Mailbox" in lines[0]
        widths = table(app).widths
        assert widths["description"] >= 10 and widths["mailbox"] >= 10
        used = sum(widths[column] + 2 for column in COLUMN_KEYS)
        assert used <= table(app).size.width
        # Long text is cut with an ellipsis in its column, the whole stays in the pane.
        row = next(line for line in lines if "Ann Example 1" in line)
        assert "mailbox 1 e" in row and "…" in row
        assert table(app).virtual_size.width <= table(app).size.width


def test_column_widths_give_the_description_the_rest() -> None:
    narrow, wide = column_widths(87), column_widths(200)
    assert narrow["job"] == 9 and wide["job"] == 36
    assert wide["description"] > narrow["description"] >= 10
    for widths, total in ((narrow, 87), (wide, 200)):
        assert sum(widths.values()) + 2 * len(widths) <= total


def test_binding_table_names_the_new_keys() -> None:
    table_ = dict(binding_table())
    assert table_["n"] == "Start"
    assert table_["c"] == "Cancel"
    assert table_["E"] == "Export org"
    assert table_["Y"] == "Copy download URL"
    assert table_["N"] == "Reload names"


async def test_names_survive_a_restart_through_the_cache(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
    again = FakeService(jobs, mailboxes=people(8))
    # The same folders: the watch list, the job cache and the names cache are still there.
    assert JobCache(tmp_path / "cache" / "jobs.json").load()
    second = build_app(tmp_path, again, [])
    async with second.run_test(size=SIZE) as pilot:
        await settle(second, pilot)
        assert cell(second, key(1), "mailbox") == "Ann Example 1"
    assert again.calls["ListUsers"] == 0


# ---- hostile names -----------------------------------------------------------------------------

HOSTILE_NAME = "[@click=app.quit]x[/] \x1b]52;c;ZXZpbA==\x07 right\u202eleft"


async def test_hostile_names_show_literally_in_the_picker_the_confirmation_and_the_export_log(
    tmp_path: Path, jobs: list[ExportJob]
) -> None:
    mailboxes = [
        replace(m, display_name=HOSTILE_NAME if n == 4 else m.display_name)
        for n, m in enumerate(people(8), start=1)
    ]
    service = FakeService(jobs, mailboxes=mailboxes)
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert cell(app, key(4), "mailbox").startswith("[@click=app.quit]x[/] \\x1b]52")
        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press(*"click", "enter")
        screen = app.screen
        assert isinstance(screen, StartExportScreen)
        assert "[@click=app.quit]x[/]" in static_text(screen, "#start-chosen")
        for selector, value in (
            ("#start-bucket", "wm-export"),
            ("#start-prefix", "p"),
            ("#start-role_arn", ROLE),
            ("#start-kms_key_arn", KMS),
        ):
            await fill(pilot, selector, value)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "\\x1b]52" in static_text(app.screen, "#confirm-question")
        assert "\x1b" not in app.export_screenshot()
        await pilot.press("escape", "escape")
        await pilot.pause()
        # The organization-wide export names it in its log, escaped.
        app.export_wait = lambda seconds, stop: stop.set()
        progress = app.open_export(ExportSpec(REGION, ORG, "wm-export", "org", ROLE, KMS))
        await settle(app, pilot)
        log = "\n".join(progress.query_one("#export-log", Log).lines)
        assert "started [@click=app.quit]x[/] \\x1b]52" in log
        assert "\x1b" not in log and "\x1b" not in app.export_screenshot()
        assert app.is_running


async def test_without_a_mailbox_list_the_mailbox_can_be_typed(
    tmp_path: Path, jobs: list[ExportJob]
) -> None:
    service = NoDirectoryService(jobs)
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, StartExportScreen)
        status = static_text(screen, "#start-list-status")
        assert "Could not list the mailboxes" in status and "Type the mailbox's ID" in status
        await fill(pilot, "#start-mailbox", "bad mailbox")
        assert "may hold only" in (error_of(pilot, "#start-mailbox-error") or "")
        for selector, value in (
            ("#start-mailbox", "ann1@example.com"),
            ("#start-bucket", "wm-export"),
            ("#start-prefix", "p"),
            ("#start-role_arn", ROLE),
            ("#start-kms_key_arn", KMS),
        ):
            await fill(pilot, selector, value)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
    assert [request.entity_id for _, _, request in service.started] == ["ann1@example.com"]


async def test_an_export_the_service_refuses_stops_with_the_reason_on_its_screen(
    tmp_path: Path, jobs: list[ExportJob], service: FakeService
) -> None:
    service.start_error = ServiceError(
        ErrorKind.INVALID_PARAMETER,
        "the role [b]cannot be assumed[/b] by export.workmail.amazonaws.com",
        "check the role's trust policy",
    )
    app = app_for(tmp_path, service, jobs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        screen = app.open_export(ExportSpec(REGION, ORG, "wm-export", "org", ROLE, KMS))
        await settle(app, pilot)
        problem = static_text(screen, "#export-problem")
        assert "The export stopped" in problem
        assert "the role [b]cannot be assumed[/b]" in problem
        assert "Fix: check the role's trust policy" in problem
        assert "resumes" in problem
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0] and app.is_running
