"""`y` in the running app, in sessions where copying is uncertain: the user is told the truth.

The environment is the real one the app reads (os.environ, PATH): tmux, clipboard tools and SSH
are faked with variables and small scripts on PATH, so what the app runs is what a user's
session would run. `app.clipboard` is what Textual sent as OSC 52.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_faults_support import (
    SIZE,
    World,
    detail_of,
    make_app,
    notices,
    running_world,
    settle,
    watchlist_file,
)

URI = "s3://wm-export/exports/job-done.zip"
TMUX = "/tmp/tmux-1000/default,4242,0"


@pytest.fixture
def world(aws_credentials: None) -> Iterator[World]:
    with running_world() as started:
        yield started


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only the tools a test puts there (plus nothing else)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "STY", "SSH_CLIENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    return folder


def fake_tool(folder: Path, name: str, *, exit_code: int = 0, stderr: str = "") -> Path:
    """A stand-in for tmux/xclip that keeps its arguments and stdin in <name>.log."""
    log = folder / f"{name}.log"
    script = folder / name
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > "{log}.args"\n'
        f'/bin/cat > "{log}"\n'
        + (f"echo '{stderr}' >&2\n" if stderr else "")
        + f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


async def yank_done_job(tmp_path: Path, world: World, clipboard: str = "auto") -> tuple[str, str]:
    """Start the app, select the COMPLETED job, press y: (app.clipboard, the notification)."""
    app = make_app(tmp_path, world.service(), world.keys("done"), clipboard=clipboard)
    before = watchlist_file(app).read_bytes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await detail_of(app, pilot, world.key("done"))
        await pilot.press("y")
        await settle(app, pilot)
        assert app.is_running
        copied, said = app.clipboard, notices(app)[-1]
    assert watchlist_file(app).read_bytes() == before
    return copied, said


async def test_inside_tmux_one_buffer_is_made_and_named_unconfirmed(
    tmp_path: Path, world: World, bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMUX", TMUX)
    monkeypatch.setenv("TERM", "tmux-256color")
    log = fake_tool(bin_dir, "tmux")
    copied, said = await yank_done_job(tmp_path, world)
    # tmux forwards its buffer to the outer terminal (-w); an OSC 52 as well would give tmux
    # with `set-clipboard on` a second, identical buffer.
    assert copied == ""
    assert log.read_text() == URI
    assert (bin_dir / "tmux.log.args").read_text().split() == ["load-buffer", "-w", "-"]
    assert "via tmux buffer" in said and "OSC 52" not in said
    assert "not confirmed" in said
    assert said.endswith(URI) or URI in said


async def test_inside_tmux_without_tmux_on_path_says_osc52_alone_may_be_dropped(
    tmp_path: Path, world: World, bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMUX", TMUX)
    copied, said = await yank_done_job(tmp_path, world)
    assert copied == URI
    assert "via OSC 52 (not confirmed" in said
    assert "tmux not found on PATH" in said
    assert "set -g set-clipboard on" in said
    assert URI in said


async def test_a_failing_tmux_is_reported_with_its_error(
    tmp_path: Path, world: World, bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMUX", TMUX)
    fake_tool(bin_dir, "tmux", exit_code=1, stderr="no server running on /tmp/tmux-1000/default")
    copied, said = await yank_done_job(tmp_path, world)
    assert copied == URI
    assert said.startswith("Sent to the terminal clipboard via OSC 52 (not confirmed")
    assert "tmux load-buffer failed (exit status 1): no server running" in said
    assert "set -g set-clipboard on" in said


async def test_term_dumb_over_ssh_says_nothing_was_copied_and_shows_the_uri(
    tmp_path: Path, world: World, bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22")
    fake_tool(bin_dir, "xclip")
    copied, said = await yank_done_job(tmp_path, world)
    assert copied == "", "no OSC 52 is written to a dumb terminal"
    assert said.startswith("Not copied")
    assert f"Select the text by hand: {URI}" in said
    assert "TERM=dumb" in said
    assert not (bin_dir / "xclip.log").exists(), "over SSH the local tool is not used"


async def test_a_desktop_without_a_clipboard_tool_is_told_so(
    tmp_path: Path, world: World, bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    copied, said = await yank_done_job(tmp_path, world, clipboard="native")
    assert copied == ""
    assert said.startswith("Not copied")
    assert "no clipboard tool found (xclip, xsel)" in said
    assert URI in said


async def test_a_desktop_with_xclip_copies_for_real_and_says_so(
    tmp_path: Path, world: World, bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    log = fake_tool(bin_dir, "xclip")
    copied, said = await yank_done_job(tmp_path, world)
    assert copied == URI
    assert log.read_text() == URI
    assert "desktop clipboard via xclip" in said


async def test_clipboard_off_sends_nothing_and_says_how_to_copy_by_hand(
    tmp_path: Path, world: World, bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMUX", TMUX)
    log = fake_tool(bin_dir, "tmux")
    copied, said = await yank_done_job(tmp_path, world, clipboard="off")
    assert copied == ""
    assert not log.exists()
    assert "Clipboard is off" in said and URI in said


@pytest.mark.parametrize(
    "path",
    ["exports/job.zip\nrm -rf ~", "exports/job.zip\r", "exports/\x1b]52;c;cm0K\x07.zip"],
    ids=["newline", "carriage-return", "osc52"],
)
async def test_an_s3_path_unsafe_to_paste_never_leaves(
    tmp_path: Path, world: World, bin_dir: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    monkeypatch.setenv("TMUX", TMUX)
    monkeypatch.setenv("DISPLAY", ":0")
    tmux_log = fake_tool(bin_dir, "tmux")
    xclip_log = fake_tool(bin_dir, "xclip")
    world.poke("done", s3_path=path)
    copied, said = await yank_done_job(tmp_path, world)
    assert copied == ""
    assert not tmux_log.exists() and not xclip_log.exists()
    assert "\n" not in said and "\x1b" not in said and "\r" not in said
    assert "Not copied" in said or "nothing to copy" in said


async def test_an_unsafe_s3_path_is_refused_for_what_it_is(
    tmp_path: Path, world: World, bin_dir: Path
) -> None:
    world.poke("done", s3_path="exports/job.zip\nrm -rf ~")
    copied, said = await yank_done_job(tmp_path, world)
    assert copied == ""
    assert "no S3 path yet" not in said
    assert "line break" in said or "not safe" in said


def test_the_fake_tools_are_found_only_on_the_test_path(bin_dir: Path) -> None:
    """The cases above depend on PATH: nothing else on this machine answers to tmux/xclip."""
    import shutil

    assert shutil.which("tmux") is None and shutil.which("xclip") is None
    fake_tool(bin_dir, "tmux")
    assert shutil.which("tmux") == str(bin_dir / "tmux")
    assert os.environ["PATH"] == str(bin_dir)
