"""Security: what wmtui writes is private, credentials are never written or shown, the emulator
stays on loopback, and nothing unsafe to paste leaves through the clipboard.

A real session is played end to end (CLI add and status, the app refreshing, yanking, changing
the theme) with credentials that are easy to grep for, under a umask that would make every file
world-readable if wmtui left modes to chance.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_faults_support import (
    ACCESS_KEY,
    ORG,
    REGION,
    SECRET_KEY,
    SESSION_TOKEN,
    SIZE,
    World,
    banner,
    detail_of,
    notices,
    running_world,
    screen_lines,
    settle,
    status,
)

from wmtui.cli import main
from wmtui.core.settings import load_settings
from wmtui.emulator.server import EmulatorServer
from wmtui.factory import make_app

SECRETS = (SECRET_KEY, SESSION_TOKEN)


@pytest.fixture
def world(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    with running_world() as started:
        monkeypatch.setenv("WMTUI_ENDPOINT_URL", started.endpoint_url)
        yield started


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Everything created world-writable unless wmtui says otherwise."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())


def wmtui_folders() -> list[Path]:
    settings = load_settings()
    return [settings.config_dir, settings.cache_dir, settings.data_dir]


async def play_a_session(world: World) -> list[str]:
    """Add, status, the app (refresh, select, yank, theme, quit), status: what was on screen."""
    assert main(["--region", REGION, "add", ORG, "job-running", "job-done", "job-failed"]) == 0
    assert main(["status"]) == 0
    app = make_app(load_settings())
    app.cursor_blink = False
    seen: list[str] = []
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        seen.append(await detail_of(app, pilot, world.key("done")))
        await pilot.press("y")
        await settle(app, pilot)
        app.theme = "nord"
        await pilot.press("r")
        await settle(app, pilot)
        seen += [status(app), banner(app), *notices(app), *screen_lines(app)]
        seen.append(app.export_screenshot())
        await pilot.press("q")
    assert main(["status", "--json"]) == 0
    return seen


async def test_folders_are_0700_and_files_0600_whatever_the_umask(
    world: World, open_umask: None, capsys: pytest.CaptureFixture[str]
) -> None:
    await play_a_session(world)
    capsys.readouterr()
    written: list[Path] = []
    for folder in wmtui_folders():
        if not folder.exists():
            continue
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        for path in folder.rglob("*"):
            mode = stat.S_IMODE(path.lstat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
            written.append(path)
    names = {path.name for path in written}
    assert {"watchlist.json", "jobs.json", "ui-state.json"} <= names, names


async def test_credentials_are_never_written_nor_shown(
    world: World, isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = await play_a_session(world)
    printed = capsys.readouterr()
    for secret in SECRETS:
        for text in [*seen, printed.out, printed.err]:
            assert secret not in text
        for path in files_under(isolated_env):
            assert secret.encode() not in path.read_bytes(), path
    # Not the access key ID either: nothing wmtui writes has a reason to hold it.
    for folder in wmtui_folders():
        for path in files_under(folder) if folder.exists() else []:
            assert ACCESS_KEY.encode() not in path.read_bytes(), path
    assert all(ACCESS_KEY not in text for text in seen)


async def test_a_profiles_keys_are_never_written_nor_shown(
    world: World,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    (isolated_env / "aws-credentials").write_text(
        f"[work]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
        f"aws_session_token = {SESSION_TOKEN}\n"
    )
    monkeypatch.setenv("AWS_PROFILE", "work")
    seen = await play_a_session(world)
    printed = capsys.readouterr()
    assert any("profile work" in text for text in seen)
    for secret in (*SECRETS, ACCESS_KEY):
        assert all(secret not in text for text in [*seen, printed.out, printed.err])
        for folder in wmtui_folders():
            for path in files_under(folder) if folder.exists() else []:
                assert secret.encode() not in path.read_bytes(), path


async def test_nothing_is_written_outside_wmtuis_own_folders(
    world: World, isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = set(files_under(isolated_env))
    await play_a_session(world)
    capsys.readouterr()
    new = set(files_under(isolated_env)) - before
    folders = [folder.resolve() for folder in wmtui_folders()]
    strays = [p for p in new if not any(p.resolve().is_relative_to(f) for f in folders)]
    assert strays == []


def test_a_password_in_the_endpoint_url_is_never_shown(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://admin:hunter2@127.0.0.1:{port}"
    assert main(["--region", REGION, "--endpoint-url", url, "add", ORG, "job-1"]) == 0
    monkeypatch.setenv("WMTUI_MAX_ATTEMPTS", "1")
    code = main(["--endpoint-url", url, "status"])
    printed = capsys.readouterr()
    assert code == 254
    assert "127.0.0.1" in printed.err
    assert "hunter2" not in printed.out + printed.err


# ------------------------------------------------------------------ the emulator


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "8.8.8.8"])
def test_the_emulator_refuses_another_address_and_says_how_to_force_it(host: str) -> None:
    with pytest.raises(ValueError) as refused:
        EmulatorServer(host=host)
    message = str(refused.value)
    assert "loopback" in message and "allow_non_loopback=True" in message
    assert "any credentials" in message


def test_the_emulator_takes_another_address_only_when_forced() -> None:
    # Built, never started: nothing in the test suite binds beyond loopback.
    forced = EmulatorServer(host="0.0.0.0", allow_non_loopback=True)
    assert forced.host == "0.0.0.0" and not forced.running


def test_the_emulator_binds_loopback_by_default_and_for_localhost(aws_credentials: None) -> None:
    for host in ("127.0.0.1", "localhost"):
        with EmulatorServer(host=host) as server:
            assert server.endpoint_url.startswith("http://127.0.0.1:")
            httpd = server._serving.httpd
            assert httpd is not None
            assert httpd.server_address[0] == "127.0.0.1"


def test_the_emulator_command_serves_loopback_only(aws_credentials: None) -> None:
    """`wmtui emulator` has no option to serve elsewhere."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["emulator", "--help"]) == 0
    assert "127.0.0.1" in out.getvalue() or "loopback" in out.getvalue()
    assert "--host" not in out.getvalue() and "0.0.0.0" not in out.getvalue()
