"""Item 9's terminal: a program on a pseudo-terminal, every byte it writes, and where they went.

`PtyProgram` runs a command on a pty of COLUMNS x LINES and counts what it writes; `Screen` is a
small model of the terminal's text (no styles), enough to tell which lines an action changed;
`Recorder` pairs them, so each action's bytes come with the lines they changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

COLUMNS, LINES = 140, 40
# No byte for this long: the screen has settled (longer than the Describe on rest, 0.5 s).
QUIET = 0.8
SETTLE_TIMEOUT = 20.0
STARTUP_TIMEOUT = 60.0
_MOVE_TO = re.compile(rb"\x1b\[(\d+);(\d+)H")
_ESCAPE = re.compile(
    rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|.)"
)


# ---------------------------------------------------------------- a program on a pty


class PtyProgram:
    """A child process on a pseudo-terminal of COLUMNS x LINES; every byte it writes is kept."""

    def __init__(self, command: Sequence[str], env: dict[str, str], cwd: Path) -> None:
        self.command = list(command)
        self.env = env
        self.cwd = cwd
        self.output = bytearray()
        self._last_byte = time.monotonic()
        self._lock = threading.Lock()
        self._master = -1
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> PtyProgram:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        self._master = master
        try:
            self._process = subprocess.Popen(
                self.command,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        finally:
            os.close(slave)
        self._reader = threading.Thread(target=self._drain, name="bench-bytes-pty", daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                self.press(b"\x03")  # ctrl+c: both apps quit on it
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()  # this child only, by its own handle
                process.wait()
        with contextlib.suppress(OSError):
            os.close(self._master)
        if self._reader is not None:
            self._reader.join(timeout=2)

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(self._master, 65536):
                with self._lock:
                    self.output.extend(chunk)
                    self._last_byte = time.monotonic()

    @property
    def written(self) -> int:
        with self._lock:
            return len(self.output)

    def since(self, mark: int) -> bytes:
        with self._lock:
            return bytes(self.output[mark:])

    def press(self, keys: bytes) -> None:
        with self._lock:
            # Silence is counted from the key on: the app has not answered yet.
            self._last_byte = time.monotonic()
        os.write(self._master, keys)

    def settle(self, quiet: float = QUIET, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait until no byte has come for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        start = self.written
        while time.monotonic() < deadline:
            with self._lock:
                silent = time.monotonic() - self._last_byte
            if silent >= quiet:
                return
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"{self.command[-1]} ended: {visible(self.since(0))[-600:]}")
            time.sleep(min(0.05, quiet - silent))
        tail = visible(self.since(max(0, self.written - 2000)))[-300:]
        raise RuntimeError(
            f"{' '.join(self.command[-2:])}: the screen did not settle within {timeout:.0f} s"
            f" (it wrote {self.written - start:,} bytes meanwhile, last: {tail!r})"
        )

    def wait_for(self, text: str, timeout: float = STARTUP_TIMEOUT) -> None:
        """Wait until `text` has been written (escape sequences taken out)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in visible(self.since(0)):
                return
            if self._process is not None and self._process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"never showed {text!r}: {visible(self.since(0))[-600:]}")

    def act(self, keys: bytes, quiet: float = QUIET) -> bytes:
        """Press `keys` on a settled screen; what the app wrote until it settled again."""
        self.settle(quiet)
        mark = self.written
        self.press(keys)
        self.settle(quiet)
        return self.since(mark)


def visible(output: bytes) -> str:
    """Terminal output without its escape sequences."""
    return _ESCAPE.sub(b"", output).decode(errors="replace")


# ---------------------------------------------------------------- where the bytes went


@dataclass
class Screen:
    """The text on a terminal (no styles): enough to tell which lines an action changed."""

    lines: list[list[str]] = field(default_factory=lambda: [[" "] * COLUMNS for _ in range(LINES)])
    y: int = 0
    x: int = 0

    def copy(self) -> Screen:
        return Screen([list(line) for line in self.lines], self.y, self.x)

    def feed(self, data: bytes) -> None:
        from rich.cells import cell_len

        y, x = self.y, self.x
        for piece in re.split(rb"(\x1b\[\d+;\d+H|\r\n|\n)", data):
            move = _MOVE_TO.fullmatch(piece)
            if move:
                y, x = int(move[1]) - 1, int(move[2]) - 1
                continue
            if piece in (b"\r\n", b"\n"):
                y, x = y + 1, 0
                continue
            for char in visible(piece):
                width = cell_len(char)
                if 0 <= y < LINES and 0 <= x < COLUMNS and width:
                    self.lines[y][x] = char
                    for extra in range(1, width):
                        if x + extra < COLUMNS:
                            self.lines[y][x + extra] = ""
                x += width
        self.y, self.x = y, x

    def text(self, y: int, x0: int = 0, x1: int = COLUMNS) -> str:
        return "".join(self.lines[y][x0:x1])


def by_place(data: bytes, split_x: int) -> dict[str, int]:
    """Bytes by where Textual's cursor-move put them: top line, bottom line, left, right."""
    places = {"top": 0, "bottom": 0, "left": 0, "right": 0, "other": 0}
    marks = [(m.start(), int(m[1]) - 1, int(m[2]) - 1) for m in _MOVE_TO.finditer(data)]
    if not marks:
        places["other"] = len(data)
        return places
    places["other"] += marks[0][0]
    for (start, y, x), following in zip(marks, [*marks[1:], (len(data), 0, 0)], strict=True):
        size = following[0] - start
        if y == 0:
            places["top"] += size
        elif y == LINES - 1:
            places["bottom"] += size
        elif x >= split_x:
            places["right"] += size
        else:
            places["left"] += size
    return places


def lines_written(data: bytes, split_x: int) -> int:
    """How many body lines (neither the top nor the bottom line) got a write from `split_x` on."""
    return len(
        {
            int(m[1]) - 1
            for m in _MOVE_TO.finditer(data)
            if int(m[2]) - 1 >= split_x and 0 < int(m[1]) - 1 < LINES - 1
        }
    )


def lines_changed(
    before: Screen, after: Screen, x0: int, x1: int, y0: int = 0, y1: int = LINES
) -> int:
    """Lines from y0 to y1 (excluded) whose text from column x0 to x1 differs."""
    return sum(1 for y in range(y0, y1) if before.text(y, x0, x1) != after.text(y, x0, x1))


@dataclass
class Action:
    """One action's bytes, where they went and how many lines' text it changed."""

    name: str
    data: bytes
    changed_left: int = 0
    changed_right: int = 0
    places: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.data)


class Recorder:
    """Actions on one program, with a screen model kept up to date."""

    def __init__(self, program: PtyProgram, split_x: int) -> None:
        self.program = program
        self.split_x = split_x
        self.screen = Screen()
        self._fed = 0

    def catch_up(self) -> None:
        data = self.program.since(self._fed)
        self._fed += len(data)
        self.screen.feed(data)

    def act(self, name: str, keys: bytes) -> Action:
        self.program.settle()
        self.catch_up()
        before = self.screen.copy()
        data = self.program.act(keys)
        self.catch_up()
        return Action(
            name,
            data,
            # Between the status line and the footer: the table's (left) and the detail's.
            lines_changed(before, self.screen, 0, self.split_x, 1, LINES - 1),
            lines_changed(before, self.screen, self.split_x, COLUMNS, 1, LINES - 1),
            by_place(data, self.split_x),
        )

    def idle(self, seconds: float) -> bytes:
        self.program.settle()
        mark = self.program.written
        time.sleep(seconds)
        self.catch_up()
        return self.program.since(mark)
