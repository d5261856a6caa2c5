"""Hostile text from the API shows literally, triggers nothing, writes no escape to the terminal."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static
from textual.widgets._toast import Toast

from wmtui.ui.safe_text import NEWLINE_MARK, safe_content, safe_text, sanitize

_LONG = "".join(f"line {n:03d} [b]bold?[/b] \\ text\n" for n in range(40))[:1023]

# The cases of issue 6, "Text from the API".
HOSTILE: dict[str, str] = {
    "close-tag": "[/]",
    "restyle": "[red]x[/red]",
    "link": "[link=https://example.com]x[/link]",
    "click-action": "[@click=app.quit]x[/]",
    "osc52-bel": "copy \x1b]52;c;cm0gLXJmIH4K\x07 done",
    "osc52-st": "copy \x1b]52;c;cm0gLXJmIH4K\x1b\\ done",
    "osc0-bel": "title \x1b]0;pwned\x07 done",
    "osc0-st": "title \x1b]0;pwned\x1b\\ done",
    "csi": "csi \x1b[2J\x1b[31mred\x1b[0m\x1b[?1049l done",
    "c1-8bit": "c1 \x9b31m \x9d0;t\x9c \x85 \x90x\x9c done",
    "bidi-override": "invoice\u202efdp.exe",
    "zero-width": "a\u200bb\u200cc\u200dd\u2060e\ufefff",
    "long-with-newlines": _LONG,
    "trailing-backslash": "C:\\exports\\",
    "del-and-bell": "a\x7fb\x07c\x08d",
}
DANGEROUS_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def dangerous(text: str) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch) in DANGEROUS_CATEGORIES]


# --- sanitize -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_keeps_no_control_or_format_character(value: str) -> None:
    shown = sanitize(value)
    assert dangerous(shown) == []
    assert "\n" not in shown
    multi = sanitize(value, single_line=False)
    assert [ch for ch in dangerous(multi) if ch != "\n"] == []


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("[@click=app.quit]x[/]", "[@click=app.quit]x[/]"),
        ("title \x1b]0;pwned\x07 done", "title \\x1b]0;pwned\\x07 done"),
        ("copy \x1b]52;c;aGk=\x1b\\ done", "copy \\x1b]52;c;aGk=\\x1b\\ done"),
        ("\x1b[2J", "\\x1b[2J"),
        ("c1 \x9b31m \x85", "c1 \\x9b31m \\x85"),
        ("invoice\u202efdp.exe", "invoice\\u202efdp.exe"),
        ("a\u200bb\ufeffc\u2060", "a\\u200bb\\ufeffc\\u2060"),
        ("tab\there", "tab\\there"),
        ("del\x7f", "del\\x7f"),
        ("sep\u2028par\u2029", "sep\\u2028par\\u2029"),
        ("tag \U000e0041", "tag \\U000e0041"),
        ("trailing\\", "trailing\\"),
        ("two\nlines", f"two{NEWLINE_MARK}lines"),
        ("crlf\r\nend", f"crlf{NEWLINE_MARK}end"),
        ("cr\rback", "cr\\rback"),
    ],
)
def test_controls_become_visible_escapes(value: str, shown: str) -> None:
    assert sanitize(value) == shown


def test_multi_line_keeps_newlines_but_escapes_carriage_returns() -> None:
    assert sanitize("one\ntwo\r\nthree\rfour", single_line=False) == "one\ntwo\nthree\\rfour"


def test_none_and_non_strings() -> None:
    assert sanitize(None) == ""
    assert sanitize(42) == "42"
    assert sanitize(ValueError("bad\x1b[31m")) == "bad\\x1b[31m"


def test_limit_caps_length_without_cutting_an_escape() -> None:
    assert sanitize("abcdef", limit=4) == "abc…"
    assert sanitize("abcd", limit=4) == "abcd"
    assert sanitize("ab\x1bcd", limit=5) == "ab…"
    assert sanitize("anything", limit=0) == ""
    assert len(sanitize(_LONG, limit=80)) == 80


def test_safe_text_is_literal_text_with_the_given_style() -> None:
    text = safe_text("[red]x[/red]\x1b]0;t\x07", "bold")
    assert isinstance(text, Text)
    assert text.plain == "[red]x[/red]\\x1b]0;t\\x07"
    assert text.spans == []
    assert str(text.style) == "bold"
    assert safe_text("a\nb", single_line=False).plain == "a\nb"
    assert safe_content("[/]\x1b").plain == "[/]\\x1b"


# --- properties -----------------------------------------------------------------------------

PRINTABLE = st.characters(categories=("L", "M", "N", "P", "S", "Zs"))


@given(st.text())
def test_no_control_format_or_separator_survives(value: str) -> None:
    assert dangerous(sanitize(value)) == []
    assert [ch for ch in dangerous(sanitize(value, single_line=False)) if ch != "\n"] == []


@given(st.text(alphabet=PRINTABLE))
def test_printable_text_passes_unchanged(value: str) -> None:
    assert sanitize(value) == value
    assert sanitize(value, single_line=False) == value
    assert safe_text(value).plain == value


@given(st.text())
def test_sanitize_is_idempotent(value: str) -> None:
    once = sanitize(value)
    assert sanitize(once) == once


@given(st.text(), st.integers(min_value=0, max_value=50))
def test_limit_is_respected(value: str, limit: int) -> None:
    assert len(sanitize(value, limit=limit)) <= limit


# --- in a running app -----------------------------------------------------------------------


class HostileTextApp(App[None]):
    """A detail pane (Static), a table cell and a notification, all fed the same API text."""

    CSS = "#detail { height: 4; }"

    def __init__(self, value: str) -> None:
        super().__init__()
        self.value = value

    def compose(self) -> ComposeResult:
        yield Static(safe_text(self.value, single_line=False), id="detail")
        yield DataTable(id="jobs")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Description", key="description")
        table.add_row(safe_text(self.value), key="job")
        self.notify(sanitize(self.value), title="Job failed", markup=False, timeout=60)


def screen_lines(app: App[None]) -> list[str]:
    return ["".join(s.text for s in strip) for strip in app.screen._compositor.render_strips()]


def terminal_output(app: App[None]) -> str:
    """The bytes a full repaint would write to the terminal."""
    return app.screen._compositor.render_full_update().render_segments(app.console)


def assert_nothing_escapes(output: str) -> None:
    """No OSC (clipboard, title, hyperlink), no BEL/ST, no screen clear, no C1 or bidi control."""
    for forbidden in ("\x1b]", "\x1b\\", "\x07", "\x1b[2J", "\x1b[?1049"):
        assert forbidden not in output
    assert [ch for ch in output if 0x80 <= ord(ch) <= 0x9F] == []
    assert [ch for ch in output if unicodedata.category(ch) == "Cf"] == []


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_text_shows_literally_in_app(value: str) -> None:
    app = HostileTextApp(value)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await pilot.pause()
        lines = screen_lines(app)
        one_line = sanitize(value)
        detail_first_line = sanitize(value, single_line=False).split("\n")[0]
        # The detail pane starts on the first screen line; the table's row is under its header.
        assert lines[0].startswith(detail_first_line[:100])
        assert any(line.startswith(" " + one_line[:100]) for line in lines[1:])
        toast = app.query_one(Toast)
        assert one_line in toast.render().plain
        await pilot.click("#detail")
        await pilot.pause()
        assert app.is_running
        assert app.return_code is None
        assert_nothing_escapes(terminal_output(app))
        svg = app.export_screenshot()
        assert "\x1b" not in svg
        assert [ch for ch in svg if unicodedata.category(ch) in DANGEROUS_CATEGORIES - {"Cc"}] == []
        assert [ch for ch in svg if unicodedata.category(ch) == "Cc" and ch != "\n"] == []


async def test_click_action_text_does_not_run_when_clicked() -> None:
    app = HostileTextApp("[@click=app.quit]x[/]")
    async with app.run_test(size=(80, 20), notifications=True) as pilot:
        await pilot.click("#detail", offset=(0, 0))
        await pilot.click("#detail", offset=(1, 0))
        await pilot.pause()
        assert app.is_running
        assert screen_lines(app)[0].startswith("[@click=app.quit]x[/]")


class UnsafeApp(App[None]):
    """What the sanitiser prevents: raw API text handed to widgets."""

    def __init__(self, static: str | Text) -> None:
        super().__init__()
        self.static = static

    def compose(self) -> ComposeResult:
        yield Static(self.static, id="detail")


async def test_raw_markup_click_would_quit_the_app() -> None:
    """The control case: the click test above could fail."""
    app = UnsafeApp("[@click=app.quit]x[/]")
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.click("#detail", offset=(0, 0))
        await pilot.pause()
    assert app.return_code == 0
    assert not app.is_running


async def test_raw_escape_would_reach_the_terminal() -> None:
    """The control case: Rich's Text keeps ESC, so the terminal check above could fail."""
    app = UnsafeApp(Text("title \x1b]0;pwned\x1b\\ done"))
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        assert "\x1b]0;pwned" in terminal_output(app)
