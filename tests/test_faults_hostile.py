"""Hostile text from the API, over the wire, through the whole app.

Descriptions, ErrorInfo, EntityIds, organization aliases, mailbox names and the service's own
error messages and codes carry markup, terminal escapes, C1 controls, bidi overrides and long
multi-line text. Everywhere the app shows them (table, detail pane, banner, notifications,
dialogs, an exported screenshot) they are shown literally, no escape reaches the terminal, and
nothing they spell out (a click action, a link) runs.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import timedelta
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
    escapes_in,
    make_app,
    notices,
    running_world,
    screen_lines,
    settle,
    svg_controls,
    terminal_output,
    watchlist_file,
)

from wmtui.core.models import JobKey
from wmtui.emulator.state import ApiError
from wmtui.ui import announce
from wmtui.ui.safe_text import sanitize
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.import_jobs import ImportScreen

_LONG = "".join(f"line {n:03d} [b]x[/b] \\ text\n" for n in range(60))[:1023]

# Issue 6, "Text from the API".
HOSTILE: dict[str, str] = {
    "close-tag": "[/]",
    "restyle": "[red]x[/red]",
    "link": "[link=https://example.com]x[/link]",
    "click-action": "[@click=app.quit]x[/]",
    "osc52-bel": "copy \x1b]52;c;cm0gLXJmIH4K\x07 done",
    "osc52-st": "copy \x1b]52;c;cm0gLXJmIH4K\x1b\\ done",
    "osc0-bel": "title \x1b]0;pwned\x07 done",
    "osc0-st": "title \x1b]0;pwned\x1b\\ done",
    "csi": "csi \x1b[2J\x1b[31mred\x1b[0m\x1b[?1049l done",
    "c1-8bit": "c1 \x9b31m \x9d0;t\x9c \x85 done",
    "bidi": "invoice\u202efdp.exe",
    "zero-width": "a\u200bb\u200cc\u200dd\u2060e\ufefff",
    "long-lines": _LONG,
    "trailing-backslash": "C:\\exports\\",
}
NAMES = list(HOSTILE)


def dangerous(text: str) -> list[str]:
    return [
        ch
        for ch in text
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") and ch != "\n"
    ]


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    botocore_backoff_tiny(monkeypatch)


@pytest.fixture
def world(aws_credentials: None) -> Iterator[World]:
    with running_world() as started:
        yield started


def hostile_jobs(world: World) -> dict[str, JobKey]:
    """One RUNNING export per hostile string, bound to fail with it as ErrorInfo."""
    keys: dict[str, JobKey] = {}
    for n, name in enumerate(NAMES):
        mailbox = world.state.add_mailbox(ORG, f"user{n}")
        job_id = f"hostile-{n:02d}"
        world.state.add_job(
            ORG,
            mailbox,
            state="RUNNING",
            progress=10,
            started_ago=timedelta(seconds=1 + n),
            duration=timedelta(minutes=10),
            outcome="FAILED",
            description=HOSTILE[name],
            error_info=HOSTILE[name],
            job_id=job_id,
        )
        keys[name] = JobKey(REGION, ORG, job_id)
    return keys


async def click_every(pilot: Any, app: Any, text: str) -> None:
    """Click on each place `text` is on screen, and count them."""
    places = [(line.index(text) + 1, y) for y, line in enumerate(screen_lines(app)) if text in line]
    assert places, f"{text!r} is not on screen:\n" + "\n".join(screen_lines(app))
    for x, y in places:
        await pilot.click(offset=(x, y))
        await pilot.pause()


def assert_screen_is_clean(app: Any) -> None:
    assert escapes_in(terminal_output(app)) == []
    svg = app.export_screenshot()
    assert svg_controls(svg) == []
    assert "\x1b" not in svg


async def test_descriptions_and_error_info_show_literally_in_table_detail_and_notifications(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every ending its own notice, with its ErrorInfo (more than three at once share one
    # summary of names, in the app: tests/test_ui_app.py).
    monkeypatch.setattr(announce, "NOTICES_EACH", len(HOSTILE))
    keys = hostile_jobs(world)
    app = make_app(tmp_path, world.service(), list(keys.values()))
    before = watchlist_file(app).read_bytes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert all(app.jobs[key].state.value == "RUNNING" for key in keys.values())
        for name, key in keys.items():
            shown = cell(app, key, "description")
            assert dangerous(shown) == [], name
            assert "\n" not in shown
            assert shown.rstrip("…") == sanitize(HOSTILE[name])[: len(shown.rstrip("…"))]
        assert cell(app, keys["click-action"], "description") == "[@click=app.quit]x[/]"
        assert cell(app, keys["close-tag"], "description") == "[/]"
        assert cell(app, keys["osc0-st"], "description") == "title \\x1b]0;pwned\\x1b\\ done"
        for name in ("click-action", "link", "osc52-bel", "bidi", "long-lines"):
            shown = await detail_of(app, pilot, keys[name])
            assert dangerous(shown) == []
            expected = sanitize(HOSTILE[name], single_line=False).split("\n")[0]
            assert expected in shown, name
        assert_screen_is_clean(app)

        # They all fail now, each with its hostile ErrorInfo: a notification per job.
        world.state.clock.advance(timedelta(minutes=15))
        await pilot.press("r")
        await settle(app, pilot)
        assert app.is_running
        failed = [n for n in notices(app) if n.startswith("Export FAILED")]
        assert len(failed) == len(HOSTILE)
        for message in failed:
            assert dangerous(message) == [] and "\n" not in message
        assert any("[@click=app.quit]x[/]" in n for n in failed)
        assert any("\\x1b]52;c;cm0gLXJmIH4K\\x07" in n for n in failed)
        for name in ("osc0-bel", "c1-8bit", "trailing-backslash"):
            shown = await detail_of(app, pilot, keys[name])
            assert sanitize(HOSTILE[name]) in shown.replace("\n", "")
        assert_screen_is_clean(app)

        # Clicking right on the spelled-out click action in the detail pane runs nothing.
        app.clear_notifications()
        await detail_of(app, pilot, keys["click-action"])
        await click_every(pilot, app, "[@click=app.quit]")
        assert app.is_running and app.return_code is None
    assert watchlist_file(app).read_bytes() == before


async def test_hostile_entity_ids_and_mailbox_names_show_literally(
    tmp_path: Path, world: World
) -> None:
    running = world.key("running")
    entity = "[@click=app.quit]x[/]\x1b]0;t\x07\u202e"
    original = world.state.handle

    def handle(operation: str, params: Any, region: str) -> dict[str, Any]:
        answer: dict[str, Any] = original(operation, params, region)
        for job in answer.get("Jobs", [answer]):
            if "EntityId" in job:
                job["EntityId"] = entity
        return answer

    world.state.handle = handle  # type: ignore[method-assign]
    app = make_app(tmp_path, world.service(), [running])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert cell(app, running, "mailbox").startswith("[@click=app")
        assert dangerous(cell(app, running, "mailbox")) == []
        assert sanitize(entity) in (await detail_of(app, pilot, running)).replace("\n", "")
        # Names resolved from ListUsers (DisplayName is free text) replace the EntityId.
        app.set_mailbox_names({(REGION, ORG, entity): HOSTILE["osc52-st"]})
        await pilot.pause()
        assert cell(app, running, "mailbox").startswith("copy \\x1b]52")
        # The remove dialog quotes the name.
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        lines = "\n".join(screen_lines(app))
        assert "copy \\x1b]52" in lines
        assert_screen_is_clean(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running


@pytest.mark.parametrize(
    ("code", "scope"),
    [("WeirdException", "job"), ("ThrottlingException", "all")],
)
async def test_hostile_error_messages_from_the_service_show_literally(
    tmp_path: Path, world: World, code: str, scope: str
) -> None:
    message = "[/][@click=app.quit]x\x1b]52;c;cm0K\x07\u202e" + "\n" + HOSTILE["csi"]
    running = world.key("running")
    original = world.state.handle

    def handle(operation: str, params: Any, region: str) -> dict[str, Any]:
        if operation == "ListMailboxExportJobs" or params.get("JobId") == running.job_id:
            raise ApiError(code, message)
        return original(operation, params, region)

    world.state.handle = handle  # type: ignore[method-assign]
    app = make_app(tmp_path, world.service(), world.keys("running", "done"))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert app.is_running
        shown = banner(app) if scope == "all" else await detail_of(app, pilot, running)
        assert "[/][@click=app.quit]x\\x1b]52;c;cm0K\\x07\\u202e" in shown
        assert dangerous(shown) == []
        assert_screen_is_clean(app)
        await click_every(pilot, app, "[@click=app.quit]")
        assert app.is_running


async def test_a_hostile_error_code_is_shown_literally(tmp_path: Path, world: World) -> None:
    running = world.key("running")
    original = world.state.handle

    def handle(operation: str, params: Any, region: str) -> dict[str, Any]:
        if params.get("JobId") == running.job_id or operation == "ListMailboxExportJobs":
            raise ApiError("[red]Boom\x1b[2J", "")
        return original(operation, params, region)

    world.state.handle = handle  # type: ignore[method-assign]
    app = make_app(tmp_path, world.service(), [running])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        shown = await detail_of(app, pilot, running)
        assert "[red]Boom" in shown and dangerous(shown) == []
        assert_screen_is_clean(app)


async def test_hostile_organization_aliases_in_the_import_dialog(
    tmp_path: Path, world: World
) -> None:
    world.state.add_organization(
        "[@click=app.quit]corp\x1b]0;t\x07",
        "m-11111111111111111111111111111111",
        default_mail_domain="x\u202ey.example",
    )
    app = make_app(tmp_path, world.service(), [])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("i")
        for _ in range(200):
            await app.workers.wait_for_complete()
            await pilot.pause()
            if "m-11111111111111111111111111111111" in "\n".join(screen_lines(app)):
                break
        assert isinstance(app.screen, ImportScreen)
        lines = "\n".join(screen_lines(app))
        assert "[@click=app.quit]corp\\x1b]0;t\\x07" in lines
        assert "x\\u202ey.example" in lines
        assert_screen_is_clean(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running


async def test_a_lone_surrogate_is_shown_escaped_and_the_cache_still_saved(
    tmp_path: Path, world: World
) -> None:
    original = world.state.handle

    def handle(operation: str, params: Any, region: str) -> dict[str, Any]:
        answer: dict[str, Any] = original(operation, params, region)
        for job in answer.get("Jobs", [answer]):
            if "State" in job:
                job["Description"] = "bad \ud800 description"
        return answer

    world.state.handle = handle  # type: ignore[method-assign]
    running = world.key("running")
    app = make_app(tmp_path, world.service(), [running])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        assert cell(app, running, "description") == "bad \\ud800 description"
        assert_screen_is_clean(app)
    assert (tmp_path / "cache" / "jobs.json").exists(), "the last-known states were not saved"
