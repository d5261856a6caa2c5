"""Run in a subprocess by benchmarks/startup.py: start an app and report its first paint.

    python benchmarks/startup_child.py (wmtui|wmtui-deferred|bare) (paint|refresh) RESULT_JSON ROWS

`wmtui` runs the real entry point (`wmtui.cli.main([])`) with the settings the environment
gives (WMTUI_CONFIG_DIR, WMTUI_CACHE_DIR, WMTUI_ENDPOINT_URL ...); `bare` is a plain Textual app
showing a DataTable with the same rows read from the same jobs.json. Both run on the terminal
they were given (a pty). The first paint is the first screen update Textual makes once the
table holds all ROWS rows and has measured them; `paint` exits right there, `refresh` (wmtui
only) waits for the first refresh to end first. `wmtui-deferred` is wmtui with its first
refresh held back until after the first paint: a diagnostic, not the app as shipped. Peak RSS
and whether boto3 was imported are recorded at those moments. Nothing here is imported by the
app: it only watches it.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()

import json  # noqa: E402  (the clock starts before anything else is imported)
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from importlib.abc import MetaPathFinder  # noqa: E402
from importlib.machinery import ModuleSpec  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

RESULT: dict[str, Any] = {"started": STARTED}
# BENCH_PROFILE=FILE: cProfile the main thread up to the first paint (for finding out why).
PROFILE: Any = None
WATCHED_MODULES = ("boto3", "botocore")


class ImportWatch(MetaPathFinder):
    """Notes when, and on which thread, boto3 and botocore first start being imported."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname in WATCHED_MODULES and f"{fullname}_import" not in RESULT:
            RESULT[f"{fullname}_import"] = {
                "at": time.monotonic(),
                "thread": threading.current_thread().name,
            }
        return None


def _peak_rss_bytes() -> int:
    """This process's peak resident set size (VmHWM of its own address space).

    Not getrusage's ru_maxrss: on Linux a spawned process inherits, through fork and exec,
    the peak of the parent it was forked from (here the benchmark, hundreds of MB), so
    ru_maxrss would report the parent's figure for a child that is far smaller.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _write_result(path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(RESULT, handle)


def _watch_first_paint(rows: int, mode: str) -> None:
    from textual.app import App

    original = App._display

    def display(self: Any, screen: Any, renderable: Any) -> None:
        original(self, screen, renderable)
        if "first_paint" in RESULT or renderable is None or self._batch_count:
            return
        # The bare app's DataTable or wmtui's JobTable (by CSS type name: nothing of wmtui's
        # is imported here).
        tables = list(self.screen.query("DataTable, JobTable"))
        if not tables:
            return
        table = tables[0]
        # All rows in, and measured (a DataTable measures new rows when idle).
        if table.row_count < rows or getattr(table, "_require_update_dimensions", False):
            return
        RESULT["first_paint"] = time.monotonic()
        RESULT["rows"] = table.row_count
        RESULT["rss_at_paint"] = _peak_rss_bytes()
        RESULT["modules_at_paint"] = {name: name in sys.modules for name in WATCHED_MODULES}
        if PROFILE is not None:
            PROFILE.disable()
            PROFILE.dump_stats(os.environ["BENCH_PROFILE"])
        if mode == "paint":
            self.exit()
        else:
            self.set_interval(0.02, lambda: _check_refreshed(self))

    App._display = display  # type: ignore[method-assign]


def _check_refreshed(app: Any) -> None:
    if "refreshed" in RESULT or getattr(app, "refreshing", False):
        return
    RESULT["refreshed"] = time.monotonic()
    RESULT["rss_after_refresh"] = _peak_rss_bytes()
    RESULT["modules_after_refresh"] = {name: name in sys.modules for name in WATCHED_MODULES}
    app.exit()


def _defer_first_refresh() -> None:
    """Diagnostic: what start-up costs when no refresh (and no boto3 import) competes with it.

    The app's refresh only starts once the first paint is recorded (`paint` mode exits there).
    """
    import importlib

    # Where the refresh starts: the jobs screen's, or (before it had one) the app's.
    for module, owner_name, name in (
        ("wmtui.ui.screens.jobs", "JobsScreen", "start_refresh"),
        ("wmtui.ui.app", "WmtuiApp", "_start_refresh"),
    ):
        owner = getattr(importlib.import_module(module), owner_name, None)
        original = getattr(owner, name, None)
        if original is not None:
            break
    else:
        raise RuntimeError("wmtui-deferred: no refresh to hold back was found")

    def start_refresh(self: Any, *args: Any, **kwargs: Any) -> None:
        if "first_paint" in RESULT:
            original(self, *args, **kwargs)

    setattr(owner, name, start_refresh)


def run_bare() -> int:
    """A plain Textual app: one DataTable with the cached jobs, newest first."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    cache = os.path.join(os.environ["WMTUI_CACHE_DIR"], "jobs.json")

    class BareApp(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable(cursor_type="row")

        def on_mount(self) -> None:
            with open(cache, encoding="utf-8") as handle:
                records = json.load(handle)["jobs"]
            records.sort(key=lambda r: r.get("start_time") or "", reverse=True)
            table = self.query_one(DataTable)
            for key in ("job", "mailbox", "state", "progress", "started", "ended", "description"):
                table.add_column(key.title(), key=key)
            table.add_rows(
                (
                    r["key"]["job_id"][:13],
                    r.get("entity_id") or "",
                    r.get("state") or "",
                    f"{r.get('estimated_progress') or 0}%",
                    (r.get("start_time") or "")[:16],
                    (r.get("end_time") or "")[:16],
                    r.get("description") or "",
                )
                for r in records
            )
            table.focus()

    BareApp().run()
    return 0


def main(argv: list[str]) -> int:
    variant, mode, result_path, rows = argv[0], argv[1], argv[2], int(argv[3])
    global PROFILE
    sys.meta_path.insert(0, ImportWatch())
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        PROFILE = cProfile.Profile()
        PROFILE.enable()
    _watch_first_paint(rows, mode)
    code = 1
    try:
        if variant == "bare":
            code = run_bare()
        else:
            if variant == "wmtui-deferred":
                _defer_first_refresh()
            from wmtui.cli import main as wmtui_main

            code = wmtui_main([])
    finally:
        RESULT["exit_code"] = code
        RESULT["peak_rss"] = _peak_rss_bytes()
        _write_result(result_path)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
