"""Leaving when the terminal is gone: SIGHUP from a dropped SSH session or a closed tmux.

A hung-up terminal fails every write (EIO) and ends every read. Textual writes to the terminal
from a thread of its own, through a bounded queue: once that thread has died of a failed
write, the app's shutdown waits forever to queue the escape sequences that would have put the
terminal back (issue 18). So, at SIGHUP:

1. standard input, output and error are pointed at /dev/null before anything writes again,
   when the terminal is gone (a `kill -HUP` with the terminal still there leaves it, so the
   app still puts it back in its normal modes);
2. the app is asked to end as q ends it, and a thread saves its state (the job cache; its
   organization exports told to stop) without waiting for the main thread, which may be the
   one stuck;
3. if the process is still there HANGUP_GRACE seconds after the state was saved (a write
   that never returns, a worker in a long call), the same thread ends it with 129. The
   process ending is what matters on a bastion: flocks go with it.

Commands keep Python's default for SIGHUP: the kernel ends them on the spot, and whatever
they write is written atomically (the watch list, the cache, an export's state file), so a
command cut short leaves every file whole and every lock free. No textual here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import termios
import threading
from collections.abc import Callable

from wmtui.cli.errors import EXIT_HANGUP

# Seconds the app's own shutdown gets, once the state is saved, before the process is ended.
HANGUP_GRACE = 2.0
# At most this long to wait at the normal end for the rescue thread's save to be written.
SAVE_WAIT = 10.0
# Written to the wakeup pipe to stop its reader (no signal has the number 0).
_STOP_READING = 0


def terminal_gone() -> bool:
    """Whether standard input or output is a terminal that has hung up (or was never one).

    A hung-up terminal answers every control request with an error, tcgetattr included; a
    live one answers. Not a terminal at all (a pipe, a file) counts as gone: the app needs
    one, and writing to a file or a pipe cannot restore anything.
    """
    for fd in (0, 1):
        try:
            termios.tcgetattr(fd)
        except (termios.error, OSError):
            return True
    return False


def leave_terminal_if_gone() -> None:
    """Silence the terminal if it has hung up; a live one is left for the app to put back."""
    if terminal_gone():
        silence_terminal()


def silence_terminal() -> None:
    """Point standard input, output and error at /dev/null: every later write succeeds into
    nothing (the interpreter's last flush too, which would otherwise make the status 120),
    and every read ends at once."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        try:
            for fd in (0, 1, 2):
                os.dup2(null, fd)
        finally:
            os.close(null)


class HangupExit:
    """What a SIGHUP sets off: the terminal silenced, the app asked to end and its state saved
    off the main thread, and a watchdog that ends the process with 129 if the app's own
    shutdown does not finish in time.

    The kernel gives a signal to any thread of the process, and CPython runs the Python-level
    handler in the main thread only, once that thread next runs bytecode: a main thread stuck
    waiting (for Textual's writer thread, dead of a failed write) would never run it. So the
    signal is also heard through `signal.set_wakeup_fd`, which the C-level handler writes to
    at once from whatever thread got it, read by a thread of this class's own.
    """

    def __init__(
        self,
        save_state: Callable[[], None] = lambda: None,
        ask_to_exit: Callable[[], None] = lambda: None,
        last_rites: Callable[[], None] = lambda: None,
        *,
        grace: float = HANGUP_GRACE,
        end_process: Callable[[int], None] = os._exit,
        leave_terminal: Callable[[], None] = leave_terminal_if_gone,
    ) -> None:
        self._save_state = save_state
        self._ask_to_exit = ask_to_exit
        # What must happen even when the process is ended (the demo's folder removed).
        self._last_rites = last_rites
        self._grace = grace
        self._end_process = end_process
        self._leave_terminal = leave_terminal
        self._hung_up = threading.Event()
        self._saved = threading.Event()

    @property
    def hung_up(self) -> bool:
        return self._hung_up.is_set()

    def on_hangup(self) -> None:
        """From the SIGHUP handler or the wakeup reader: does nothing that could block."""
        if self._hung_up.is_set():
            return
        self._hung_up.set()
        self._leave_terminal()
        threading.Thread(target=self._rescue, name="wmtui-hangup", daemon=True).start()

    def _rescue(self) -> None:
        try:
            # Nowhere to say what went wrong: the terminal is gone.
            with contextlib.suppress(Exception):
                self._ask_to_exit()
            with contextlib.suppress(Exception):
                self._save_state()
        finally:
            self._saved.set()
        # Daemon thread: if the process ends by itself first, this wait ends with it.
        threading.Event().wait(self._grace)
        with contextlib.suppress(Exception):
            self._last_rites()
        self._end_process(EXIT_HANGUP)

    def settle(self) -> None:
        """The app has ended by itself: after a hang-up, wait for the rescue thread's save to
        be written (the interpreter would cut a daemon thread's write short)."""
        if self._hung_up.is_set():
            self._saved.wait(SAVE_WAIT)

    def listen(self) -> Callable[[], None]:
        """Hear SIGHUP whichever thread it is delivered to (a Python-level handler for it must
        be in place: the C-level one writes to the wakeup fd). From the main thread only;
        returns what puts the previous wakeup fd back and stops the reader."""
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(write_end, False)
        try:
            previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        except ValueError:  # not the main thread
            os.close(read_end)
            os.close(write_end)
            return lambda: None

        def read() -> None:
            with contextlib.suppress(OSError):
                while data := os.read(read_end, 64):
                    if signal.SIGHUP in data:
                        self.on_hangup()
                    if _STOP_READING in data:
                        break
            os.close(read_end)

        threading.Thread(target=read, name="wmtui-hangup-listen", daemon=True).start()

        def restore() -> None:
            with contextlib.suppress(ValueError):
                signal.set_wakeup_fd(previous)
            with contextlib.suppress(OSError):
                os.write(write_end, bytes([_STOP_READING]))
            os.close(write_end)

        return restore
