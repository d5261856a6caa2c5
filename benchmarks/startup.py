"""Items 4 and 5: start-up to the first paint of the cached table, and peak memory.

Each run is a new process on a pseudo-terminal of 120x40 (the real terminal driver, as a user
gets it): `wmtui` through its real entry point, and a bare Textual app showing a DataTable with
the same rows, alternately, so both see the same machine. The child (startup_child.py) stamps
its first paint with the system's monotonic clock; the parent stamps the moment before it
spawned the process. For start-up the endpoint is a closed port on 127.0.0.1 (the first
refresh fails, as when the network is down: the cache is what is shown); for memory the
emulator serves the 10,000 jobs and the child waits for its first refresh to end.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import table
from benchmarks.common import Options, Section, isolated_aws_environ, median, ms, ratio
from benchmarks.world import World, build_world
from wmtui.core.cache import JobCache
from wmtui.core.locations import jobs_cache_path, watchlist_path
from wmtui.core.watchlist import WatchList
from wmtui.emulator.server import EmulatorServer

CHILD = Path(__file__).with_name("startup_child.py")
ROW_COUNTS = (table.FEW, 1_000, table.MANY)
ORGANIZATIONS = 10
COLUMNS, LINES = 120, 40
RATIO_TARGET = 1.3
# The sizes held to RATIO_TARGET; the smallest is there for the job table's scaling check.
RATIO_CHECKED = (1_000, table.MANY)
MEMORY_TARGET = 150 * 1024 * 1024
CHILD_TIMEOUT = 120.0
# Bytes of a child's terminal output kept to explain a failure.
OUTPUT_KEPT = 4096


@dataclass
class ChildRun:
    seconds: float  # spawn to first paint
    result: dict[str, Any]

    @property
    def boto3_at_paint(self) -> bool:
        return bool(self.result.get("modules_at_paint", {}).get("boto3"))

    @property
    def botocore_at_paint(self) -> bool:
        return bool(self.result.get("modules_at_paint", {}).get("botocore"))

    def import_began(self, module: str) -> tuple[float, str] | None:
        """When (relative to the first paint) and on which thread `module` began to import."""
        found = self.result.get(f"{module}_import")
        if not found:
            return None
        return float(found["at"]) - float(self.result["first_paint"]), str(found["thread"])


@dataclass
class StartupCase:
    rows: int
    wmtui: list[ChildRun] = field(default_factory=list)
    bare: list[ChildRun] = field(default_factory=list)
    deferred: list[ChildRun] = field(default_factory=list)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _prepare(root: Path, world: World) -> None:
    WatchList(watchlist_path(root / "config")).add(world.watched)
    JobCache(jobs_cache_path(root / "cache")).save(world.known)


def _environ(root: Path, endpoint_url: str, pycache: Path) -> dict[str, str]:
    env = isolated_aws_environ(root / "home")
    # Compiled modules as an installed wmtui has them (this environment may forbid writing
    # .pyc files); kept in a folder of the benchmark's own, not in the venv.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    for name in [n for n in env if n.startswith("TEXTUAL")]:
        del env[name]
    env.update(
        {
            "WMTUI_CONFIG_DIR": str(root / "config"),
            "WMTUI_CACHE_DIR": str(root / "cache"),
            "WMTUI_DATA_DIR": str(root / "data"),
            "WMTUI_ENDPOINT_URL": endpoint_url,
            "WMTUI_CLIPBOARD": "off",
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
            # Fail fast against the closed port: the measurement ends at the first paint anyway.
            "WMTUI_MAX_ATTEMPTS": "1",
        }
    )
    env.pop("TMUX", None)
    return env


@contextlib.contextmanager
def _terminal(output: bytearray) -> Iterator[tuple[int, int]]:
    """A pseudo-terminal of COLUMNS x LINES; the last of its output is kept in `output`."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))

    def drain() -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(master, 65536):
                output.extend(chunk)
                del output[:-OUTPUT_KEPT]

    reader = threading.Thread(target=drain, name="bench-pty-drain", daemon=True)
    reader.start()
    try:
        yield master, slave
    finally:
        with contextlib.suppress(OSError):
            os.close(slave)
        with contextlib.suppress(OSError):
            os.close(master)
        reader.join(timeout=2)


