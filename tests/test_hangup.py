"""A dropped SSH session: the terminal goes away under a running wmtui (issue 18).

sshd (or tmux) closes the master side of the session's pseudo-terminal; the kernel hangs the
terminal up and sends SIGHUP to the session leader. Here wmtui is that leader: it makes the
pty's slave side its controlling terminal, as a login shell's child would have it, and the
test closes the master at a moment of its choosing (random, seeded per case):
- during the first paint (a hundred cached jobs, an endpoint that refuses at once),
- during a refresh (an endpoint that accepts and never answers: a worker thread is stuck in a
  read that lasts longer than the test waits),
- during an organization export (the emulator, the export started with E from the keyboard).
Whatever the moment, the process must end (a generous liveness timeout, not a speed check)
with 129, having released every lock, with the watch list and the job cache intact.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pty
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_cli_e2e import Shell

from wmtui.core.cache import JobCache
from wmtui.core.destinations import Destination, remember_destination
from wmtui.core.export import read_export_state
from wmtui.core.locations import endpoint_cache_dir, jobs_cache_path
from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.core.watchlist import WatchList
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState

REGION = "us-east-1"
ORG = "m-0123456789abcdef0123456789abcdef"
ROLE = "arn:aws:iam::123456789012:role/WorkMailExport"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET = "migration-bucket"
PREFIX = "workmail/final"
# How long a process may take to end once its terminal is gone before it counts as stuck.
# Generous: a liveness check on a loaded machine, not a measure of speed.
LIVENESS_SECONDS = 30.0
# How long the app may take to show something before the test gives up on it.
START_SECONDS = 60.0
# What Textual writes first: from here on the app paints.
ENTER_ALTERNATE_SCREEN = b"\x1b[?1049h"
# The refresh and the export scenarios run this many times, each at its own random moment.
ROUNDS = 6
# The first paint: the terminal closes right after the app's 1st, 2nd, ... this many-th write.
FIRST_PAINT_CHUNKS = 12

# Started by the test as `python -c LAUNCH -m wmtui ...`: in a session of its own (Popen's
# start_new_session), the pty's slave becomes the controlling terminal, then wmtui replaces
# this code in the same process, which stays the session leader the kernel signals.
LAUNCH = (
    "import fcntl, os, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])\n"
)


class SessionTerminal:
    """A 120x36 pseudo-terminal that a process takes as its controlling terminal."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
        self.output = bytearray()
        self._lock = threading.Lock()
        self._open = True
        # Set by hang_up: the drain closes the master as soon as the app writes again, or by
        # `_close_by` if it does not.
        self._closing = threading.Event()
        self._close_by = 0.0
        # Or: the drain closes the master right after this many chunks of output.
        self._close_at_chunk: int | None = None
        self._chunks = 0
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._drain, name="test-pty-drain", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        """Collect the output; on hang_up, close the master right after a chunk of it.

        sshd finds the connection gone when it forwards the app's output, so the terminal
        hangs up while the app is writing a frame: the moment that left the app stuck (its
        writer thread died of a failed write halfway through a paint). The master is closed
        here, never while a read is in progress elsewhere: a read holds the file open, and
        closing it then would hang the terminal up only once the read returns.
        """
        try:
            with contextlib.suppress(OSError):
                while not (self._closing.is_set() and time.monotonic() >= self._close_by):
                    ready, _, _ = select.select([self.master], [], [], 0.02)
                    if not ready:
                        continue
                    chunk = os.read(self.master, 65536)
                    if not chunk:
                        return
                    with self._lock:
                        self.output.extend(chunk)
                    self._chunks += 1
                    if self._closing.is_set() or self._chunks == self._close_at_chunk:
                        return
        finally:
            os.close(self.master)
            self._closed.set()

    def seen(self) -> bytes:
        with self._lock:
            return bytes(self.output)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def start(self, argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *argv],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        # Only the process holds the slave now: closing the master hangs it up.
        os.close(self.slave)
        return process

    def hang_up_at_chunk(self, count: int) -> None:
        """Close the master right after the app's `count`-th chunk of output (before the
        app starts: 1 is right after it entered the alternate screen)."""
        self._close_at_chunk = count

    def wait_closed(self) -> None:
        assert self._closed.wait(START_SECONDS), "the app wrote too little"

    def hang_up(self) -> None:
        """What sshd does when the connection drops: the master side closes (at the app's
        next write, or after half a second of silence)."""
        if self._open:
            self._open = False
            if not self._closed.is_set():
                self._close_by = time.monotonic() + 0.5
                self._closing.set()
            self._reader.join()


