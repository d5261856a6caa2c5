"""The yank chain tells the truth about what it sent, and never sends text unsafe to paste."""

from __future__ import annotations

import os
import shutil
import subprocess
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wmtui.core.models import S3_BUCKET_PATTERN, S3_PATH_PATTERN, ValidationError, s3_uri
from wmtui.ui.clipboard import (
    TOOL_TIMEOUT,
    presence,
    resolve_mode,
    validate_yank_text,
    yank,
)

URI = "s3://wm-export/exports/2024/job-1234.zip"
TMUX_ENV = {"TMUX": "/tmp/tmux-1000/default,4242,0", "TERM": "tmux-256color"}
SSH_ENV = {"SSH_CONNECTION": "10.0.0.1 50000 10.0.0.2 22", "SSH_TTY": "/dev/pts/3"}


class FakeRun:
    """Records every command with its stdin; raises what it is told to for a given tool."""

    def __init__(self, fail: Mapping[str, list[BaseException]] | None = None) -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []
        self.fail = {name: list(excs) for name, excs in (fail or {}).items()}

    def __call__(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        self.calls.append((list(args), kwargs))
        pending = self.fail.get(Path(args[0]).name)
        if pending:
            raise pending.pop(0)
        return subprocess.CompletedProcess(args, 0, b"", b"")

    @property
    def tools(self) -> list[str]:
        return [Path(args[0]).name for args, _ in self.calls]


def tools_on_path(*names: str) -> Any:
    return lambda name: f"/usr/bin/{name}" if name in names else None


class Terminal:
    """Stands in for App.copy_to_clipboard: what was written as OSC 52."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, text: str) -> None:
        self.sent.append(text)


@pytest.fixture
def terminal() -> Terminal:
    return Terminal()


def test_inside_tmux_over_ssh_uses_the_tmux_buffer_alone(terminal: Terminal) -> None:
    run = FakeRun()
    report = yank(
        URI,
        osc52=terminal,
        mode="auto",
        environ={**TMUX_ENV, **SSH_ENV, "DISPLAY": "localhost:10.0"},
        run=run,
        which=tools_on_path("tmux", "xclip"),
        platform="linux",
    )
    # `load-buffer -w` forwards it to the outer terminal; an OSC 52 as well would give tmux
    # (set-clipboard on) a second, identical buffer.
    assert terminal.sent == []
    assert run.tools == ["tmux"]  # xclip would copy on the server: not used over SSH
    args, kwargs = run.calls[0]
    assert args[1:] == ["load-buffer", "-w", "-"]
    assert kwargs["input"] == URI.encode()
    assert 0 < kwargs["timeout"] <= 5
    assert kwargs["env"]["TMUX"] == TMUX_ENV["TMUX"]
    assert report.channels == ("tmux buffer",)
    assert report.failures == ()
    assert report.ok
    assert report.severity == "information"
    assert report.message == (
        f"Sent to the terminal clipboard via tmux buffer (not confirmed by the terminal): {URI}"
    )


def test_term_dumb_over_ssh_says_nothing_was_copied(terminal: Terminal) -> None:
    run = FakeRun()
    report = yank(
        URI,
        osc52=terminal,
        environ={"TERM": "dumb", **SSH_ENV},
        run=run,
        which=tools_on_path("tmux", "xclip"),
        platform="linux",
    )
    assert terminal.sent == []
    assert run.calls == []
    assert report.channels == ()
    assert not report.ok
    assert report.severity == "warning"
    assert report.message.startswith("Not copied")
    assert URI in report.message  # shown so it can be selected by hand
    assert "select the text by hand" in report.message.lower()
    assert "TERM=dumb" in report.message
    assert "set -g set-clipboard on" in report.message


def test_local_desktop_without_a_tool_is_told_so(terminal: Terminal) -> None:
    run = FakeRun()
    report = yank(
        URI,
        osc52=terminal,
        environ={"TERM": "dumb", "DISPLAY": ":0"},
        run=run,
        which=tools_on_path(),
        platform="linux",
    )
    assert run.calls == []
    assert report.channels == ()
    assert "no clipboard tool found (xclip, xsel)" in report.message
    assert URI in report.message


def test_local_desktop_without_a_tool_still_sends_osc52(terminal: Terminal) -> None:
    report = yank(
        URI,
        osc52=terminal,
        environ={"TERM": "xterm-256color", "DISPLAY": ":0"},
        run=FakeRun(),
        which=tools_on_path(),
        platform="linux",
    )
    assert terminal.sent == [URI]
    assert report.channels == ("OSC 52",)
    assert "not confirmed" in report.message


@pytest.mark.parametrize(
    ("environ", "platform", "tool", "args"),
    [
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", "wl-copy", []),
        ({"DISPLAY": ":0"}, "linux", "xclip", ["-selection", "clipboard"]),
        ({}, "darwin", "pbcopy", []),
    ],
)
def test_local_desktop_uses_the_native_tool(
    terminal: Terminal, environ: dict[str, str], platform: str, tool: str, args: list[str]
) -> None:
    run = FakeRun()
    report = yank(
        URI,
        osc52=terminal,
        environ={"TERM": "xterm-256color", **environ},
        run=run,
        which=tools_on_path(tool),
        platform=platform,
    )
    assert run.tools == [tool]
    called, kwargs = run.calls[0]
    assert called[1:] == args
    assert kwargs["input"] == URI.encode()
    # A piped stdout would make run() wait for xclip's forked child.
    assert kwargs["stdout"] == subprocess.DEVNULL
    assert report.channels == ("OSC 52", tool)
    assert report.message == (
        "Sent to the terminal clipboard via OSC 52 (not confirmed by the terminal)"
        f" and to the desktop clipboard via {tool}: {URI}"
    )


def test_native_tool_over_ssh_is_not_used(terminal: Terminal) -> None:
    run = FakeRun()
    report = yank(
        URI,
        osc52=terminal,
        environ={"TERM": "xterm", "DISPLAY": "localhost:10.0", "SSH_CLIENT": "10.0.0.1 5 22"},
        run=run,
        which=tools_on_path("xclip", "wl-copy"),
        platform="linux",
    )
    assert run.calls == []
    assert report.channels == ("OSC 52",)


def test_off_mode_sends_nothing(terminal: Terminal) -> None:
    run = FakeRun()
    report = yank(
        URI,
        osc52=terminal,
        mode="off",
        environ={**TMUX_ENV, "DISPLAY": ":0"},
        run=run,
        which=tools_on_path("tmux", "xclip"),
        platform="linux",
    )
    assert terminal.sent == []
    assert run.calls == []
    assert report.channels == ()
    assert "off" in report.message
    assert URI in report.message


def test_wmtui_clipboard_chooses_the_mode(terminal: Terminal) -> None:
    run = FakeRun()
    report = yank(
        URI,
        osc52=terminal,
        environ={**TMUX_ENV, "WMTUI_CLIPBOARD": "tmux"},
        run=run,
        which=tools_on_path("tmux"),
    )
    assert terminal.sent == []
    assert run.tools == ["tmux"]
    assert report.channels == ("tmux buffer",)


def test_unknown_mode_falls_back_to_auto_with_a_note(terminal: Terminal) -> None:
    report = yank(
        URI,
        osc52=terminal,
        environ={"TERM": "xterm", "WMTUI_CLIPBOARD": "clipboard\x1b]0;x"},
        run=FakeRun(),
        which=tools_on_path(),
        platform="linux",
    )
    assert report.channels == ("OSC 52",)
    assert "is not one of auto|osc52|tmux|native|off: used auto" in report.message
    assert "\x1b" not in report.message


def test_explicit_mode_wins_over_the_environment() -> None:
    assert resolve_mode("OSC52", {"WMTUI_CLIPBOARD": "off"}) == ("osc52", None)
    assert resolve_mode(None, {"WMTUI_CLIPBOARD": " Native "}) == ("native", None)
    assert resolve_mode(None, {}) == ("auto", None)
    mode, note = resolve_mode("pigeon", {})
    assert mode == "auto"
    assert note is not None and "pigeon" in note


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            subprocess.CalledProcessError(
                1, ["tmux"], stderr=b"no server running on /tmp/tmux-0/default\n"
            ),
            "tmux load-buffer failed (exit status 1): no server running on /tmp/tmux-0/default",
        ),
        (FileNotFoundError(2, "No such file or directory"), "tmux load-buffer failed"),
        (
            subprocess.TimeoutExpired(["tmux"], TOOL_TIMEOUT),
            f"tmux load-buffer did not finish within {TOOL_TIMEOUT:g} s",
        ),
        (PermissionError(13, "Permission denied"), "tmux load-buffer failed"),
    ],
    ids=["exit-status", "not-found", "timeout", "permission"],
)
def test_failing_tmux_is_reported_truthfully(
    terminal: Terminal, error: BaseException, said: str
) -> None:
    report = yank(
        URI,
        osc52=terminal,
        environ=TMUX_ENV,
        run=FakeRun({"tmux": [error]}),
        which=tools_on_path("tmux"),
    )
    assert report.channels == ("OSC 52",)
    assert len(report.failures) == 1
    assert report.failures[0].startswith(said)
    assert said in report.message
    assert "tmux buffer" not in report.message
    # tmux with default settings drops OSC 52: say how to let it through.
    assert "set -g set-clipboard on" in report.message
    assert report.severity == "warning"


def test_tmux_not_on_path_inside_tmux(terminal: Terminal) -> None:
    run = FakeRun()
    report = yank(URI, osc52=terminal, environ=TMUX_ENV, run=run, which=tools_on_path())
    assert run.calls == []
    assert report.failures == ("tmux load-buffer failed: tmux not found on PATH",)


def test_tmux_without_w_flag_falls_back_to_a_plain_buffer(terminal: Terminal) -> None:
    old_tmux = subprocess.CalledProcessError(1, ["tmux"], stderr=b"unknown flag -w\n")
    run = FakeRun({"tmux": [old_tmux]})
    report = yank(URI, osc52=terminal, environ=TMUX_ENV, run=run, which=tools_on_path("tmux"))
    assert [args[1:] for args, _ in run.calls] == [["load-buffer", "-w", "-"], ["load-buffer", "-"]]
    assert report.channels[0].startswith("tmux buffer (paste inside tmux")
    # A buffer an old tmux cannot forward: OSC 52 still reaches the outer terminal.
    assert report.channels[1] == "OSC 52" and terminal.sent == [URI]
    assert report.failures == ()


def test_failing_osc52_write_is_reported() -> None:
    def broken(text: str) -> None:
        raise OSError("terminal gone")

    report = yank(
        URI, osc52=broken, environ={"TERM": "xterm"}, run=FakeRun(), which=tools_on_path()
    )
    assert report.channels == ()
    assert report.failures == ("OSC 52 failed: terminal gone",)
    assert report.message.startswith("Not copied")


@pytest.mark.parametrize("mode", ["auto", "osc52", "tmux", "native", "off"])
@pytest.mark.parametrize(
    "text",
    [
        "s3://wm-export/exports/job.zip\nrm -rf ~",
        "s3://wm-export/exports/job.zip\r",
        "s3://wm-export/\x1b]52;c;cm0K\x07",
        "s3://wm export/job.zip",
        "",
    ],
    ids=["newline", "carriage-return", "escape", "space", "empty"],
)
def test_unsafe_text_is_refused_and_nothing_sent(terminal: Terminal, mode: str, text: str) -> None:
    run = FakeRun()
    report = yank(
        text,
        osc52=terminal,
        mode=mode,
        environ={**TMUX_ENV, "DISPLAY": ":0"},
        run=run,
        which=tools_on_path("tmux", "xclip"),
        platform="linux",
    )
    assert terminal.sent == []
    assert run.calls == []
    assert report.channels == ()
    assert report.refused
    assert report.severity == "error"
    assert report.message.startswith("Not copied")
    assert [ch for ch in report.message if unicodedata.category(ch) in ("Cc", "Cf")] == []


@pytest.mark.parametrize(
    "text",
    [
        URI,
        "s3://my.bucket-1/prefix/a!b_c.d*e'f(g)h-i/x.zip",
        "4f6e5a12-aaaa-bbbb-cccc-0123456789ab",
        "arn:aws:iam::123456789012:role/WorkMailExport",
    ],
)
def test_safe_text_is_accepted(text: str) -> None:
    assert validate_yank_text(text) == text


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "is empty"),
        ("s3://b/p\nq", "line break"),
        ("s3://b/p\u2028q", "line break"),
        ("s3://b/p\tq", "control character"),
        ("job\u202egpj", "control character"),
        ("job\u200bid", "control character"),
        ("a\u00a0b", "whitespace"),
        ("s3://bucket", "not a well-formed s3:// URI"),
        ("s3://bucket/path:colon", "not a well-formed s3:// URI"),
        ("S3://bucket/$(id)", "not a well-formed s3:// URI"),
        ("s3://bucket/a;b", "not a well-formed s3:// URI"),
    ],
)
def test_unsafe_text_is_named(text: str, rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_yank_text(text)
    assert rule in caught.value.rule


@given(
    st.from_regex(S3_BUCKET_PATTERN, fullmatch=True),
    st.from_regex(S3_PATH_PATTERN, fullmatch=True),
)
def test_every_uri_the_model_builds_can_be_yanked(bucket: str, path: str) -> None:
    uri = s3_uri(bucket, path)
    if uri is not None:
        assert validate_yank_text(uri) == uri


@given(st.text())
def test_accepted_text_never_carries_a_control_or_space(text: str) -> None:
    try:
        validate_yank_text(text)
    except ValidationError:
        return
    assert text
    assert not any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def test_presence_for_the_status_line() -> None:
    assert presence({**SSH_ENV, **TMUX_ENV}).label == "ssh+tmux"
    assert presence({}, platform="linux").label == ""
    local = presence({"WAYLAND_DISPLAY": "wayland-0"}, platform="linux")
    assert local.desktop and not local.over_ssh
    assert presence({}, platform="darwin").desktop
    assert presence({"TERM": "dumb"}).term_dumb
    assert presence({"STY": "1234.pts-0"}).in_screen


# --- a real tmux server, private to this test -----------------------------------------------


@pytest.fixture
def private_tmux(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed")
    socket = f"wmtui-test-{uuid.uuid4().hex[:12]}"
    base = [tmux, "-L", socket, "-f", "/dev/null"]
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    try:
        subprocess.run(
            [*base, "new-session", "-d", "-s", "t", "-x", "80", "-y", "24"],
            check=True,
            capture_output=True,
            timeout=10,
            env=env,
        )
        shown = subprocess.run(
            [*base, "display-message", "-p", "-t", "t", "#{socket_path},#{pid},0"],
            check=True,
            capture_output=True,
            timeout=10,
            env=env,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"cannot start a private tmux server: {exc}")
    tmux_var = shown.stdout.decode().strip()
    try:
        # What a process inside that session sees: $TMUX names the server's socket.
        yield socket, {**env, "TMUX": tmux_var, "TERM": "tmux-256color"}
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True, timeout=10, env=env)
        # tmux leaves its socket file behind.
        Path(tmux_var.rsplit(",", 2)[0]).unlink(missing_ok=True)


def test_real_tmux_buffer_holds_the_uri(
    terminal: Terminal, private_tmux: tuple[str, dict[str, str]]
) -> None:
    socket, environ = private_tmux
    report = yank(URI, osc52=terminal, environ=environ, platform="linux")
    assert report.failures == ()
    assert report.channels == ("tmux buffer",) and terminal.sent == []
    buffer = subprocess.run(
        ["tmux", "-L", socket, "show-buffer"], capture_output=True, timeout=10, check=True
    )
    assert buffer.stdout.decode() == URI
