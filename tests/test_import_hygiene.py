"""The layers stay apart: checked in a fresh interpreter per module, and in the source.

wmtui.core   imports neither textual/rich nor boto3/botocore, nor any layer above it.
wmtui.aws    imports boto3 (lazily) but never textual or wmtui.ui.
wmtui.ui     imports textual and core, never boto3/botocore or wmtui.aws.
wmtui.emulator imports neither textual, wmtui.ui nor wmtui.aws.
boto3 is not imported on the way to the app's first paint.

A module listed here but not written yet is skipped (by its file), so the check becomes real as
soon as it lands; modules found on disk are checked whether listed or not.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "wmtui"


@dataclass(frozen=True)
class Layer:
    package: str
    expected: tuple[str, ...]
    forbidden_at_runtime: tuple[str, ...]
    forbidden_in_source: tuple[str, ...]


LAYERS: dict[str, Layer] = {
    "core": Layer(
        "wmtui.core",
        (
            "wmtui.core",
            "wmtui.core.models",
            "wmtui.core.service",
            "wmtui.core.locations",
            "wmtui.core.settings",
            "wmtui.core.watchlist",
            "wmtui.core.cache",
            "wmtui.core.refresh",
        ),
        ("textual", "rich", "boto3", "botocore", "wmtui.aws", "wmtui.ui", "wmtui.emulator"),
        ("textual", "rich", "boto3", "botocore", "wmtui.aws", "wmtui.ui", "wmtui.emulator"),
    ),
    "aws": Layer(
        "wmtui.aws",
        ("wmtui.aws", "wmtui.aws.service", "wmtui.aws.errors"),
        ("textual", "wmtui.ui"),
        ("textual", "rich", "wmtui.ui"),
    ),
    "ui": Layer(
        "wmtui.ui",
        ("wmtui.ui", "wmtui.ui.app", "wmtui.ui.safe_text", "wmtui.ui.clipboard"),
        ("boto3", "botocore", "wmtui.aws"),
        ("boto3", "botocore", "wmtui.aws"),
    ),
    "emulator": Layer(
        "wmtui.emulator",
        (
            "wmtui.emulator",
            "wmtui.emulator.state",
            "wmtui.emulator.server",
            "wmtui.emulator.model",
            "wmtui.emulator.demo",
        ),
        ("textual", "wmtui.ui", "wmtui.aws"),
        ("textual", "wmtui.ui", "wmtui.aws"),
    ),
}
# Modules on the way from `wmtui` to the first paint: boto3 waits for the first AWS call.
FIRST_PAINT = ("wmtui.cli", "wmtui.factory", "wmtui.ui.app", "wmtui.aws.service")


def module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(package: str) -> list[Path]:
    folder = ROOT.joinpath(*package.split("."))
    return sorted(folder.rglob("*.py")) if folder.is_dir() else []


def layer_modules(layer: Layer) -> list[str]:
    found = {module_name(p) for p in source_files(layer.package) if p.name != "__main__.py"}
    return sorted(found | set(layer.expected))


RUNTIME_CASES = [
    pytest.param(name, layer.forbidden_at_runtime, id=name)
    for layer in LAYERS.values()
    for name in layer_modules(layer)
] + [pytest.param(name, ("boto3",), id=f"first-paint:{name}") for name in FIRST_PAINT]


@functools.cache
def modules_loaded_by(name: str) -> frozenset[str]:
    """Every module in sys.modules after importing `name` in a fresh interpreter."""
    script = (
        "import importlib, json, sys\n"
        f"importlib.import_module({name!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = dict(os.environ)
    # The checkout itself, whether or not the venv holds an editable install of it.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        pytest.fail(f"importing {name} failed:\n{done.stderr}")
    return frozenset(json.loads(done.stdout.strip().splitlines()[-1]))


def offending(loaded: Iterable[str], forbidden: Iterable[str]) -> list[str]:
    return sorted(m for m in loaded for f in forbidden if m == f or m.startswith(f + "."))


@pytest.mark.parametrize(("name", "forbidden"), RUNTIME_CASES)
def test_importing_a_module_loads_nothing_from_a_forbidden_layer(
    name: str, forbidden: tuple[str, ...]
) -> None:
    if module_file(name) is None:
        pytest.skip(f"{name} is not written yet")
    bad = offending(modules_loaded_by(name), forbidden)
    # The first few are enough to find the import that pulled them in.
    assert bad == [], f"importing {name} loads {', '.join(bad[:8])}"


def test_the_runtime_check_sees_imports() -> None:
    """The control case: a module that does use textual is seen to load it."""
    loaded = modules_loaded_by("wmtui.ui.safe_text")
    assert offending(loaded, ("textual",)) != []
    assert offending(loaded, ("boto3",)) == []


# --- the source, for imports that a runtime check misses (TYPE_CHECKING, lazy ones) ---------


def imported_names(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import, relative ones resolved; also
    importlib.import_module("x") and __import__("x") with a literal name."""
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from wmtui import aws` imports the module wmtui.aws.
            found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (
                called in ("import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                found.append((node.lineno, first.value))
    return found


def source_violations(layer: Layer) -> list[str]:
    problems: list[str] = []
    for path in source_files(layer.package):
        module = module_name(path)
        names = imported_names(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
        for line, name in names:
            for bad in offending([name], layer.forbidden_in_source):
                problems.append(f"{path.relative_to(ROOT)}:{line}: imports {bad}")
    return sorted(set(problems))


@pytest.mark.parametrize("layer", LAYERS.values(), ids=LAYERS.keys())
def test_source_imports_nothing_from_a_forbidden_layer(layer: Layer) -> None:
    if not source_files(layer.package):
        pytest.skip(f"{layer.package} has no source yet")
    assert source_violations(layer) == []


@pytest.mark.parametrize(
    ("source", "module", "is_package", "expected"),
    [
        ("import boto3.session", "wmtui.ui.app", False, "boto3.session"),
        (
            "from botocore.exceptions import ClientError",
            "wmtui.ui.app",
            False,
            "botocore.exceptions",
        ),
        ("from ..aws import service", "wmtui.ui.app", False, "wmtui.aws.service"),
        ("from ...aws.service import X", "wmtui.ui.widgets.table", False, "wmtui.aws.service"),
        ("from ... import aws", "wmtui.ui.screens", True, "wmtui.aws"),
        ("from wmtui import aws", "wmtui.ui.app", False, "wmtui.aws"),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import wmtui.aws.errors",
            "wmtui.ui.app",
            False,
            "wmtui.aws.errors",
        ),
        ("import importlib\nimportlib.import_module('boto3')", "wmtui.ui.app", False, "boto3"),
    ],
)
def test_the_source_check_resolves_every_spelling(
    source: str, module: str, is_package: bool, expected: str
) -> None:
    names = [name for _, name in imported_names(source, module, is_package)]
    assert expected in names
    assert offending(names, LAYERS["ui"].forbidden_in_source) != []