@contextlib.contextmanager
def session(
    argv: list[str], env: dict[str, str], cwd: Path, *, hang_up_at_chunk: int | None = None
) -> Iterator[Session]:
    terminal = SessionTerminal()
    if hang_up_at_chunk is not None:
        terminal.hang_up_at_chunk(hang_up_at_chunk)
    process = terminal.start(argv, env, cwd)
    try:
        yield Session(terminal, process)
    finally:
        terminal.hang_up()
        if process.poll() is None:
            process.kill()
            process.wait()


class Session:
    def __init__(self, terminal: SessionTerminal, process: subprocess.Popen[bytes]) -> None:
        self.terminal = terminal
        self.process = process

    def wait_for(self, text: bytes, what: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        while text not in self.terminal.seen():
            assert self.process.poll() is None, f"ended before {what}: {self.tail()}"
            assert time.monotonic() < deadline, f"never {what}: {self.tail()}"
            time.sleep(0.05)

    def tail(self) -> str:
        """The end of what the terminal showed, as text without escape sequences."""
        text = re.sub(rb"\x1b\[[0-9;?<>=$]*[a-zA-Z~]", b" ", self.terminal.seen())
        return " ".join(text.decode("utf-8", "replace").split())[-400:]

    def hang_up_and_wait(self) -> int:
        """Close the terminal; the exit status once the process has ended (stuck: a failure)."""
        self.terminal.hang_up()
        try:
            return self.process.wait(timeout=LIVENESS_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {LIVENESS_SECONDS:g} s after its terminal closed")


def hung_up_status(code: int) -> bool:
    """129 (128 + SIGHUP, what wmtui exits with), or the kernel's default for a SIGHUP that came
    before wmtui's handler was in place (a terminal closed while Python itself started)."""
    return code in (129, -signal.SIGHUP)


def app_env(shell: Shell, endpoint: str) -> dict[str, str]:
    return {
        **shell.env,
        "TERM": "xterm-256color",
        "WMTUI_CLIPBOARD": "off",
        "WMTUI_ENDPOINT_URL": endpoint,
        "WMTUI_REGION": REGION,
    }


def job_ids(count: int) -> list[str]:
    return [f"job-{index:04d}-hangup" for index in range(count)]


def cache_file(shell: Shell, endpoint: str) -> Path:
    """The app's job cache for this endpoint (each endpoint has its own)."""
    return jobs_cache_path(endpoint_cache_dir(shell.home / "cache", endpoint))


def watch_cached_jobs(shell: Shell, endpoint: str, count: int) -> list[JobKey]:
    """A watch list of `count` running jobs, all of them in the job cache."""
    keys = [JobKey(REGION, ORG, job_id) for job_id in job_ids(count)]
    WatchList(shell.config_dir / "watchlist.json").add(keys)
    started = datetime.now(UTC) - timedelta(minutes=5)
    JobCache(cache_file(shell, endpoint)).save(
        {
            key: ExportJob(
                key,
                JobState.RUNNING,
                raw_state="RUNNING",
                entity_id=f"entity-{index}",
                estimated_progress=40,
                start_time=started,
            )
            for index, key in enumerate(keys)
        }
    )
    return keys


def lock_is_free(lock_path: Path) -> bool:
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise
    finally:
        os.close(fd)
    return True


def assert_left_intact(shell: Shell, endpoint: str, watched: list[JobKey]) -> None:
    """The watch list still holds every job it held; the cache reads cleanly and remembers
    every watched job; no lock is held and no half-written file is left behind."""
    kept = set(WatchList(shell.config_dir / "watchlist.json").load())
    assert set(watched) <= kept
    cache = JobCache(cache_file(shell, endpoint))
    cached = cache.load()
    assert cache.last_problem is None
    assert kept <= set(cached)
    for folder in (shell.config_dir, shell.home / "cache", shell.home / "data"):
        if not folder.exists():
            continue
        for lock in folder.rglob("*.lock"):
            assert lock_is_free(lock), f"{lock} is still locked"
        assert not [path.name for path in folder.rglob("*.tmp")]


# ---- an endpoint that accepts and never answers ------------------------------------------------


@contextlib.contextmanager
def silent_endpoint() -> Iterator[str]:
    """http://127.0.0.1:<port> that accepts connections and never answers: every call waits
    for its read timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        with contextlib.suppress(OSError):
            while not stop.is_set():
                connection, _ = server.accept()
                held.append(connection)

    thread = threading.Thread(target=accept, name="test-silent-endpoint", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        server.close()
        for connection in held:
            connection.close()


# ---- the scenarios -----------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", range(1, FIRST_PAINT_CHUNKS + 1))
def test_terminal_closed_during_the_first_paint(tmp_path: Path, chunk: int) -> None:
    shell = Shell(tmp_path)
    endpoint = "http://127.0.0.1:9"  # nothing listens: each call fails at once
    watched = watch_cached_jobs(shell, endpoint, 100)
    env = app_env(shell, endpoint)
    # The moment is the point: the terminal goes right after one of the app's first writes,
    # from entering the alternate screen (1) to well into the first paint. The first few
    # left the app stuck, or ending with 120 (its last flush failed).
    with session(["-m", "wmtui"], env, tmp_path, hang_up_at_chunk=chunk) as running:
        running.terminal.wait_closed()
        code = running.hang_up_and_wait()
    assert hung_up_status(code), code
    assert_left_intact(shell, endpoint, watched)


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_terminal_closed_during_a_refresh(tmp_path: Path, seed: int) -> None:
    shell = Shell(tmp_path)
    with silent_endpoint() as endpoint:
        watched = watch_cached_jobs(shell, endpoint, 100)
        env = {**app_env(shell, endpoint), "WMTUI_READ_TIMEOUT": "120"}
        moment = random.Random(seed).uniform(0.0, 1.0)
        with session(["-m", "wmtui"], env, tmp_path) as running:
            running.wait_for(b"100 jobs", "painted the table")
            running.wait_for(b"refreshing", "started a refresh")
            time.sleep(moment)
            code = running.hang_up_and_wait()
    assert code == 129, running.tail()
    assert_left_intact(shell, endpoint, watched)


@contextlib.contextmanager
def organization(mailboxes: int, running_jobs: int = 0) -> Iterator[EmulatorServer]:
    """An organization of `mailboxes`; the first `running_jobs` of them have an export
    running already (the job IDs of `job_ids`)."""
    # The emulator's clock stands still: the export's jobs run for as long as the test lasts.
    state = EmulatorState(clock=EmulatorClock(manual=True), seed=5, failure_rate=0)
    state.add_organization("acme", ORG)
    entity_ids = [state.add_mailbox(ORG, f"user{index:02d}") for index in range(mailboxes)]
    for entity_id, job_id in zip(entity_ids, job_ids(running_jobs), strict=False):
        state.add_job(ORG, entity_id, state="RUNNING", progress=40, job_id=job_id)
    with EmulatorServer(state) as server:
        yield server


def export_lock(shell: Shell) -> Path | None:
    exports = shell.home / "data"
    return next(iter(exports.rglob("*.json.lock")), None) if exports.exists() else None


def wait_for_export_lock(running: Session, shell: Shell) -> Path:
    """The export's lock file, once the app's export holds it."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        lock = export_lock(shell)
        if lock is not None and not lock_is_free(lock):
            return lock
        assert running.process.poll() is None, running.tail()
        assert time.monotonic() < deadline, f"the export never started: {running.tail()}"
        time.sleep(0.05)


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_terminal_closed_during_an_organization_export(tmp_path: Path, seed: int) -> None:
    shell = Shell(tmp_path)
    # The destination the form fills in for this organization: E, Enter, y starts it.
    destination = Destination(BUCKET, PREFIX, ROLE, KMS)
    assert remember_destination(shell.config_dir, REGION, ORG, destination)
    moment = random.Random(seed).uniform(0.0, 1.5)
    with organization(30, running_jobs=5) as server:
        endpoint = server.endpoint_url
        watched = watch_cached_jobs(shell, endpoint, 5)
        env = {**app_env(shell, endpoint), "WMTUI_MAX_ATTEMPTS": "2"}
        with session(["-m", "wmtui"], env, tmp_path) as running:
            running.wait_for(b"5 jobs", "painted the table")
            running.terminal.type(b"E")
            running.wait_for(b"Export every mailbox", "opened the export form")
            running.terminal.type(b"\r")
            running.wait_for(b"Export the organization?", "asked to confirm")
            running.terminal.type(b"y")
            lock = wait_for_export_lock(running, shell)
            time.sleep(moment)
            code = running.hang_up_and_wait()
    assert code == 129, running.tail()
    assert lock_is_free(lock)
    state_file = lock.with_name(lock.name.removesuffix(".lock"))
    saved = read_export_state(state_file)
    assert saved is not None and saved.spec.organization_id == ORG
    # The jobs the export started and the app watched are in the cache: saved on the way out.
    assert_left_intact(shell, endpoint, watched)
