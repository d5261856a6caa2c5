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
