"""What a new user tripped over in the app (issue 16, part 2)."""

from __future__ import annotations

from pathlib import Path

from test_ui_app import SIZE, notices, settle, static_text, table
from test_ui_fakes import FakeService, build_app, key, people, standard_jobs


async def test_read_only_keys_say_why_they_do_nothing(tmp_path: Path) -> None:
    jobs = standard_jobs()
    service = FakeService(jobs, mailboxes=people(8))
    app = build_app(tmp_path, service, [job.key for job in jobs], read_only=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert static_text(app.screen, "#status").startswith("read-only │ ")
        table(app).select_key(str(key(1)))
        for pressed, what in (("n", "Starting"), ("c", "Cancelling"), ("E", "Exporting")):
            await pilot.press(pressed)
            await pilot.pause()
            assert app.screen is app.screen_stack[0], "no form, no confirmation"
            assert notices(app)[-1].startswith(f"{what} an")
            assert "read-only" in notices(app)[-1]
    for operation in ("StartMailboxExportJob", "CancelMailboxExportJob"):
        assert service.calls[operation] == 0


async def test_a_help_list_that_does_not_fit_says_it_scrolls_and_leaves_room_for_a_toast(
    tmp_path: Path,
) -> None:
    jobs = standard_jobs()
    service = FakeService(jobs, mailboxes=people(8))
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        more = app.screen.query_one("#help-more")
        assert more.display
        assert "more line" in static_text(app.screen, "#help-more")
        assert "below" in static_text(app.screen, "#help-more")
        await pilot.press("end")
        await pilot.pause()
        assert "above" in static_text(app.screen, "#help-more")
        assert "below" not in static_text(app.screen, "#help-more")
        # The bottom rows stay free: a toast there covers none of the box.
        dialog = app.screen.query_one("#help-dialog").region
        assert dialog.bottom <= 36 - 5
    tall = build_app(tmp_path / "tall", service, [job.key for job in jobs])
    async with tall.run_test(size=(120, 100)) as pilot:
        await settle(tall, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert not tall.screen.query_one("#help-more").display


async def test_the_table_sorts_by_mailbox_name_and_s_turns_any_sort_round(
    tmp_path: Path,
) -> None:
    from test_ui_app import cell, rows

    jobs = standard_jobs()
    service = FakeService(jobs, mailboxes=people(8))
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        started = rows(app)
        await pilot.press("s", "s", "s")
        await pilot.pause()
        assert "sort: mailbox A→Z" in static_text(app.screen, "#status")
        names = [cell(app, k, "mailbox").casefold() for k in rows(app)]
        assert names == sorted(names) and len(set(names)) > 1
        table(app).select_key(str(key(5)))
        await pilot.press("S")
        await pilot.pause()
        assert "sort: mailbox Z→A" in static_text(app.screen, "#status")
        assert [cell(app, k, "mailbox").casefold() for k in rows(app)] == sorted(
            names, reverse=True
        )
        assert app.selected_key() == key(5)
        await pilot.press("s")  # back to the start time, still turned round
        await pilot.pause()
        assert "sort: started ▲" in static_text(app.screen, "#status")
        assert rows(app) == started[::-1]


async def test_after_a_resize_the_cursor_row_stays_on_screen(tmp_path: Path) -> None:
    from datetime import timedelta

    from test_ui_fakes import make_job

    jobs = [make_job(n, started_ago=timedelta(minutes=n)) for n in range(1, 61)]
    service = FakeService(jobs, mailboxes=people(8))
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        grid = table(app)
        for row in (59, 30, 45):
            grid.move_cursor(row=row)
            await pilot.pause()
            for size in ((80, 24), (100, 30), (80, 20), (120, 40)):
                await pilot.resize_terminal(*size)
                await pilot.pause()
                await pilot.pause()
                top = round(grid.scroll_y)
                shown = grid.scrollable_content_region.height - 1  # the header row
                assert top <= grid.cursor_row < top + shown, (row, size, top, shown)


async def test_typing_across_tab_in_the_start_form_lands_in_the_next_field(tmp_path: Path) -> None:
    from textual.widgets import Input

    from wmtui.ui.screens.start import StartExportScreen

    jobs = standard_jobs()
    service = FakeService(jobs, mailboxes=people(8))
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(key(1)))
        # Typed at once, the mailbox list arriving whenever it does.
        await pilot.press("n", *"cleo", "tab", *"wm-export", "tab", *"exports")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, StartExportScreen)
        assert screen.query_one("#start-mailbox", Input).value == "cleo"
        assert screen.query_one("#start-bucket", Input).value == "wm-export"
        assert screen.query_one("#start-prefix", Input).value == "exports"
        # The list still takes a click.
        await pilot.click("#start-mailboxes", offset=(2, 0))
        await pilot.pause()
        assert screen.chosen is not None


async def test_the_export_form_proposes_where_the_organizations_jobs_went(tmp_path: Path) -> None:
    """Nothing remembered yet: E's fields hold the newest watched job's destination (values,
    not greyed examples that look filled and then say "required")."""
    from textual.widgets import Input

    from wmtui.ui.screens.export_org import ExportFormScreen

    jobs = standard_jobs()
    service = FakeService(jobs, mailboxes=people(8))
    app = build_app(tmp_path, service, [job.key for job in jobs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table(app).select_key(str(key(1)))
        await pilot.press("E")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ExportFormScreen)
        newest = max(jobs, key=lambda job: job.start_time or job.key.job_id)
        assert screen.query_one("#export-bucket", Input).value == newest.s3_bucket_name
        assert screen.query_one("#export-role_arn", Input).value == newest.role_arn
        assert screen.query_one("#export-kms_key_arn", Input).value == newest.kms_key_arn
