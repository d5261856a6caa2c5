"""Item 9: what the app costs a slow link, in bytes written to the terminal (issue 17).

wmtui and a bare Textual app (a DataTable with 40 rows and the same columns) each run on a
pseudo-terminal of 140x40 with TERM=xterm-256color and COLORTERM=truecolor; a thread reads the
master side and counts every byte. Keys are written to the master as a terminal would. Before and
after each action the benchmark waits for the screen to settle (no byte for QUIET seconds), so an
action's figure is everything it made the app write, a Describe on the cursor's rest included.

wmtui talks to the project's emulator, served by this process on 127.0.0.1 with a manual clock:
the demo organization (40 jobs, 8 running) stays still until the benchmark moves k of the
running jobs on (a shorter duration, the same start), and `r` refreshes. The bare app changes
the progress cell of k rows on the key "k". Each write is attributed to the screen line and
column where Textual's cursor-move put it, and a small screen model says which lines' text an
action changed, so the notes can say where the bytes went.

    uv run python -m benchmarks --items 9 [--quick]
    python -m benchmarks.bytes bare ROWS_JSON      (the bare app, run by the benchmark)
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.bytes_covered import measure_covered
from benchmarks.bytes_export import ExportFigures, export_note, measure_export
from benchmarks.common import Options, Section, isolated_aws_environ, ratio
from benchmarks.pty_terminal import (
    COLUMNS,
    LINES,
    QUIET,
    STARTUP_TIMEOUT,
    Action,
    PtyProgram,
    Recorder,
    by_place,
    lines_written,
)

ITEM = 9
ROOT = Path(__file__).resolve().parent.parent
# The mailboxes screen is measured over fixed windows of this many seconds.
MAILBOX_WINDOW = 2.0
# The app's relative times tick every minute: a quick run holds half of one.
IDLE_SECONDS, IDLE_SECONDS_QUICK = 60.0, 30.0
REFRESH_ROWS = (1, 2, 4, 8)
MOVES = 20
# The targets.
MOVE_LIMIT = 6_000
IDLE_LIMIT = 100.0
REFRESH_FACTOR = 2.0
# Detail lines a move may rewrite for a new colour alone.
DETAIL_RESTYLED = 2
DOWN, UP = b"\x1b[B", b"\x1b[A"


# ---------------------------------------------------------------- the emulator and the apps


class StillWorld:
    """The demo organization on a manual clock, served on 127.0.0.1 by this process."""

    def __init__(self) -> None:
        from wmtui.emulator.clock import EmulatorClock
        from wmtui.emulator.demo import build_demo_state

        self.clock = EmulatorClock(start=datetime.now(UTC), manual=True)
        self.state = build_demo_state(clock=self.clock, seed=7)
        self.organization_id = self.state.organization_ids[0]
        self.endpoint_url = ""
        self.s3_endpoint_url = ""
        self._servers: list[Any] = []

    def __enter__(self) -> StillWorld:
        from wmtui.emulator.s3 import S3Server
        from wmtui.emulator.server import EmulatorServer

        server = EmulatorServer(self.state).start()
        self._servers.append(server)
        s3 = S3Server(self.state).start()
        self._servers.append(s3)
        self.endpoint_url, self.s3_endpoint_url = server.endpoint_url, s3.endpoint_url
        return self

    def __exit__(self, *exc_info: object) -> None:
        for server in reversed(self._servers):
            server.stop()

    def running(self) -> list[Any]:
        return [job for job in self.state.jobs(self.organization_id) if job.state == "RUNNING"]

    def move_on(self, count: int, points: int = 3) -> None:
        """`count` running jobs (the newest) are `points` percent further: a shorter duration,
        the same start, so no other column and no place in the order changes."""
        now = self.clock.now()
        for job in self.running()[:count]:
            elapsed = now - job.start_time
            target = min(99, job.progress + points) + 0.5
            self.state.add_job(
                self.organization_id,
                job.entity_id,
                state="RUNNING",
                started_ago=elapsed,
                duration=elapsed * (100 / target),
                description=job.description or "",
                job_id=job.job_id,
                s3_bucket=job.s3_bucket_name,
                s3_prefix=job.s3_prefix,
                role_arn=job.role_arn,
                kms_key_arn=job.kms_key_arn,
            )

    def rows(self) -> list[list[str]]:
        """The bare app's rows: the same jobs and columns as wmtui's table, as plain text."""
        from wmtui.core.display import relative_time, short_span

        names = {
            m.entity_id: m.display_name or m.name
            for m in self.state.mailboxes(self.organization_id)
        }
        glyphs = {"RUNNING": "●", "COMPLETED": "✔", "FAILED": "✖", "CANCELLED": "⊘"}
        now = self.clock.now()
        rows = []
        for job in self.state.jobs(self.organization_id):
            full, part = divmod(job.progress * 32 // 100, 8)
            bar = ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part and full < 4 else "")).ljust(4)
            if job.state == "RUNNING":
                elapsed = (now - job.start_time).total_seconds()
                rest = elapsed * (100 - job.progress) / max(job.progress, 1)
                when = f"ETA {short_span(rest)}"
            else:
                ended = job.end_time or now
                when = short_span((ended - job.start_time).total_seconds())
            rows.append(
                [
                    job.job_id[:11] + "…",
                    names.get(job.entity_id, job.entity_id),
                    f"{glyphs.get(job.state, '?')} {job.state.capitalize()}",
                    f"{bar} {job.progress:>3}%",
                    relative_time(job.start_time, now),
                    when,
                    job.description or "",
                ]
            )
        return rows


def _environ(home: Path, world: StillWorld) -> dict[str, str]:
    env = isolated_aws_environ(home / "home")
    for name in [n for n in env if n.startswith("TEXTUAL")]:
        del env[name]
    env.pop("TMUX", None)
    env.update(
        {
            "WMTUI_CONFIG_DIR": str(home / "config"),
            "WMTUI_CACHE_DIR": str(home / "cache"),
            "WMTUI_DATA_DIR": str(home / "data"),
            "WMTUI_ENDPOINT_URL": world.endpoint_url,
            "WMTUI_REGION": "us-east-1",
            # Nothing falls due while measuring: every refresh is one the benchmark asks for.
            "WMTUI_INTERVAL": "3600",
            "WMTUI_CLIPBOARD": "off",
            # S3 is the emulator's; any other AWS service a closed loopback port.
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_ENDPOINT_URL_S3": world.s3_endpoint_url,
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
        }
    )
    return env


def _watch_all(home: Path, world: StillWorld) -> None:
    from wmtui.core.locations import watchlist_path
    from wmtui.core.watchlist import WatchList
    from wmtui.emulator.demo import demo_job_keys

    WatchList(watchlist_path(home / "config")).add(demo_job_keys(world.state))


def run_bare(rows_json: str) -> None:
    """The bare app: a DataTable of the same rows; keys 1-9 change the progress of that many."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    rows: list[list[str]] = json.loads(Path(rows_json).read_text(encoding="utf-8"))
    headers = ("Job", "Mailbox", "State", "Progress", "Started", "ETA/Took", "Description")

    class BareApp(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable(cursor_type="row")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            for header in headers:
                table.add_column(header, key=header)
            for index, row in enumerate(rows):
                table.add_row(*row, key=str(index))

        def on_key(self, event: Any) -> None:
            if event.character and event.character in "123456789":
                table = self.query_one(DataTable)
                running = [i for i, row in enumerate(rows) if "Running" in row[2]]
                for index in running[: int(event.character)]:
                    value = str(table.get_cell(str(index), "Progress"))
                    percent = int(value.rstrip("%").split()[-1]) + 3
                    table.update_cell(str(index), "Progress", f"{value[:4]} {percent:>3}%")

    BareApp().run()


# ---------------------------------------------------------------- the measurement


@dataclass
class Figures:
    """Every action's bytes, for one app."""

    move: Action | None = None
    moves: list[Action] = field(default_factory=list)
    refresh: dict[int, Action] = field(default_factory=dict)
    idle: bytes = b""
    idle_seconds: float = 0.0
    mailbox_move: Action | None = None
    mailbox_idle: float = 0.0
    # Each jobs refresh while the mailboxes screen covers the jobs view.
    covered_refreshes: list[int] = field(default_factory=list)
    export: ExportFigures | None = None
    startup: int = 0

    @property
    def moves_total(self) -> int:
        return sum(a.size for a in self.moves)

    @property
    def idle_rate(self) -> float:
        return len(self.idle) / self.idle_seconds if self.idle_seconds else 0.0


# Where wmtui's detail pane begins (its chops start there); the table's are at column 0.
WMTUI_SPLIT = 100


def _go_to_row(program: PtyProgram, row: int) -> None:
    program.settle()
    for key in [UP] * (LINES + 5) + [DOWN] * row:
        program.press(key)
        time.sleep(0.01)
    program.settle()


def _measure_moves(recorder: Recorder, figures: Figures, log: Callable[[str], None]) -> None:
    program = recorder.program
    # Rest on rows 0 and 1 first: a Describe fills them in, then the move between them is a
    # move between two jobs as a person sees them.
    _go_to_row(program, 0)
    recorder.act("warm-up", DOWN)
    recorder.act("warm-up", UP)
    figures.move = recorder.act("one move", DOWN)
    log(f"    one move: {figures.move.size:,} bytes {figures.move.places}")
    _go_to_row(program, LINES // 2 - 1)
    figures.moves = [recorder.act(f"move {n + 1}", DOWN) for n in range(MOVES)]
    log(f"    {MOVES} moves: {figures.moves_total:,} bytes")


def _measure_wmtui(
    recorder: Recorder, world: StillWorld, figures: Figures, log: Callable[[str], None]
) -> None:
    _measure_moves(recorder, figures, log)
    _go_to_row(recorder.program, 0)
    # One refresh first, not counted: `r` describes the running jobs, which fills in fields
    # of all of them once.
    recorder.act("warm-up refresh", b"r")
    for count in REFRESH_ROWS:
        world.move_on(count)
        action = recorder.act(f"refresh, {count} rows", b"r")
        figures.refresh[count] = action
        log(f"    refresh with {count} rows changed: {action.size:,} bytes {action.places}")


def _measure_mailboxes(recorder: Recorder, figures: Figures, log: Callable[[str], None]) -> None:
    """The mailboxes screen, over fixed windows: a screen that never settles is a finding."""
    program = recorder.program
    program.settle()
    program.press(b"m")
    time.sleep(MAILBOX_WINDOW * 2)
    program.press(DOWN)
    time.sleep(MAILBOX_WINDOW)
    mark = program.written
    time.sleep(MAILBOX_WINDOW)
    figures.mailbox_idle = len(program.since(mark)) / MAILBOX_WINDOW
    mark = program.written
    program.press(DOWN)
    time.sleep(MAILBOX_WINDOW)
    recorder.catch_up()
    data = program.since(mark)
    figures.mailbox_move = Action("mailboxes: one move", data, places=by_place(data, COLUMNS))
    log(
        f"    mailboxes screen: one move {len(data):,} bytes in {MAILBOX_WINDOW:g} s, "
        f"idle {figures.mailbox_idle:,.0f} bytes/s"
    )
    program.press(b"\x1b")
    program.settle(timeout=5 * MAILBOX_WINDOW)


def _measure_bare(recorder: Recorder, figures: Figures, log: Callable[[str], None]) -> None:
    _measure_moves(recorder, figures, log)
    for count in REFRESH_ROWS:
        figures.refresh[count] = recorder.act(f"{count} rows change", str(count).encode())
        log(f"    {count} rows changed: {figures.refresh[count].size:,} bytes")


def _idle_side_by_side(recorders: Sequence[Recorder], seconds: float) -> list[bytes]:
    for recorder in recorders:
        recorder.program.settle()
    marks = [r.program.written for r in recorders]
    time.sleep(seconds)
    return [r.program.since(mark) for r, mark in zip(recorders, marks, strict=True)]


def measure(options: Options, log: Callable[[str], None]) -> tuple[Figures, Figures, float]:
    home = Path(tempfile.mkdtemp(prefix="wmtui-bench-bytes-"))
    wmtui, bare = Figures(), Figures()
    idle_seconds = IDLE_SECONDS_QUICK if options.quick else IDLE_SECONDS
    try:
        with StillWorld() as world:
            _watch_all(home, world)
            rows = home / "rows.json"
            rows.write_text(json.dumps(world.rows()), encoding="utf-8")
            env = _environ(home, world)
            wmtui_command = [sys.executable, "-m", "wmtui"]
            bare_command = [sys.executable, "-m", "benchmarks.bytes", "bare", str(rows)]
            with (
                PtyProgram(wmtui_command, env, ROOT) as wmtui_program,
                PtyProgram(bare_command, env, ROOT) as bare_program,
            ):
                bare_program.wait_for("Description")
                wmtui_program.wait_for("40 jobs")
                wmtui_program.settle(quiet=2.0, timeout=STARTUP_TIMEOUT)
                wmtui.startup, bare.startup = wmtui_program.written, bare_program.written
                wmtui_recorder = Recorder(wmtui_program, WMTUI_SPLIT)
                bare_recorder = Recorder(bare_program, COLUMNS)
                log("  bare Textual DataTable app")
                _measure_bare(bare_recorder, bare, log)
                log("  wmtui")
                _measure_wmtui(wmtui_recorder, world, wmtui, log)
                log(f"  idle, both apps side by side, {idle_seconds:.0f} s")
                wmtui.idle, bare.idle = _idle_side_by_side(
                    [wmtui_recorder, bare_recorder], idle_seconds
                )
                wmtui.idle_seconds = bare.idle_seconds = idle_seconds
                _measure_mailboxes(wmtui_recorder, wmtui, log)
            log("  wmtui, refreshing every 5 s under the mailboxes screen")
            wmtui.covered_refreshes = measure_covered(world, env, ROOT, log).refreshes
            log("  wmtui, an organization export's progress view (export-org --once rounds)")
            wmtui.export = measure_export(world, env, ROOT, log)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return wmtui, bare, idle_seconds


# ---------------------------------------------------------------- the report


def _kb(value: float) -> str:
    return f"{value:,.0f}"


def _status_bytes(action: Action) -> int:
    return action.places.get("top", 0)


def build_section(wmtui: Figures, bare: Figures, idle_seconds: float) -> Section:
    section = Section(
        ITEM,
        "Bytes written to the terminal (140x40 pty): wmtui against a bare DataTable app",
        ["action", "wmtui (bytes)", "bare DataTable app (bytes)", "ratio", "wmtui: where"],
    )
    assert wmtui.move is not None and bare.move is not None

    def where(action: Action) -> str:
        p = action.places
        return (
            f"status {p['top']:,}, table {p['left']:,}, detail {p['right']:,}, "
            f"footer {p['bottom']:,}; lines changed: table {action.changed_left}, "
            f"detail {action.changed_right}"
        )

    def row(name: str, mine: int, theirs: int | None, note: str = "") -> None:
        bare_text = "-" if theirs is None else _kb(theirs)
        section.rows.append(
            [name, _kb(mine), bare_text, "-" if theirs is None else ratio(mine, theirs), note]
        )

    row("one cursor move (no scrolling)", wmtui.move.size, bare.move.size, where(wmtui.move))
    row(f"{MOVES} cursor moves (with scrolling)", wmtui.moves_total, bare.moves_total)
    for count, action in wmtui.refresh.items():
        row(
            f"refresh, {count} of 40 rows changed",
            action.size,
            bare.refresh[count].size,
            where(action),
        )
    row(
        f"idle, bytes/s over {idle_seconds:.0f} s",
        round(wmtui.idle_rate),
        round(bare.idle_rate),
        f"{len(wmtui.idle):,} bytes in all",
    )
    if wmtui.mailbox_move is not None:
        row(
            f"mailboxes screen: one cursor move (the {MAILBOX_WINDOW:g} s after the key)",
            wmtui.mailbox_move.size,
            bare.move.size,
        )
        row("mailboxes screen: idle, bytes/s", round(wmtui.mailbox_idle), round(bare.idle_rate))
    if wmtui.covered_refreshes:
        row(
            "a jobs refresh under the mailboxes screen (the worst of "
            f"{len(wmtui.covered_refreshes)}, 1 running job moved)",
            max(wmtui.covered_refreshes),
            None,
            " / ".join(_kb(size) for size in wmtui.covered_refreshes),
        )
    if wmtui.export is not None:
        for name, figure, note in wmtui.export.rows():
            row(name, figure, None, note)
    row("start-up to the settled screen", wmtui.startup, bare.startup)
    _checks(section, wmtui, bare)
    _notes(section, idle_seconds)
    return section


def _checks(section: Section, wmtui: Figures, bare: Figures) -> None:
    assert wmtui.move is not None and bare.move is not None
    move = wmtui.move
    detail = move.places["right"]
    allowed = bare.move.size + detail
    section.check(
        "one cursor move, wmtui <= bare move + the detail pane's bytes",
        _kb(move.size),
        f"<= {_kb(allowed)} ({_kb(bare.move.size)} + {_kb(detail)})",
        move.size <= allowed,
        "" if move.size <= allowed else f"table and status wrote {_kb(move.size - detail)}",
    )
    section.check(
        "one cursor move, bytes",
        _kb(move.size),
        f"<= {MOVE_LIMIT:,}",
        move.size <= MOVE_LIMIT,
    )
    written = lines_written(move.data, WMTUI_SPLIT)
    changed = move.changed_right
    # A line whose text stays but whose colour changes (the state in the title) is written too.
    allowed = changed + DETAIL_RESTYLED
    section.check(
        "one cursor move: detail pane lines written / lines whose text changed",
        f"{written} / {changed} (of {LINES - 2})",
        f"<= {changed} + {DETAIL_RESTYLED}",
        written <= allowed,
        "" if written <= allowed else "lines that did not change were sent again",
    )
    # A row drawn alone: half the bare app's cursor move, which draws the two rows it leaves
    # and enters (its update_cell repaints the whole table, so its refresh is no measure).
    row_alone = bare.move.size / 2
    for count, action in wmtui.refresh.items():
        # The rows that changed on screen: the k moved on, and any whose relative time the
        # wall clock moved to its next minute meanwhile (the screen model counts them).
        rows = max(count, action.changed_left)
        alone = round(rows * row_alone)
        status = _status_bytes(action)
        limit = REFRESH_FACTOR * alone + status
        section.check(
            f"refresh, {count} rows moved ({rows} changed on screen), <= 2x those rows drawn "
            "alone + the status line",
            _kb(action.size),
            f"<= {_kb(limit)} (2x {_kb(alone)} + {_kb(status)})",
            action.size <= limit,
        )
    sizes = [wmtui.refresh[count].size for count in REFRESH_ROWS]
    grows = sizes[-1] > sizes[0] and sizes[0] < 0.5 * sizes[-1]
    section.check(
        "refresh bytes grow with the rows changed, not with the screen",
        " / ".join(_kb(s) for s in sizes) + f" for {', '.join(map(str, REFRESH_ROWS))} rows",
        "1 row well under 8 rows",
        grows,
    )
    section.check(
        "idle with nothing due, bytes/s",
        f"{wmtui.idle_rate:.0f}",
        f"<= {IDLE_LIMIT:.0f}",
        wmtui.idle_rate <= IDLE_LIMIT,
    )
    if wmtui.mailbox_move is not None:
        size = wmtui.mailbox_move.size
        section.check(
            "mailboxes screen: one cursor move, bytes",
            _kb(size),
            f"<= {MOVE_LIMIT:,}",
            size <= MOVE_LIMIT,
        )
        section.check(
            "mailboxes screen: idle, bytes/s",
            f"{wmtui.mailbox_idle:,.0f}",
            f"<= {IDLE_LIMIT:.0f}",
            wmtui.mailbox_idle <= IDLE_LIMIT,
        )
    if wmtui.covered_refreshes:
        worst = max(wmtui.covered_refreshes)
        section.check(
            "a jobs refresh under the mailboxes screen, bytes (nothing of the jobs view shows)",
            _kb(worst),
            f"<= {MOVE_LIMIT:,}",
            worst <= MOVE_LIMIT,
        )
    if wmtui.export is not None:
        wmtui.export.check(section, REFRESH_FACTOR * row_alone, IDLE_LIMIT)


def _notes(section: Section, idle_seconds: float) -> None:
    section.notes += [
        f"Both apps on a {COLUMNS}x{LINES} pseudo-terminal (TERM=xterm-256color, "
        "COLORTERM=truecolor), every byte read from the master side. A move is the Down arrow "
        f"(both apps bind it); the screen counts as settled after {QUIET:g} s without a byte, "
        "longer than the 0.5 s wmtui's cursor rests before it describes a job, so an action's "
        "figure holds everything it caused.",
        "wmtui runs through `python -m wmtui` against the emulator (the demo organization: 40 "
        "jobs, 8 running) served by the benchmark on 127.0.0.1 with a manual clock, so nothing "
        "moves unless the benchmark moves it; the refresh interval is an hour, so every refresh "
        "is one the benchmark asked for with `r` after moving k running jobs 3 points on.",
        "The bare app is a Textual DataTable (cursor on rows) with the same 40 jobs and seven "
        "columns as plain text; its 'refresh' is update_cell on the progress of k rows, "
        "which repaints its whole table. 'Those rows drawn alone' in the refresh targets is k "
        "times half the bare app's cursor move (which draws two full-width rows).",
        "'where' attributes each write to the line and column of the cursor-move before it: "
        f"status = line 1, footer = line {LINES}, detail = from column {WMTUI_SPLIT + 1}, table = "
        "the rest; 'lines changed' counts the lines whose text differs before and after (a "
        "screen model fed with the same bytes).",
        "Under the mailboxes screen: wmtui again on its own pty with a refresh every 5 s (the "
        "shortest interval), the mailboxes screen open over the jobs view; one running job moved "
        "on before each refresh, which the emulator's request counters show; its bytes are all "
        "the app wrote from just before it until the screen settled.",
        export_note(),
        f"Idle: both apps side by side for {idle_seconds:.0f} s right after the last refresh"
        + (" (--quick: 30 s instead of a minute)." if idle_seconds < IDLE_SECONDS else "."),
    ]


def run(options: Options, log: Callable[[str], None]) -> list[Section]:
    began = time.perf_counter()
    wmtui, bare, idle_seconds = measure(options, log)
    section = build_section(wmtui, bare, idle_seconds)
    section.seconds = time.perf_counter() - began
    return [section]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "bare":
        run_bare(sys.argv[2])
    else:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        sys.exit(2)
