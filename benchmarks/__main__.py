"""Run the benchmark suite: `uv run python -m benchmarks [--quick] [--items 1,3] [--latency-ms 50]`.

Prints a table per item and writes benchmarks/RESULTS.md (machine, date, every figure with its
target and whether it was met). Loopback only: the emulator serves on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import (
    Check,
    Options,
    Section,
    isolate_this_process,
    load_average,
    machine_info,
    source_revision,
    yes_no,
)

ITEMS = (1, 2, 3, 4, 5, 6, 7, 8, 9)
DEFAULT_OUTPUT = Path(__file__).with_name("RESULTS.md")


def _parse_items(text: str) -> list[int]:
    try:
        items = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"items are numbers 1-9 separated by commas: {text!r}"
        ) from None
    if not items or any(item not in ITEMS for item in items):
        raise argparse.ArgumentTypeError(f"items are numbers 1-9 separated by commas: {text!r}")
    return items


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="wmtui's benchmark suite (issue 5), against the emulator on 127.0.0.1.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repetitions and samples (about three minutes); the figures are rougher",
    )
    parser.add_argument(
        "--items",
        type=_parse_items,
        default=list(ITEMS),
        metavar="N[,N...]",
        help="which items to run: 1 API calls, 2 refresh time, 3 applying a refresh to the "
        "screen, 4 start-up, 5 memory, 6 verifying 1,000 exports in S3, 7 commands against one "
        "AWS CLI call, 8 the mailboxes screen at 5,000 mailboxes, 9 bytes written to the "
        "terminal (default: all)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=50.0,
        help="the emulator's latency per request, L (default 50)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="repetitions per timed case (default 7, or 3 with --quick)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where to write the results (default benchmarks/RESULTS.md)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only, write no file")
    return parser


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _failed_section(item: int, title: str, error: BaseException) -> Section:
    section = Section(item, title, ["error"])
    section.rows.append([f"{type(error).__name__}: {error}"])
    section.check(title, "did not run", "runs", False, f"{type(error).__name__}: {error}")
    section.notes.append("Traceback:\n\n```\n" + traceback.format_exc().rstrip() + "\n```")
    return section


def run_items(items: Sequence[int], options: Options) -> list[Section]:
    sections: list[Section] = []
    if 1 in items or 2 in items:
        _log("items 1-2: API calls and wall time per refresh")
        try:
            from benchmarks import api_calls

            calls, times = api_calls.run(options, _log)
            sections += [s for s in (calls, times) if s.item in items]
        except Exception as exc:
            sections.append(_failed_section(1, "API calls and wall time per refresh", exc))
    runners: list[tuple[int, str, Callable[[Options, Callable[[str], None]], list[Section]]]] = []
    if 3 in items:
        from benchmarks import screen

        runners.append((3, "applying a refresh to the screen", screen.run))
    if 4 in items or 5 in items:
        from benchmarks import startup

        def run_startup(options: Options, log: Callable[[str], None]) -> list[Section]:
            return [s for s in startup.run(options, log, items) if s.item in items]

        runners.append((4, "start-up and memory", run_startup))
    if 6 in items:
        from benchmarks import verify

        runners.append((6, "verifying exports in S3", verify.run))
    if 7 in items:
        from benchmarks import commands

        runners.append((7, "commands against one AWS CLI call", commands.run))
    if 8 in items:
        from benchmarks import mailboxes

        runners.append((8, "the mailboxes screen", mailboxes.run))
    if 9 in items:
        from benchmarks import bytes as terminal_bytes

        runners.append((9, "bytes written to the terminal", terminal_bytes.run))
    for item, title, runner in runners:
        _log(f"item {item}: {title}")
        try:
            sections += runner(options, _log)
        except Exception as exc:
            sections.append(_failed_section(item, title, exc))
    return sorted(sections, key=lambda s: s.item)


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) for row in rows]
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _checks(sections: Sequence[Section]) -> list[Check]:
    return [check for section in sections for check in section.checks]


def _check_rows(checks: Sequence[Check]) -> list[list[str]]:
    return [[str(c.item), c.figure, c.value, c.target, yes_no(c.met), c.why] for c in checks]


CHECK_HEADERS = ["item", "figure", "value", "target", "", "why not"]


def print_report(sections: Sequence[Section], elapsed: float) -> None:
    for section in sections:
        print(f"\n== {section.item}. {section.title}")
        print(_text_table(section.headers, section.rows))
    checks = _checks(sections)
    print("\n== Targets")
    print(_text_table(CHECK_HEADERS, _check_rows(checks)))
    missed = sum(1 for c in checks if not c.met)
    print(f"\n{len(checks) - missed} of {len(checks)} targets met; the suite took {elapsed:.0f} s.")


def render_markdown(
    sections: Sequence[Section],
    options: Options,
    command: str,
    started: datetime,
    elapsed: float,
    context: Sequence[tuple[str, str]],
) -> str:
    checks = _checks(sections)
    missed = [c for c in checks if not c.met]
    out = [
        "# wmtui benchmark results",
        "",
        "Written by the suite itself; do not edit by hand. Run it again with:",
        "",
        "```",
        command,
        "```",
        "",
        f"Run on {started.strftime('%Y-%m-%d %H:%M UTC')}, took {elapsed:.0f} s"
        f"{' (--quick: fewer repetitions, rougher figures)' if options.quick else ''}. "
        f"Emulator latency L = {options.latency_ms:g} ms, {options.repeats} repetitions per "
        "timed case. Every comparison below was made side by side in this one run.",
        "",
        "## Machine",
        "",
        _md_table(["", ""], [[k, v] for k, v in [*machine_info(), *context]]),
        "",
        "## Targets",
        "",
        f"{len(checks) - len(missed)} of {len(checks)} met.",
        "",
        _md_table(CHECK_HEADERS, _check_rows(checks)),
        "",
    ]
    for section in sections:
        out += [
            f"## {section.item}. {section.title}",
            "",
            _md_table(section.headers, section.rows),
            "",
        ]
        out += [f"- {note}" if not note.startswith("Traceback") else note for note in section.notes]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 7)
    if repeats < 1 or args.latency_ms < 0:
        _log("--repeats must be at least 1 and --latency-ms not negative")
        return 2
    options = Options(quick=args.quick, latency_ms=args.latency_ms, repeats=repeats)
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    load_before = load_average()
    revision = source_revision()
    aws_home = isolate_this_process()
    try:
        sections = run_items(args.items, options)
    finally:
        shutil.rmtree(aws_home, ignore_errors=True)
    elapsed = time.perf_counter() - started
    print_report(sections, elapsed)
    if not args.no_write:
        command = "uv run python -m benchmarks " + " ".join(
            shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
        )
        context = [
            ("source", revision),
            ("load average (1/5/15 min) before / after", f"{load_before}; {load_average()}"),
        ]
        text = render_markdown(sections, options, command.rstrip(), started_at, elapsed, context)
        args.output.write_text(text, encoding="utf-8")
        _log(f"wrote {args.output}")
    return 0 if all(c.met for c in _checks(sections)) else 1


if __name__ == "__main__":
    sys.exit(main())