def _visible(output: bytes) -> str:
    """Terminal output without escape sequences, for an error message."""
    text = re.sub(
        r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|.)",
        "",
        output.decode(errors="replace"),
    )
    return " ".join(text.split())[-1500:]


def run_child(variant: str, mode: str, rows: int, env: dict[str, str], work: Path) -> ChildRun:
    result_path = work / f"result-{variant}-{time.monotonic_ns()}.json"
    command = [sys.executable, str(CHILD), variant, mode, str(result_path), str(rows)]
    output = bytearray()
    with _terminal(output) as (_master, slave):
        spawned = time.monotonic()
        process = subprocess.Popen(
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=work,
            start_new_session=True,
        )
        try:
            process.wait(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError(
                f"{variant} ({mode}) did not finish in {CHILD_TIMEOUT:.0f} s"
            ) from None
    try:
        result = json.loads(result_path.read_text())
    except (OSError, ValueError) as exc:
        raise RuntimeError(
            f"{variant} ({mode}) left no result (exit {process.returncode})"
        ) from exc
    if "first_paint" not in result:
        shown = _visible(bytes(output))
        raise RuntimeError(
            f"{variant} ({mode}) never painted its table: {result}; it said: {shown}"
        )
    return ChildRun(float(result["first_paint"]) - spawned, result)


def _startup_case(
    rows: int, options: Options, pycache: Path, log: Callable[[str], None]
) -> StartupCase:
    case = StartupCase(rows)
    world = build_world(rows, ORGANIZATIONS)
    root = Path(tempfile.mkdtemp(prefix="wmtui-bench-start-"))
    try:
        _prepare(root, world)
        env = _environ(root, f"http://127.0.0.1:{_closed_port()}", pycache)
        runs = min(options.repeats, 5)
        # One untimed run of each first: the OS's file cache, compiled modules.
        run_child("bare", "paint", rows, env, root)
        run_child("wmtui", "paint", rows, env, root)
        for _ in range(runs):
            case.bare.append(run_child("bare", "paint", rows, env, root))
            case.wmtui.append(run_child("wmtui", "paint", rows, env, root))
            case.deferred.append(run_child("wmtui-deferred", "paint", rows, env, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    log(
        f"  {rows:,} rows: wmtui {ms(_median_seconds(case.wmtui))}, "
        f"bare {ms(_median_seconds(case.bare))}, "
        f"wmtui with its refresh deferred {ms(_median_seconds(case.deferred))}"
    )
    return case


def _median_seconds(runs: Sequence[ChildRun]) -> float:
    return median([r.seconds for r in runs])


@dataclass
class MemoryResult:
    wmtui: list[ChildRun]
    bare: list[ChildRun]
    calls: dict[str, int]


def _memory(options: Options, pycache: Path, log: Callable[[str], None]) -> MemoryResult:
    rows = 10_000
    world = build_world(rows, ORGANIZATIONS)
    root = Path(tempfile.mkdtemp(prefix="wmtui-bench-memory-"))
    try:
        _prepare(root, world)
        with EmulatorServer(world.state, latency_ms=options.latency_ms) as server:
            env = _environ(root, server.endpoint_url, pycache)
            env["WMTUI_MAX_ATTEMPTS"] = "4"
            wmtui_runs: list[ChildRun] = []
            bare_runs: list[ChildRun] = []
            for _ in range(1 if options.quick else 2):
                world.state.reset_counters()
                wmtui_runs.append(run_child("wmtui", "refresh", rows, env, root))
                calls = dict(world.state.counters_snapshot())
                bare_runs.append(run_child("bare", "paint", rows, env, root))
            if server.internal_errors:
                raise RuntimeError(f"emulator errors: {server.internal_errors}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for run in wmtui_runs:
        if "refreshed" not in run.result:
            raise RuntimeError(f"wmtui never finished its first refresh: {run.result}")
    log(f"  peak RSS wmtui {_mib(max(_peak(r) for r in wmtui_runs))}")
    return MemoryResult(wmtui_runs, bare_runs, calls)


def _peak(run: ChildRun) -> int:
    return int(run.result.get("rss_after_refresh") or run.result.get("rss_at_paint") or 0)


def _mib(value: float) -> str:
    return f"{value / 1024 / 1024:.0f} MiB"


def _import_note(runs: Sequence[ChildRun], module: str) -> str:
    began = [r.import_began(module) for r in runs]
    before = [b for b in began if b is not None and b[0] < 0]
    if not any(b is not None for b in began):
        return f"{module} was not imported before the app exited"
    threads = sorted({b[1] for b in began if b is not None})
    if before:
        leads = sorted(-b[0] for b in before)
        return (
            f"{module} began importing {ms(leads[0])} to {ms(leads[-1])} before the first "
            f"paint in {len(before)} of {len(runs)} runs (thread: {', '.join(threads)})"
        )
    return f"{module} began importing only after the first paint (thread: {', '.join(threads)})"


def run(options: Options, log: Callable[[str], None], items: Sequence[int]) -> list[Section]:
    pycache = Path(tempfile.mkdtemp(prefix="wmtui-bench-pycache-"))
    try:
        sections: list[Section] = []
        if 4 in items:
            sections.append(_startup_section(options, pycache, log))
        if 5 in items:
            sections.append(_memory_section(options, pycache, log))
        return sections
    finally:
        shutil.rmtree(pycache, ignore_errors=True)


def _loaded_at_paint(run: ChildRun) -> bool:
    return run.boto3_at_paint or run.botocore_at_paint


def _startup_section(options: Options, pycache: Path, log: Callable[[str], None]) -> Section:
    began = time.perf_counter()
    section = Section(
        4,
        "Start-up: process start to first paint of the cached table",
        [
            "cached jobs",
            "wmtui (median)",
            "bare Textual + DataTable (median)",
            "ratio",
            "target",
            "wmtui, first refresh deferred (diagnostic)",
            "its ratio",
            "runs",
            "boto3 / botocore loaded at first paint",
        ],
    )
    first_paint: dict[int, float] = {}
    bare_paint: dict[int, float] = {}
    for rows in ROW_COUNTS:
        case = _startup_case(rows, options, pycache, log)
        mine = first_paint[rows] = _median_seconds(case.wmtui)
        bare = bare_paint[rows] = _median_seconds(case.bare)
        deferred = _median_seconds(case.deferred)
        boto3 = sum(r.boto3_at_paint for r in case.wmtui)
        botocore = sum(r.botocore_at_paint for r in case.wmtui)
        loaded = sum(_loaded_at_paint(r) for r in case.wmtui)
        runs = len(case.wmtui)
        section.rows.append(
            [
                f"{rows:,}",
                ms(mine),
                ms(bare),
                ratio(mine, bare),
                f"<= {RATIO_TARGET}x" if rows in RATIO_CHECKED else "(no target)",
                ms(deferred),
                ratio(deferred, bare),
                str(runs),
                f"{boto3} / {botocore} of {runs} runs",
            ]
        )
        met = mine <= RATIO_TARGET * bare
        if rows in RATIO_CHECKED:
            section.check(
                f"start-up with {rows:,} cached jobs, wmtui / bare",
                ratio(mine, bare),
                f"<= {RATIO_TARGET}x",
                met,
                "" if met else f"wmtui {ms(mine)} against bare {ms(bare)}",
            )
        section.check(
            f"boto3 (and botocore) not imported by the first paint ({rows:,} jobs)",
            f"loaded in {loaded} of {runs} runs",
            "0 runs",
            loaded == 0,
            "" if loaded == 0 else _import_note(case.wmtui, "botocore"),
        )
        section.notes.append(
            f"{rows:,} jobs: {_import_note(case.wmtui, 'botocore')}; "
            f"{_import_note(case.wmtui, 'boto3')}."
        )
    table.first_paint_checks(section, first_paint, bare_paint)
    table.table_alone_note(section, min(options.repeats, 5))
    section.notes += [
        "Process start: the parent's monotonic clock just before it spawned the process; "
        "first paint: the child's (same system clock) at the first screen update once the "
        "table holds every row (the bare app's DataTable has also measured them). Both apps "
        "on a 120x40 pty with TERM=xterm-256color; wmtui through `wmtui.cli.main([])`, the "
        "bare app reading the same jobs.json with plain json and DataTable.add_rows (plain "
        "strings, newest first).",
        f"Runs alternate bare / wmtui / wmtui-deferred, {min(options.repeats, 5)} of each per "
        "size after one untimed warm-up. Modules are compiled once into a pycache folder of the "
        "benchmark's (PYTHONPYCACHEPREFIX), as an installed wmtui has them. wmtui's endpoint is "
        "a closed port on 127.0.0.1: its first refresh fails in the background, as offline.",
        "'first refresh deferred' is a diagnostic: the same wmtui with JobsScreen.start_refresh "
        "held back until the first paint was recorded (patched in the child only), to show "
        "what the refresh worker, which imports botocore and boto3, costs the first paint.",
    ]
    section.seconds = time.perf_counter() - began
    return section


def _memory_section(options: Options, pycache: Path, log: Callable[[str], None]) -> Section:
    began = time.perf_counter()
    memory = _memory(options, pycache, log)
    section = Section(
        5,
        "Memory: peak RSS with 10,000 watched jobs",
        ["app", "peak RSS at first paint", "peak RSS after the first refresh", "target"],
    )
    wmtui_paint = max(int(r.result["rss_at_paint"]) for r in memory.wmtui)
    wmtui_peak = max(_peak(r) for r in memory.wmtui)
    bare_peak = max(int(r.result["rss_at_paint"]) for r in memory.bare)
    section.rows.append(["wmtui", _mib(wmtui_paint), _mib(wmtui_peak), f"<= {_mib(MEMORY_TARGET)}"])
    section.rows.append(["bare Textual + DataTable", _mib(bare_peak), "(no refresh)", ""])
    section.check(
        "peak RSS, 10,000 watched jobs",
        _mib(wmtui_peak),
        f"<= {_mib(MEMORY_TARGET)}",
        wmtui_peak <= MEMORY_TARGET,
        "" if wmtui_peak <= MEMORY_TARGET else f"bare app: {_mib(bare_peak)}",
    )
    table.memory_check(section, wmtui_peak, bare_peak)
    section.notes += [
        "Peak RSS is the child's own VmHWM (/proc/self/status), the largest over "
        f"{len(memory.wmtui)} run(s). wmtui ran against the emulator (latency "
        f"{options.latency_ms:g} ms) with 10,000 watched jobs in {ORGANIZATIONS} "
        "organizations, all in its cache, and was measured after its first refresh "
        f"ended ({sum(memory.calls.values())} calls: {memory.calls}), so boto3 is loaded.",
        "Not resource.getrusage's ru_maxrss: on Linux a spawned child inherits through fork "
        "and exec the peak of the process it was forked from (the benchmark itself), so "
        "ru_maxrss reports the parent's peak for both apps.",
        f"wmtui / bare at the first paint: {ratio(wmtui_paint, bare_peak)}; "
        f"MiB = 2^20 bytes (the target, 150 MB, is read as 150 MiB).",
    ]
    section.seconds = time.perf_counter() - began
    return section
