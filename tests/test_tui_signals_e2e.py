"""`wmtui --demo` on a pseudo-terminal, ended by a signal as a bastion host ends it.

`kill` sends SIGTERM; a closed SSH session sends SIGHUP. Either way the app must leave as q
does: the terminal put back in its normal modes, and the demo's temp folder removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli_e2e import ROOT, Shell

# What Textual writes when it leaves the alternate screen: the terminal is back to normal.
LEAVE_ALTERNATE_SCREEN = b"\x1b[?1049l"


class Terminal:
    """A 120x36 pseudo-terminal; everything written to it collects in `output`."""

    def __init__(self) -> None:
        self.output = bytearray()
        self.master, self.slave = pty.openpty()
        self._open = True

    def close(self) -> None:
        """The terminal goes away, as when sshd closes an SSH session's. Once only: the
        numbers of closed descriptors may be reused."""
        if not self._open:
            return
        self._open = False
        for fd in (self.slave, self.master):
            with contextlib.suppress(OSError):
                os.close(fd)


@contextlib.contextmanager
def _terminal() -> Iterator[Terminal]:
    terminal = Terminal()
    master, slave, output = terminal.master, terminal.slave, terminal.output
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    lock = threading.Lock()

    def drain() -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(master, 65536):
                with lock:
                    output.extend(chunk)

    reader = threading.Thread(target=drain, name="test-pty-drain", daemon=True)
    reader.start()
    try:
        yield terminal
    finally:
        terminal.close()
        reader.join(timeout=5)


@pytest.mark.parametrize(
    ("signum", "code", "terminal_gone"),
    [(signal.SIGTERM, 143, False), (signal.SIGHUP, 129, False), (signal.SIGHUP, 129, True)],
    ids=["kill", "hang-up", "hang-up, terminal closed"],
)
def test_a_signal_ends_the_app_cleanly(
    tmp_path: Path, signum: int, code: int, terminal_gone: bool
) -> None:
    shell = Shell(tmp_path)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        **shell.env,
        "TERM": "xterm-256color",
        "TMPDIR": str(temp),
        "WMTUI_CLIPBOARD": "off",
    }
    with _terminal() as terminal:
        output = terminal.output
        process = subprocess.Popen(
            [sys.executable, "-m", "wmtui", "--demo"],
            stdin=terminal.slave,
            stdout=terminal.slave,
            stderr=terminal.slave,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            # The demo's jobs on screen: the app runs, and its demo folder exists.
            while b"RUNNING" not in bytes(output) and process.poll() is None:
                assert time.monotonic() < deadline, "the app did not paint its table"
                time.sleep(0.05)
            assert process.poll() is None, bytes(output)[-2000:]
            assert [p.name for p in temp.iterdir() if p.name.startswith("wmtui-demo-")]
            if terminal_gone:
                terminal.close()
            process.send_signal(signum)
            assert process.wait(timeout=30) == code
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        time.sleep(0.2)  # the last output through the drain
    if not terminal_gone:
        assert LEAVE_ALTERNATE_SCREEN in bytes(output)
    assert not [p.name for p in temp.iterdir() if p.name.startswith("wmtui-demo-")]
