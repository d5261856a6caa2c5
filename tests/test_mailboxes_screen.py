"""The mailboxes screen (`m`): groups, filter, sort, marks, starts within the limits, read-only.

The organization: people 1-8 have the standard jobs (1, 2, 6 running; 3 completed 5 hours ago;
4 failed; 5 cancelled; 7 and 8 completed days ago), the others have none, and one is disabled.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from test_ui_app import SIZE, notices, settle, static_text
from test_ui_fakes import ORG, REGION, FakeService, build_app, people, standard_jobs
from textual.pilot import Pilot

from wmtui.core.coverage import DISABLED_WHY, Group
from wmtui.core.destinations import Destination, remember_destination
from wmtui.core.models import Mailbox
from wmtui.ui.app import WmtuiApp
from wmtui.ui.flows.mailboxes import MailboxesFlow
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.mailboxes import MailboxesScreen
from wmtui.ui.widgets.mailbox_table import MailboxTable

DESTINATION = Destination(
    "wm-export",
    "exports",
    "arn:aws:iam::111122223333:role/WorkMailExport",
    "arn:aws:kms:us-east-1:111122223333:key/abcd-1234",
)


def directory(count: int) -> list[Mailbox]:
    boxes = people(count)
    boxes.append(Mailbox("S-1-5-18-9999", name="zoe", email="zoe@example.com", state="DISABLED"))
    return boxes


def make_app(
    tmp_path: Path, count: int = 12, *, read_only: bool = False, destination: bool = True
) -> tuple[WmtuiApp, FakeService]:
    jobs = standard_jobs()
    service = FakeService(jobs, mailboxes=directory(count))
    if destination:
        remember_destination(tmp_path / "config", REGION, ORG, DESTINATION)
    app = build_app(tmp_path, service, [job.key for job in jobs], read_only=read_only)
    return app, service


async def open_mailboxes(app: WmtuiApp, pilot: Pilot[Any]) -> MailboxesScreen:
    await settle(app, pilot)
    await pilot.press("m")
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, MailboxesScreen)
    for _ in range(50):
        if screen.complete:
            break
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert screen.complete
    return screen


def names(screen: MailboxesScreen) -> list[str]:
    return [row.mailbox.name or "" for row in screen.shown]


def select(screen: MailboxesScreen, name: str) -> None:
    index = names(screen).index(name)
    screen.query_one(MailboxTable).move_cursor(row=index, animate=False)


def group_of(screen: MailboxesScreen, name: str) -> Group:
    return next(row.group for row in screen.rows if row.mailbox.name == name)


async def confirm(app: WmtuiApp, pilot: Pilot[Any]) -> str:
    await pilot.pause()
    dialog = app.screen
    assert isinstance(dialog, ConfirmScreen)
    text = static_text(dialog, "#confirm-question")
    await pilot.press("y")
    await settle(app, pilot)
    return text


async def test_every_mailbox_in_its_group_with_the_deadline(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        # Before any organization is read, the status line already counts the days left.
        before = static_text(app.screen, "#status")
        assert "d to 31 Mar 2027" in before and " out" not in before
        screen = await open_mailboxes(app, pilot)
        assert len(screen.rows) == 13
        expected = {
            "ann1": Group.RUNNING,
            "bob2": Group.RUNNING,
            "cleo3": Group.EXPORTED,
            "dan4": Group.FAILED,
            "eve5": Group.FAILED,
            "hal8": Group.EXPORTED,
            "ida9": Group.NOT_EXPORTED,
            "zoe": Group.DISABLED,
        }
        for name, group in expected.items():
            assert group_of(screen, name) is group, name
        # The groups come in the order an admin acts on them.
        orders = [row.group.order for row in screen.shown]
        assert orders == sorted(orders)
        panel = static_text(screen, "#deadline")
        assert "End of support 31 March 2027" in panel
        assert "0 verified · 3 exported · 9 left of 12 enabled mailboxes (3 running)" in panel
        await pilot.press("escape")
        await pilot.pause()
        # Back on the jobs screen, the status line carries the deadline's short form.
        assert "d to 31 Mar 2027 · 3/12 out" in static_text(app.screen, "#status")


async def test_filter_sort_and_group_filter(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_mailboxes(app, pilot)
        await pilot.press("slash", *"ida")
        await pilot.pause()
        assert names(screen) == ["ida9"]
        await pilot.press("escape")
        await pilot.pause()
        assert len(screen.shown) == 13 and isinstance(app.screen, MailboxesScreen)
        await pilot.press("s")  # by name
        assert names(screen)[:4] == ["ann1", "ann11", "bob12", "bob2"]
        await pilot.press("g", "g")  # all -> not exported -> failed
        assert names(screen) == ["dan4", "eve5"]
        assert "group: failed" in static_text(screen, "#mailboxes-title")


async def test_marked_mailboxes_start_and_join_the_watch_list(tmp_path: Path) -> None:
    app, service = make_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_mailboxes(app, pilot)
        select(screen, "ida9")
        await pilot.press("space")
        select(screen, "jo10")
        await pilot.press("space")
        assert screen.marked == {"S-1-5-18-1009", "S-1-5-18-1010"}
        await pilot.press("n")
        summary = await confirm(app, pilot)
        assert "Ida Example 9, Jo Example 10" in summary
        assert screen.marked == set()  # started: no longer marked
        assert sorted(r.entity_id for _, _, r in service.started) == [
            "S-1-5-18-1009",
            "S-1-5-18-1010",
        ]
        assert all(r.s3_bucket_name == "wm-export" for _, _, r in service.started)
        assert len(app.watched) == 10
        assert group_of(screen, "ida9") is Group.RUNNING
        assert any("Started the export of Ida Example 9" in n for n in notices(app))


async def test_the_24_hour_rule_queues_with_the_time_left(tmp_path: Path) -> None:
    app, service = make_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_mailboxes(app, pilot)
        select(screen, "cleo3")  # exported 5 hours ago
        await pilot.press("n")
        summary = await confirm(app, pilot)
        assert "Cleo Example 3 (eligible in 19h 0m)" in summary
        assert not service.started
        row = names(screen).index("cleo3")
        note = str(screen.query_one(MailboxTable).cells_at(row)[-1])
        assert note == "queued: eligible in 19h 0m"


async def test_starts_beyond_the_10_slots_wait_for_one(tmp_path: Path) -> None:
    app, service = make_app(tmp_path, count=20)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_mailboxes(app, pilot)
        screen.marked = {row.entity_id for row in screen.rows if row.group is Group.NOT_EXPORTED}
        assert len(screen.marked) == 12
        await pilot.press("n")
        summary = await confirm(app, pilot)
        # 3 running: 7 start now, 5 wait for a slot.
        assert len(service.started) == 7
        assert summary.count("waiting for a slot") == 5
        flow = MailboxesFlow.of(app.jobs_screen)
        assert len(flow.queued(REGION, ORG)) == 5
        # Two exports end: the queue starts two more.
        for job_key in list(service.jobs)[:2]:
            job = app.jobs_screen.board.jobs[job_key]
            app.jobs_screen.board.jobs[job_key] = replace(job, state=job.state.COMPLETED)
        flow.drain()
        await settle(app, pilot)
        assert len(service.started) == 9 and len(flow.queued(REGION, ORG)) == 3


async def test_retry_failed_starts_every_failed_mailbox(tmp_path: Path) -> None:
    app, service = make_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_mailboxes(app, pilot)
        await pilot.press("R")
        await confirm(app, pilot)
        assert sorted(r.entity_id for _, _, r in service.started) == [
            "S-1-5-18-1004",
            "S-1-5-18-1005",
        ]


async def test_read_only_refuses_with_a_message(tmp_path: Path) -> None:
    app, service = make_app(tmp_path, read_only=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_mailboxes(app, pilot)
        select(screen, "ida9")
        await pilot.press("n", "R")
        await pilot.pause()
        assert isinstance(app.screen, MailboxesScreen)
        assert not service.started
        said = notices(app)
        assert any("Starting an export is not allowed: wmtui runs read-only" in n for n in said)
        assert any("Retrying exports is not allowed" in n for n in said)


async def test_disabled_mailbox_says_why_and_without_a_destination_the_latest_job_s_is_used(
    tmp_path: Path,
) -> None:
    app, service = make_app(tmp_path, destination=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_mailboxes(app, pilot)
        select(screen, "zoe")
        await pilot.press("n")
        await pilot.pause()
        assert any(DISABLED_WHY in n for n in notices(app))
        assert not service.started
        select(screen, "ida9")
        await pilot.press("n")
        summary = await confirm(app, pilot)
        # Nothing remembered: the organization's newest watched job that names all four.
        assert "s3://wm-export/exports" in summary
        assert re.search(r"KMS key of job [0-9a-f-]{36}, the organization's latest", summary)
        assert [(r.entity_id, r.s3_bucket_name, r.role_arn) for _, _, r in service.started] == [
            ("S-1-5-18-1009", "wm-export", DESTINATION.role_arn)
        ]


async def test_without_any_destination_known_says_what_to_do(tmp_path: Path) -> None:
    service = FakeService([], mailboxes=directory(3))
    app = build_app(tmp_path, service, [])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        MailboxesFlow.of(app.jobs_screen).open((REGION, ORG))
        for _ in range(50):
            screen = app.screen
            if isinstance(screen, MailboxesScreen) and screen.complete:
                break
            await app.workers.wait_for_complete()
            await pilot.pause()
        assert isinstance(screen, MailboxesScreen)
        select(screen, "ann1")
        await pilot.press("n")
        await pilot.pause()
        assert any("No destination is remembered" in n for n in notices(app))
        assert not service.started


def test_mailboxes_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)

    async def run_before(pilot: Pilot[Any]) -> None:
        assert isinstance(pilot.app, WmtuiApp)
        screen = await open_mailboxes(pilot.app, pilot)
        select(screen, "ida9")
        await pilot.press("space")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(130, 36), run_before=run_before)


async def test_an_export_run_elsewhere_shows_in_the_status_line_and_the_exports_list(
    tmp_path: Path,
) -> None:
    from test_ui_fakes import NOW

    from wmtui.core.export import (
        ExportSpec,
        MailboxRecord,
        MailboxStatus,
        export_state_path,
    )
    from wmtui.core.export.state import ExportLock, StateWriter

    app, _ = make_app(tmp_path)
    spec = ExportSpec(
        REGION, ORG, "wm-export", "exports", DESTINATION.role_arn, DESTINATION.kms_key_arn
    )
    path = export_state_path(tmp_path / "data", spec)
    records = [
        MailboxRecord(
            entity_id=f"S-1-5-18-{1000 + n}",
            status=MailboxStatus.COMPLETED if n <= 2 else MailboxStatus.RUNNING,
        )
        for n in range(1, 6)
    ]
    StateWriter(path).save(spec, NOW, NOW, records)
    # Another process runs it: its lock is held (here by this test, as export-org would).
    lock = ExportLock(path)
    lock.take()
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(app, pilot)
            for _ in range(100):
                if "exporting org" in static_text(app.screen, "#status"):
                    break
                await app.workers.wait_for_complete()
                await pilot.pause()
            assert f"exporting org {ORG}: 2/5" in static_text(app.screen, "#status")
            await pilot.press("O")
            for _ in range(100):
                await app.workers.wait_for_complete()
                await pilot.pause()
                shown = static_text(app.screen, "#org-exports-list")
                if "done" in shown:
                    break
            assert shown.startswith("running") and "2/5 done, running" in shown
            assert "3 running" in shown
    finally:
        lock.release()
