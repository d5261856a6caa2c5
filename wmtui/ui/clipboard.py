"""The yank chain: get a short text (an s3:// URI) into the user's clipboard, and say honestly how.

wmtui runs over SSH and inside tmux, where no single way of copying always works:

- OSC 52 (`App.copy_to_clipboard`) asks the terminal to set its clipboard. The terminal never
  answers, so nobody knows whether it worked; xterm, macOS Terminal and tmux with default
  settings (`set-clipboard external`) drop it silently.
- Inside tmux, `tmux load-buffer -w -` puts the text in a tmux buffer and has tmux forward it to
  the outer terminal's clipboard.
- On a local desktop (not over SSH), pbcopy / wl-copy / xclip / xsel copy for real.

`yank` tries what fits the session (WMTUI_CLIPBOARD=auto|osc52|tmux|native|off chooses) and
returns a `YankReport` whose message names the channels used, never claims the terminal confirmed
anything, and always shows the text so it can be selected by hand. Text with a control character,
a newline or whitespace is refused before anything leaves, so a paste into a shell cannot run a
command. Pure functions with the environment injected: no textual import, testable without a tty.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from wmtui.core.models import S3_BUCKET_PATTERN, S3_PATH_PATTERN, ValidationError, printable

__all__ = [
    "CLIPBOARD_MODES",
    "ENV_VAR",
    "Presence",
    "YankReport",
    "presence",
    "resolve_mode",
    "validate_yank_text",
    "yank",
]

ENV_VAR = "WMTUI_CLIPBOARD"
CLIPBOARD_MODES: tuple[str, ...] = ("auto", "osc52", "tmux", "native", "off")
# A clipboard tool that does not return at once is stuck; the UI must not wait on it.
TOOL_TIMEOUT = 2.0

S3_URI_PATTERN = re.compile("s3://" + S3_BUCKET_PATTERN.pattern + "/" + S3_PATH_PATTERN.pattern)
_SSH_VARS = ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT")
_ENABLE_HINT = (
    "To copy with a key: use a terminal that allows OSC 52 (inside tmux: `set -g set-clipboard on`)"
    f" or set {ENV_VAR}=tmux|native."
)

Severity = Literal["information", "warning", "error"]
RunFunction = Callable[..., subprocess.CompletedProcess[bytes]]


@dataclass(frozen=True)
class Presence:
    """Where wmtui runs, as far as the environment tells: what decides which channels can work."""

    over_ssh: bool
    in_tmux: bool
    in_screen: bool
    desktop: bool
    term_dumb: bool

    @property
    def label(self) -> str:
        """A short mark for the status line, e.g. "ssh+tmux"; "" when local and bare."""
        parts = [
            name
            for name, on in (
                ("ssh", self.over_ssh),
                ("tmux", self.in_tmux),
                ("screen", self.in_screen),
            )
            if on
        ]
        return "+".join(parts)


def presence(environ: Mapping[str, str] = os.environ, *, platform: str = sys.platform) -> Presence:
    return Presence(
        over_ssh=any(environ.get(name) for name in _SSH_VARS),
        in_tmux=bool(environ.get("TMUX")),
        in_screen=bool(environ.get("STY")),
        desktop=bool(
            environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY") or platform == "darwin"
        ),
        term_dumb=environ.get("TERM", "") == "dumb",
    )


@dataclass(frozen=True)
class YankReport:
    """What a yank did. `message` is what to show the user (plain text, never markup)."""

    text: str
    channels: tuple[str, ...]
    failures: tuple[str, ...]
    message: str
    # Why the text was not sent at all (unsafe to paste), else None.
    refused: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """At least one channel took the text (which still does not prove the clipboard has it)."""
        return bool(self.channels)

    @property
    def severity(self) -> Severity:
        if self.refused is not None:
            return "error"
        if not self.channels or self.failures:
            return "warning"
        return "information"


def validate_yank_text(text: str) -> str:
    """The text, if it is safe to put in a clipboard that will be pasted into a shell.

    Refused (ValidationError): empty, any whitespace, newline, control or format character;
    and for an s3:// URI, anything but `s3://` + bucket + `/` + path in the model's patterns.
    """
    what = "text to copy"
    if not isinstance(text, str) or not text:
        raise ValidationError(what, text, "is empty")
    for ch in text:
        if ch in "\r\n" or unicodedata.category(ch) in ("Zl", "Zp"):
            raise ValidationError(what, text, "holds a line break")
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            raise ValidationError(what, text, f"holds a control character ({printable(ch)})")
        if ch.isspace():
            raise ValidationError(what, text, "holds whitespace")
    if text[:5].lower() == "s3://" and not S3_URI_PATTERN.fullmatch(text):
        raise ValidationError(
            what,
            text,
            "is not a well-formed s3:// URI (bucket: letters, digits, '.', '-';"
            " path: letters, digits and !_.*'()/-)",
        )
    return text


def resolve_mode(
    mode: str | None, environ: Mapping[str, str] = os.environ
) -> tuple[str, str | None]:
    """The mode to use and, when the asked one was not understood, a note saying so.

    None means "whatever WMTUI_CLIPBOARD says, else auto".
    """
    source = "clipboard mode"
    if mode is None:
        mode = environ.get(ENV_VAR, "auto")
        source = ENV_VAR
    wanted = mode.strip().lower() or "auto"
    if wanted in CLIPBOARD_MODES:
        return wanted, None
    return "auto", (
        f"{source}={printable(mode, 40)} is not one of {'|'.join(CLIPBOARD_MODES)}: used auto."
    )


def _native_command(
    environ: Mapping[str, str], which: Callable[[str], str | None], platform: str
) -> tuple[list[str] | None, str | None]:
    """The desktop clipboard command that fits this session, or why there is none."""
    candidates: list[list[str]] = []
    if platform == "darwin":
        candidates.append(["pbcopy"])
    if environ.get("WAYLAND_DISPLAY"):
        candidates.append(["wl-copy"])
    if environ.get("DISPLAY"):
        candidates.append(["xclip", "-selection", "clipboard"])
        candidates.append(["xsel", "--clipboard", "--input"])
    if not candidates:
        return None, "no desktop session (DISPLAY and WAYLAND_DISPLAY unset)"
    for command in candidates:
        # Run the path `which` found, so the tool checked is the tool run.
        path = which(command[0])
        if path:
            return [path, *command[1:]], None
    names = ", ".join(c[0] for c in candidates)
    return None, f"no clipboard tool found ({names})"


def _describe_failure(what: str, exc: BaseException) -> str:
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"{what} did not finish within {exc.timeout:g} s"
    if isinstance(exc, subprocess.CalledProcessError):
        detail = exc.stderr.decode("utf-8", "replace").strip() if exc.stderr else ""
        tail = f": {printable(detail, 120)}" if detail else ""
        return f"{what} failed (exit status {exc.returncode}){tail}"
    if isinstance(exc, FileNotFoundError):
        return f"{what} failed: command not found"
    return f"{what} failed: {printable(str(exc) or type(exc).__name__, 120)}"


def _tmux_load_buffer(
    text: str, environ: Mapping[str, str], run: RunFunction, which: Callable[[str], str | None]
) -> tuple[str | None, str | None]:
    """(channel, None) when tmux took the text, else (None, why not)."""
    tmux = which("tmux")
    if not tmux:
        return None, "tmux load-buffer failed: tmux not found on PATH"
    kwargs: dict[str, Any] = {
        "input": text.encode("utf-8"),
        "check": True,
        "timeout": TOOL_TIMEOUT,
        "capture_output": True,
        "env": dict(environ),
    }
    try:
        run([tmux, "load-buffer", "-w", "-"], **kwargs)
        return "tmux buffer", None
    except subprocess.CalledProcessError as exc:
        stderr = exc.stderr.decode("utf-8", "replace") if exc.stderr else ""
        if "-w" not in stderr and "unknown flag" not in stderr:
            return None, _describe_failure("tmux load-buffer", exc)
        # tmux before 3.2 has no -w: the buffer still works for prefix-] inside tmux.
        try:
            run([tmux, "load-buffer", "-"], **kwargs)
            return "tmux buffer (paste inside tmux; tmux too old to forward it)", None
        except (subprocess.SubprocessError, OSError) as exc2:
            return None, _describe_failure("tmux load-buffer", exc2)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, _describe_failure("tmux load-buffer", exc)


def _run_native(
    command: Sequence[str], text: str, environ: Mapping[str, str], run: RunFunction
) -> tuple[str | None, str | None]:
    name = os.path.basename(command[0])
    try:
        # No pipes for stdout/stderr: xclip and wl-copy fork a child that keeps them open,
        # and run() would wait for it until the timeout.
        run(
            list(command),
            input=text.encode("utf-8"),
            check=True,
            timeout=TOOL_TIMEOUT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(environ),
        )
        return name, None
    except (subprocess.SubprocessError, OSError) as exc:
        return None, _describe_failure(name, exc)


def _send_osc52(text: str, osc52: Callable[[str], None]) -> tuple[str | None, str | None]:
    try:
        osc52(text)
        return "OSC 52", None
    except Exception as exc:  # the terminal write is best effort; any failure is reported
        return None, _describe_failure("OSC 52", exc)


_TERMINAL_CHANNELS = ("OSC 52", "tmux buffer")


def _message(
    text: str,
    mode: str,
    channels: Sequence[str],
    failures: Sequence[str],
    notes: Sequence[str],
    where: Presence,
) -> str:
    terminal = [c for c in channels if c.startswith(_TERMINAL_CHANNELS)]
    desktop = [c for c in channels if not c.startswith(_TERMINAL_CHANNELS)]
    extra = [*failures, *notes]
    if mode == "off":
        head = f"Clipboard is off ({ENV_VAR}=off); select the text by hand: {text}"
        return " ".join([head, *extra])
    if not channels:
        head = f"Not copied: no clipboard channel worked. Select the text by hand: {text}"
        return " ".join([head, *extra, _ENABLE_HINT])
    said: list[str] = []
    if terminal:
        said.append(
            "to the terminal clipboard via "
            + " + ".join(terminal)
            + " (not confirmed by the terminal)"
        )
    if desktop:
        said.append("to the desktop clipboard via " + " + ".join(desktop))
    head = "Sent " + " and ".join(said) + f": {text}"
    tips: list[str] = []
    if where.in_tmux and channels == ["OSC 52"]:
        tips.append("Inside tmux, OSC 52 needs `set -g set-clipboard on`.")
    return " ".join([head, *extra, *tips])


@dataclass
class _Outcome:
    """What the channels of one yank did, in the order they were tried."""

    channels: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, result: tuple[str | None, str | None]) -> None:
        channel, failure = result
        if channel:
            self.channels.append(channel)
        if failure:
            self.failures.append(failure)


def yank(
    text: str,
    *,
    osc52: Callable[[str], None],
    mode: str | None = None,
    environ: Mapping[str, str] = os.environ,
    run: RunFunction = subprocess.run,
    which: Callable[[str], str | None] = shutil.which,
    platform: str = sys.platform,
) -> YankReport:
    """Copy `text` through every channel that fits the session; report what was done.

    `osc52` writes the OSC 52 sequence (the app passes `App.copy_to_clipboard`). `mode` is
    auto|osc52|tmux|native|off; None reads WMTUI_CLIPBOARD (else auto). Nothing raises: every
    failure is in the report. Subprocesses (tmux, native tools) run with a short timeout.
    """
    try:
        validate_yank_text(text)
    except ValidationError as exc:
        shown = printable(text, 200)
        return YankReport(
            text=text,
            channels=(),
            failures=(),
            message=(
                f"Not copied: the {exc.what} {exc.rule}, so it is not safe to paste. Text: {shown}"
            ),
            refused=exc.rule,
        )

    chosen, mode_note = resolve_mode(mode, environ)
    where = presence(environ, platform=platform)
    outcome = _Outcome(notes=[mode_note] if mode_note else [])
    if chosen == "osc52":
        outcome.add(_send_osc52(text, osc52))
    elif chosen == "tmux":
        if not where.in_tmux:
            outcome.notes.append("Not inside tmux ($TMUX unset): tried tmux's default server.")
        outcome.add(_tmux_load_buffer(text, environ, run, which))
    elif chosen == "native":
        command, why_not = _native_command(environ, which, platform)
        if command is None:
            outcome.failures.append(f"native clipboard: {why_not}")
        else:
            if where.over_ssh:
                tool = os.path.basename(command[0])
                outcome.notes.append(f"Over SSH, {tool} copies on the machine wmtui runs on.")
            outcome.add(_run_native(command, text, environ, run))
    elif chosen == "auto":
        _copy_auto(text, where, outcome, osc52, environ, run, which, platform)

    return YankReport(
        text=text,
        channels=tuple(outcome.channels),
        failures=tuple(outcome.failures),
        message=_message(text, chosen, outcome.channels, outcome.failures, outcome.notes, where),
        notes=tuple(outcome.notes),
    )


def _copy_auto(
    text: str,
    where: Presence,
    outcome: _Outcome,
    osc52: Callable[[str], None],
    environ: Mapping[str, str],
    run: RunFunction,
    which: Callable[[str], str | None],
    platform: str,
) -> None:
    """Mode auto: inside tmux its buffer, else (or if that failed) OSC 52 unless TERM=dumb;
    a native tool on a local desktop.

    Not both inside tmux: `load-buffer -w` forwards the text to the outer terminal itself, and
    tmux with `set-clipboard on` turns an OSC 52 into a buffer of its own, a second copy."""
    forwarded = False
    if where.in_tmux:
        result = _tmux_load_buffer(text, environ, run, which)
        forwarded = result[0] == "tmux buffer"  # not an old tmux's plain buffer
        outcome.add(result)
    if where.term_dumb:
        outcome.notes.append("TERM=dumb: no OSC 52 sent.")
    elif not forwarded:
        outcome.add(_send_osc52(text, osc52))
    if where.over_ssh:
        native_note = "Over SSH: the desktop clipboard tools were not used."
    elif not where.desktop:
        native_note = "No desktop session: no native clipboard tool used."
    else:
        command, why_not = _native_command(environ, which, platform)
        native_note = f"Native clipboard: {why_not}." if why_not else ""
        if command is not None:
            outcome.add(_run_native(command, text, environ, run))
    # Said only when nothing worked: otherwise it is noise in every yank.
    if not outcome.channels and native_note:
        outcome.notes.append(native_note)
