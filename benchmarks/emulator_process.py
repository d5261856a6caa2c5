"""A benchmark world served by the emulator in a process of its own, on 127.0.0.1.

The real WorkMail does not share the client's CPU. An emulator thread inside the benchmark's
process would: its request checks and JSON answers compete with the boto3 client for the GIL, and
that time would be charged to wmtui's refresh. So items 1-2 run the emulator here, in a child
process started with an isolated AWS environment (benchmarks/common.py), and drive it over its
stdin/stdout, one JSON object a line:

    python -m benchmarks.emulator_process --jobs N --organizations M --start ISO --latency-ms L

The child builds the same world as benchmarks/world.py (the same seed and the same clock start,
so the same IDs and times), prints {"endpoint_url": ..., "fingerprint": ...} and then answers
commands: {"op": "take_counts"} (the requests it counted since the last take, then zeroed),
{"op": "advance", "seconds": S} (its manual clock), {"op": "internal_errors"} and {"op": "stop"}.
It stops when its stdin closes, so it never outlives the benchmark.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from benchmarks.common import isolated_aws_environ
from benchmarks.world import World, build_world

ROOT = Path(__file__).resolve().parent.parent
# Building 10,000 jobs takes a few seconds; this is only a guard against a child that hangs.
STOP_TIMEOUT = 10.0


def fingerprint(world: World) -> str:
    """A digest of every organization and job: both processes must have built the same world."""
    digest = hashlib.sha256()
    for org in world.organizations:
        for job in world.state.jobs(org):
            digest.update(
                repr(
                    (
                        org,
                        job.job_id,
                        job.entity_id,
                        job.state,
                        job.progress,
                        job.start_time.isoformat(),
                        job.end_time.isoformat() if job.end_time else None,
                    )
                ).encode()
            )
    return digest.hexdigest()


class EmulatorProcess:
    """The parent's side: start the child, read its endpoint, ask for its counters.

    A context manager; `ready(world)` waits for the child and checks it built `world`.
    """

    def __init__(
        self,
        jobs: int,
        organizations: int,
        *,
        start: datetime,
        latency_ms: float,
        home: Path,
    ) -> None:
        self.command = [
            sys.executable,
            "-m",
            "benchmarks.emulator_process",
            "--jobs",
            str(jobs),
            "--organizations",
            str(organizations),
            "--start",
            start.isoformat(),
            "--latency-ms",
            repr(latency_ms),
        ]
        self.home = home
        self.endpoint_url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> EmulatorProcess:
        # Started before the parent builds its own copy of the world: both build at once.
        self._process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=isolated_aws_environ(self.home),
            cwd=ROOT,
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        if process is None:
            return
        self._process = None
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=STOP_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        finally:
            if process.stdout is not None:
                process.stdout.close()

    def _read(self) -> dict[str, Any]:
        process = self._require()
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            code = process.wait(timeout=STOP_TIMEOUT)
            raise RuntimeError(f"the emulator process ended (exit {code}); see its stderr")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the emulator process failed: {answer['error']}")
        return answer

    def _require(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("the emulator process is not running")
        return self._process

    def _ask(self, op: str, **args: Any) -> dict[str, Any]:
        process = self._require()
        assert process.stdin is not None
        process.stdin.write(json.dumps({"op": op, **args}).encode() + b"\n")
        process.stdin.flush()
        return self._read()

    def ready(self, world: World) -> str:
        """Wait for the child's endpoint; it must have built exactly `world`."""
        answer = self._read()
        if answer.get("fingerprint") != fingerprint(world):
            raise RuntimeError("the emulator process built a different world from this one")
        self.endpoint_url = str(answer["endpoint_url"])
        return self.endpoint_url

    def take_counts(self) -> Counter[str]:
        """Requests the emulator counted since the last take, by operation; then zeroed."""
        counts = self._ask("take_counts")["counts"]
        return +Counter({str(k): int(v) for k, v in counts.items()})

    def advance(self, step: timedelta) -> None:
        self._ask("advance", seconds=step.total_seconds())

    def internal_errors(self) -> list[str]:
        return [str(e) for e in self._ask("internal_errors")["internal_errors"]]


# ----------------------------------------------------------------- the child


def _send(out: IO[str], answer: dict[str, Any]) -> None:
    out.write(json.dumps(answer) + "\n")
    out.flush()


def serve(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.emulator_process")
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--organizations", type=int, required=True)
    parser.add_argument("--start", type=datetime.fromisoformat, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    # The protocol owns stdout; anything else printed goes to stderr.
    out = sys.stdout
    sys.stdout = sys.stderr

    from wmtui.emulator.server import EmulatorServer

    world = build_world(args.jobs, args.organizations, start=args.start)
    # EmulatorServer serves on 127.0.0.1 only (it refuses anything but loopback).
    with EmulatorServer(world.state, latency_ms=args.latency_ms) as server:
        _send(out, {"endpoint_url": server.endpoint_url, "fingerprint": fingerprint(world)})
        for line in sys.stdin:
            try:
                command = json.loads(line)
                op = command.get("op")
                if op == "take_counts":
                    counts = world.state.counters_snapshot()
                    world.state.reset_counters()
                    _send(out, {"counts": dict(counts)})
                elif op == "advance":
                    world.clock.advance(timedelta(seconds=float(command["seconds"])))
                    _send(out, {"ok": True})
                elif op == "internal_errors":
                    _send(out, {"internal_errors": list(server.internal_errors)})
                elif op == "stop":
                    _send(out, {"ok": True})
                    break
                else:
                    _send(out, {"error": f"unknown command {op!r}"})
            except Exception as exc:
                _send(out, {"error": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(serve())
