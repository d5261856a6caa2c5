"""Size budgets and Textual's public API, so the shape of wmtui/ stays one a person can carry on.

- No module in wmtui/ over 600 lines, no class over 500, no function over 80 (a class or
  function counts from its `class`/`def` line to its last line; decorators aside).
- No import of Textual's private modules (`textual._x`, `textual.widgets._x`, `from textual
  import _x`), not even by name in a string.
- No method `_name` (not a dunder) in a class whose Textual base classes already define `_name`:
  overriding Textual's internals is what made every upgrade a rewrite.

No module is exempt today; a data-only module (generated data for the emulator, say) may be
listed in EXEMPT_FROM_SIZE with the reason, and only from the size budgets.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "wmtui"

MODULE_LINES = 600
CLASS_LINES = 500
FUNCTION_LINES = 80

# Path relative to the repository -> why it may be long. Only for modules that hold data.
EXEMPT_FROM_SIZE: dict[str, str] = {}

# "textual._x", "textual.widgets._x", "textual._x.y": a private module anywhere in the path.
_PRIVATE_TEXTUAL = re.compile(r"^textual(\.[A-Za-z0-9]\w*)*\._(?!_)\w*")


@dataclass(frozen=True)
class Source:
    path: Path
    module: str
    text: str
    tree: ast.Module

    @property
    def shown(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> list[Source]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        found.append(Source(path, _module_name(path), text, ast.parse(text, str(path))))
    return found


SOURCES = _sources()


def _definitions(
    node: ast.AST, prefix: str = ""
) -> Iterator[tuple[str, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every class and function under `node`, with its qualified name."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{child.name}"
            yield name, child
            inner = f"{name}." if isinstance(child, ast.ClassDef) else f"{name}.<locals>."
            yield from _definitions(child, inner)
        else:
            yield from _definitions(child, prefix)


def _length(node: ast.stmt) -> int:
    return (node.end_lineno or node.lineno) - node.lineno + 1


def _fail(what: str, offenders: list[str]) -> None:
    if offenders:
        pytest.fail(f"{what}:\n" + "\n".join(f"  {line}" for line in offenders), pytrace=False)


def test_the_budgets_see_every_module() -> None:
    """The checks below read the package; an empty or wrong path would pass them all."""
    modules = {source.module for source in SOURCES}
    assert {"wmtui", "wmtui.core.models", "wmtui.aws.service", "wmtui.emulator.state"} <= modules
    assert set(EXEMPT_FROM_SIZE) <= {source.shown for source in SOURCES}


def test_no_module_is_over_600_lines() -> None:
    offenders = [
        f"{source.shown}: {len(source.text.splitlines())} lines"
        for source in SOURCES
        if source.shown not in EXEMPT_FROM_SIZE and len(source.text.splitlines()) > MODULE_LINES
    ]
    _fail(f"modules over {MODULE_LINES} lines", offenders)


def test_no_class_is_over_500_lines() -> None:
    offenders = [
        f"{source.shown}: class {name} is {_length(node)} lines"
        for source in SOURCES
        if source.shown not in EXEMPT_FROM_SIZE
        for name, node in _definitions(source.tree)
        if isinstance(node, ast.ClassDef) and _length(node) > CLASS_LINES
    ]
    _fail(f"classes over {CLASS_LINES} lines", offenders)


def test_no_function_is_over_80_lines() -> None:
    offenders = [
        f"{source.shown}: function {name} is {_length(node)} lines"
        for source in SOURCES
        if source.shown not in EXEMPT_FROM_SIZE
        for name, node in _definitions(source.tree)
        if not isinstance(node, ast.ClassDef) and _length(node) > FUNCTION_LINES
    ]
    _fail(f"functions over {FUNCTION_LINES} lines", offenders)


def _private_textual_imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _PRIVATE_TEXTUAL.match(alias.name):
                    yield node.lineno, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _PRIVATE_TEXTUAL.match(node.module):
                names = ", ".join(alias.name for alias in node.names)
                yield node.lineno, f"from {node.module} import {names}"
            elif node.module.split(".")[0] == "textual":
                for alias in node.names:
                    if _PRIVATE_TEXTUAL.match(f"{node.module}.{alias.name}"):
                        yield node.lineno, f"from {node.module} import {alias.name}"
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _PRIVATE_TEXTUAL.match(node.value)
        ):
            # importlib.import_module("textual._x") and the like.
            yield node.lineno, f"the string {node.value!r}"


def test_nothing_imports_textuals_private_modules() -> None:
    offenders = [
        f"{source.shown}:{line}: {what}"
        for source in SOURCES
        for line, what in _private_textual_imports(source.tree)
    ]
    _fail("imports of Textual's private modules", offenders)


def test_the_private_import_check_catches_each_spelling() -> None:
    """The check above would pass vacuously if its pattern never matched."""
    spellings = (
        "import textual._time",
        "from textual._segment_tools import line_crop",
        "from textual.widgets._data_table import RowKey",
        "from textual import _time",
        "from textual.widgets import _data_table",
        "importlib.import_module('textual._compositor')",
    )
    for spelling in spellings:
        assert list(_private_textual_imports(ast.parse(spelling))), spelling
    public = "from textual import __version__, events\nfrom textual.widgets import DataTable"
    assert list(_private_textual_imports(ast.parse(public))) == []


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _from_textual(cls: type) -> bool:
    return cls.__module__ == "textual" or cls.__module__.startswith("textual.")


def _bound_in_body(node: ast.ClassDef) -> set[str]:
    """Names the class statement itself binds: its methods and class attributes. Textual's
    metaclass adds bookkeeping of its own (`_reactives`, `_css_type_name`) to every subclass;
    those are not ours."""
    names: set[str] = set()
    for statement in node.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(statement.name)
        elif isinstance(statement, ast.Assign):
            names |= {target.id for target in statement.targets if isinstance(target, ast.Name)}
        elif isinstance(statement, ast.AnnAssign | ast.AugAssign) and isinstance(
            statement.target, ast.Name
        ):
            names.add(statement.target.id)
    return names


def textual_overrides(cls: type, names: set[str]) -> list[str]:
    """Those of `names` (bound by `cls` itself) that are underscore names a Textual class in
    its MRO already defines."""
    found = []
    for name in sorted(names):
        if not _is_private(name):
            continue
        owners = [base for base in cls.__mro__[1:] if _from_textual(base) and name in vars(base)]
        if owners:
            found.append(f"{name} (over {owners[0].__module__}.{owners[0].__qualname__})")
    return found


def _classes_of(source: Source) -> Iterator[tuple[str, ast.ClassDef, type | None]]:
    """Each class the module defines, as (qualified name, its statement, the class or None if
    not reachable from the module, as a class defined inside a function is not)."""
    module = importlib.import_module(source.module)
    for name, node in _definitions(source.tree):
        if not isinstance(node, ast.ClassDef):
            continue
        target: object = module
        for part in name.split("."):
            target = getattr(target, part, None)
        yield name, node, target if inspect.isclass(target) else None


def test_no_class_overrides_an_underscore_method_of_textual() -> None:
    offenders: list[str] = []
    for source in SOURCES:
        if source.module.endswith("__main__"):
            continue
        for name, node, cls in _classes_of(source):
            if cls is None:
                if not any(_is_private(bound) for bound in _bound_in_body(node)):
                    continue
                offenders.append(
                    f"{source.shown}: class {name} cannot be checked where it is defined: "
                    "move it to module level"
                )
                continue
            offenders += [
                f"{source.shown}: class {name} overrides {what}"
                for what in textual_overrides(cls, _bound_in_body(node))
            ]
    _fail("overrides of Textual's underscore methods", offenders)


def test_the_override_check_catches_an_override() -> None:
    """The check above would pass vacuously if it never looked at Textual's classes."""
    from textual.widget import Widget
    from textual.widgets import DataTable

    source = """
class Drawn(DataTable[str]):
    def _render_line(self, y): ...
    def _own_helper(self): ...
    def render_line(self, y): ...
class Mounted(Widget):
    async def _on_mount(self, event): ...
    _update_timer = None
"""
    drawn, mounted = (node for node in ast.parse(source).body if isinstance(node, ast.ClassDef))

    class Drawn(DataTable[str]):
        pass

    class Mounted(Widget):
        pass

    assert textual_overrides(Drawn, _bound_in_body(drawn)) == [
        "_render_line (over textual.widgets._data_table.DataTable)"
    ]
    found = [what.split(" ")[0] for what in textual_overrides(Mounted, _bound_in_body(mounted))]
    assert found == ["_on_mount"]
