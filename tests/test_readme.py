"""The README promises what the app does: its keys table and quick start must stay true."""

from __future__ import annotations

import re
from pathlib import Path

from wmtui.ui.keys import help_rows

README = Path(__file__).resolve().parent.parent / "README.md"


def keys_markdown() -> str:
    """The keys table as the README shows it, generated from the app's bindings."""
    lines = ["| keys | what they do |", "|---|---|"]
    for keys, description, detail in help_rows():
        shown = " / ".join(f"`{key.strip()}`" for key in keys.split(" / "))
        what = f"**{description}**" + (f": {detail}" if detail and detail != description else "")
        lines.append(f"| {shown} | {what} |")
    return "\n".join(lines)


def readme_keys_block() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- keys:start[^>]*-->\n(.*?)\n<!-- keys:end -->", text, re.S)
    assert match, "README.md lost its <!-- keys:start --> ... <!-- keys:end --> block"
    return match.group(1).strip()


def test_readme_keys_table_matches_the_bindings() -> None:
    expected = keys_markdown()
    assert readme_keys_block() == expected, (
        "README.md's keys table differs from the app's bindings; replace it with:\n\n" + expected
    )


def test_readme_quick_start_is_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("##", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick, re.S)
    assert block is not None
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    assert [c for c in commands if c] == ["uv run wmtui --demo", "uv run pytest"]


def test_readme_shows_every_screenshot_it_names() -> None:
    text = README.read_text(encoding="utf-8")
    for name in re.findall(r"\(screenshots/([\w.-]+\.svg)\)", text):
        assert (README.parent / "screenshots" / name).is_file(), name
