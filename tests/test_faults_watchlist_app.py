"""The app started on a watch list it cannot use: it says which file and what to do, keeps
working from the cache, and never writes a byte to that file (adding and removing included).

The file-level cases (each corruption, disk full, locks, two processes) are in test_watchlist.py;
these are the ones a user meets in the app, with the real service on the emulator.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_faults_support import (
    SIZE,
    World,
    banner,
    cell,
    make_app,
    notices,
    row_keys,
    running_world,
    settle,
)
from textual.widgets import TextArea

from wmtui.core.models import ExportJob
from wmtui.ui.screens.add import AddJobsScreen
from wmtui.ui.screens.confirm import ConfirmScreen

ALL = ("running", "running2", "done", "failed")

# Every corruption is tried on the file itself in test_watchlist.py; here, one of each way
# the app meets it: JSON broken, not text at all, too deep to parse, from a newer wmtui.
CORRUPT: dict[str, bytes] = {
    "open-brace": b"{",
    "binary": b"\x00\xff\xfe\x80\x1b]0;t\x07 not json",
    "deep-brackets": b"[" * 100_000,
    "newer-format": b'{"version": 99, "jobs": []}',
}


@pytest.fixture
def world(aws_credentials: None) -> Iterator[World]:
    with running_world() as started:
        yield started


def cached(world: World) -> list[ExportJob]:
    reader = world.service(credentials=("AKIDCACHEDCACHED0001", "cached"))
    records = [reader.describe_job(world.key(name)) for name in ALL]
    world.state.reset_counters()
    return records


def file_state(path: Path) -> tuple[str, bytes | None, int]:
    """What is at `path`: kind, bytes and mode, to compare before and after."""
    if path.is_dir():
        return ("dir", None, path.stat().st_mode)
    return ("file", path.read_bytes(), path.stat().st_mode)


async def try_to_add_and_remove(app: object, pilot: object) -> None:
    """Press a and add a job; press d and confirm: both must be refused."""
    from textual.pilot import Pilot

    from wmtui.ui.app import WmtuiApp

    assert isinstance(app, WmtuiApp) and isinstance(pilot, Pilot)
    await pilot.press("a")
    await pilot.pause()
    assert isinstance(app.screen, AddJobsScreen)
    app.screen.query_one("#add-organization").value = (  # type: ignore[attr-defined]
        "m-0123456789abcdef0123456789abcdef"
    )
    app.screen.query_one("#add-ids", TextArea).insert("job-new-1 job-new-2")
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    assert not isinstance(app.screen, AddJobsScreen)
    assert any(n.startswith("Nothing added") for n in notices(app))
    if row_keys(app):
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
        assert any(n.startswith("Not removed") for n in notices(app))


@pytest.mark.parametrize("content", CORRUPT.values(), ids=CORRUPT.keys())
async def test_a_corrupt_watch_list_is_named_with_its_fix_and_never_written(
    tmp_path: Path, world: World, content: bytes
) -> None:
    app = make_app(tmp_path, world.service(), [], cached=cached(world))
    path = tmp_path / "config" / "watchlist.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    before = file_state(path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        shown = banner(app)
        assert "watch list cannot be used" in shown
        assert str(path) in shown
        assert "Fix:" in shown
        if content.startswith(b'{"version": 99'):
            assert "upgrade wmtui" in shown and "Press M" not in shown
        else:
            assert f"mv {path}" in shown.replace("\n", "") or "Press M" in shown
        assert "\x1b" not in shown and "\x00" not in shown
        # The jobs the cache remembers stay on screen and keep refreshing.
        assert len(row_keys(app)) == 4
        await pilot.press("r")
        await settle(app, pilot)
        assert cell(app, world.key("running"), "state") == "● RUNNING"
        await try_to_add_and_remove(app, pilot)
        assert len(row_keys(app)) == 4
        assert app.is_running
    assert file_state(path) == before
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith("watchlist")) == [
        "watchlist.json",
        *(["watchlist.json.lock"] if (path.parent / "watchlist.json.lock").exists() else []),
    ]


async def test_a_folder_where_the_watch_list_should_be(tmp_path: Path, world: World) -> None:
    app = make_app(tmp_path, world.service(), [], cached=cached(world))
    path = tmp_path / "config" / "watchlist.json"
    path.mkdir(parents=True)
    (path / "keep.txt").write_text("mine")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        shown = banner(app)
        assert str(path) in shown and "folder" in shown.lower()
        await try_to_add_and_remove(app, pilot)
        assert app.is_running
    assert path.is_dir() and (path / "keep.txt").read_text() == "mine"


async def test_an_unreadable_watch_list_is_named_and_left_alone(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """root reads any file whatever its mode, so the refusal is simulated at open()."""
    import builtins

    app = make_app(tmp_path, world.service(), world.keys(*ALL))
    path = tmp_path / "config" / "watchlist.json"
    before = file_state(path)
    real_open = builtins.open
    real_os_open = os.open

    def deny(file: object, *args: object, **kwargs: object) -> object:
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    def deny_os(file: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_os_open(file, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "open", deny)
    monkeypatch.setattr(os, "open", deny_os)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        shown = banner(app)
        assert str(path) in shown
        assert "permission" in shown.lower()
        await try_to_add_and_remove(app, pilot)
        assert app.is_running
    monkeypatch.undo()
    assert file_state(path) == before


async def test_a_save_that_cannot_write_refuses_the_add_and_keeps_the_file(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that cannot write (a read-only folder, a full disk: root ignores modes, so the
    failure is made at mkstemp/replace) is refused, says where, and changes nothing."""
    app = make_app(tmp_path, world.service(), world.keys(*ALL))
    path = tmp_path / "config" / "watchlist.json"
    before = file_state(path)
    import tempfile

    def no_space(*args: object, **kwargs: object) -> object:
        raise OSError(28, "No space left on device")

    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        monkeypatch.setattr(tempfile, "mkstemp", no_space)
        monkeypatch.setattr(os, "replace", no_space)
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("#add-ids", TextArea).insert("job-new-1")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        said = notices(app)[-1]
        assert said.startswith("Nothing added"), said
        assert str(path.parent) in said or str(path) in said
        assert str(world.key("running")) in row_keys(app)
        assert app.is_running
    monkeypatch.undo()
    assert file_state(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "watchlist.json",
        "watchlist.json.lock",
    ]
