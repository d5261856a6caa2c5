"""What every benchmark shares: figures with their targets, statistics, the machine, the output."""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

# Static keys for the emulator: it accepts any signature, and no real credential is ever read.
BENCH_CREDENTIALS: tuple[str, str] = ("AKIDBENCHBENCHBENCHX", "bench-secret")


@dataclass(frozen=True)
class Check:
    """One figure held against its target."""

    item: int
    figure: str
    value: str
    target: str
    met: bool
    why: str = ""


@dataclass
class Section:
    """One item's results: a table, the checks against targets and notes on method."""

    item: int
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def check(self, figure: str, value: str, target: str, met: bool, why: str = "") -> None:
        self.checks.append(Check(self.item, figure, value, target, met, why))


@dataclass(frozen=True)
class Options:
    quick: bool
    latency_ms: float
    # Repetitions of each timed case (medians are over these).
    repeats: int


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with `fraction` of the values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    """Seconds as milliseconds, with as many digits as make sense."""
    if math.isnan(seconds):
        return "n/a"
    value = seconds * 1000
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"


def ratio(numerator: float, denominator: float) -> str:
    if denominator <= 0 or math.isnan(numerator) or math.isnan(denominator):
        return "n/a"
    value = numerator / denominator
    return f"{value:.0f}x" if value >= 100 else f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


def yes_no(value: bool) -> str:
    return "met" if value else "NOT MET"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def source_revision() -> str:
    """The commit the suite ran on, and whether the tree had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "wmtui"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return f"{head}{' + uncommitted changes under wmtui/' if dirty else ''}"


def machine_info() -> list[tuple[str, str]]:
    """What the figures were measured on."""
    return [
        ("CPUs", f"{os.cpu_count()} ({_cpu_model()})"),
        ("memory", _memory_total()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("textual", _version("textual")),
        ("boto3", _version("boto3")),
        ("botocore", _version("botocore")),
        ("awscli", _version("awscli")),
        ("wmtui", _version("wmtui")),
    ]


def isolated_aws_environ(home: Path) -> dict[str, str]:
    """Environment for anything that talks to the emulator: static keys, no user AWS config,
    no instance-metadata probe, nothing but loopback."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "aws-config"
    credentials = home / "aws-credentials"
    config.write_text("")
    credentials.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WMTUI_"))}
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
            "AWS_ACCESS_KEY_ID": BENCH_CREDENTIALS[0],
            "AWS_SECRET_ACCESS_KEY": BENCH_CREDENTIALS[1],
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_SSO": "http://127.0.0.1:9",
            "AWS_ENDPOINT_URL_SSO_OIDC": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(proxy, None)
    return env


def isolate_this_process() -> Path:
    """Point this process's AWS settings at an empty temp folder (the in-process boto3 client)."""
    home = Path(tempfile.mkdtemp(prefix="wmtui-bench-aws-"))
    env = isolated_aws_environ(home)
    for name in list(os.environ):
        if name.startswith(("AWS_", "WMTUI_")):
            del os.environ[name]
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        os.environ.pop(name, None)
    for name, value in env.items():
        if name.startswith(("AWS_", "NO_PROXY")):
            os.environ[name] = value
    return home
