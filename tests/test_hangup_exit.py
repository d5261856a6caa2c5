"""wmtui.cli.hangup.HangupExit in-process: the order of things after a SIGHUP, and hearing a
SIGHUP that the kernel gave to a thread other than the main one."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import pytest

from wmtui.cli.hangup import HangupExit


class Recorder:
    """What the hang-up did, in order; `ended` is set when it ends the process."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.ended = threading.Event()
        self.code: int | None = None

    def step(self, name: str) -> None:
        self.steps.append(name)

    def end(self, code: int) -> None:
        self.code = code
        self.steps.append("end")
        self.ended.set()

    def hangup(self, **changes: object) -> HangupExit:
        options: dict[str, object] = {
            "save_state": lambda: self.step("save"),
            "ask_to_exit": lambda: self.step("ask"),
            "last_rites": lambda: self.step("rites"),
            "grace": 0.0,
            "end_process": self.end,
            "leave_terminal": lambda: self.step("terminal"),
            **changes,
        }
        return HangupExit(**options)  # type: ignore[arg-type]


def test_terminal_first_then_exit_asked_state_saved_and_the_process_ended_with_129() -> None:
    record = Recorder()
    hangup = record.hangup()
    hangup.on_hangup()
    hangup.on_hangup()  # a second SIGHUP changes nothing
    assert record.ended.wait(10)
    assert record.steps == ["terminal", "ask", "save", "rites", "end"]
    assert record.code == 129
    assert hangup.hung_up


def test_a_failing_save_still_ends_the_process() -> None:
    record = Recorder()

    def broken() -> None:
        raise OSError("disk full")

    hangup = record.hangup(save_state=broken)
    hangup.on_hangup()
    assert record.ended.wait(10)
    assert record.code == 129


def test_settle_waits_for_the_save_and_nothing_without_a_hangup() -> None:
    record = Recorder()
    release = threading.Event()

    def slow_save() -> None:
        release.wait(10)
        record.step("saved")

    hangup = record.hangup(save_state=slow_save, grace=60.0)
    hangup.settle()  # no hang-up: returns at once
    hangup.on_hangup()
    threading.Timer(0.1, release.set).start()
    hangup.settle()
    assert "saved" in record.steps
    assert not record.ended.is_set()  # the process ended by itself before the grace


@pytest.fixture
def python_sighup_handler() -> Iterator[list[int]]:
    """A Python-level SIGHUP handler (the C-level one then writes to the wakeup fd)."""
    calls: list[int] = []
    previous = signal.signal(signal.SIGHUP, lambda signum, _frame: calls.append(signum))
    try:
        yield calls
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_sighup_delivered_to_another_thread_is_heard(python_sighup_handler: list[int]) -> None:
    record = Recorder()
    saved = threading.Event()
    hangup = record.hangup(grace=60.0, save_state=saved.set)
    stop_listening = hangup.listen()
    try:
        other = threading.Thread(target=threading.Event().wait, args=(2,), daemon=True)
        other.start()
        # The kernel's choice when the main thread is busy or stuck: a thread of no interest.
        signal.pthread_kill(other.ident or 0, signal.SIGHUP)
        assert saved.wait(10), "the SIGHUP went unheard"
    finally:
        stop_listening()
    assert hangup.hung_up
    assert record.steps[:2] == ["terminal", "ask"]
