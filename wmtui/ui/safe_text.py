"""Untrusted text made safe to put on screen.

Every string that comes from the API or a file (a job Description, ErrorInfo, an error message,
a user name) can hold anything. Two things go wrong when such a string is displayed as it is:

- Markup injection. A plain `str` in a DataTable cell, a `Static`, a `Label` or `app.notify` is
  parsed as markup, so `[/]` raises MarkupError (the app crashes), `[red]x` restyles the screen and
  `[@click=app.quit]x[/]` becomes a clickable action.
- Terminal escape passthrough. Rich and Textual strip only BEL, BS, VT, FF and CR; ESC goes through
  to the real terminal, so `ESC ] 0 ; title ESC \\` can retitle the window and `ESC ] 52 ; ...`
  can write the user's clipboard. Bidi overrides (U+202E) and zero-width characters make text
  read differently from what it is.

So untrusted text is never markup here (`Text(...)`, never `Text.from_markup`), and every control,
format and line/paragraph separator character is replaced by a visible escape such as `\\x1b` or
`\\u202e` before it reaches a widget. Printable text passes unchanged.
"""

from __future__ import annotations

import unicodedata

from rich.style import Style
from rich.text import Text
from textual.content import Content

__all__ = ["NEWLINE_MARK", "safe_content", "safe_text", "sanitize"]

# Shown in place of a line break in one-line contexts (table cells, status line, notifications).
NEWLINE_MARK = "⏎"
ELLIPSIS = "…"

# Cc: C0/C1 controls incl. ESC, BEL, DEL; Cf: bidi overrides, zero-width chars, BOM;
# Zl/Zp: U+2028/U+2029 break lines where a one-line cell expects none;
# Cs: a lone surrogate (possible from JSON) cannot be encoded for the terminal at all.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NAMED_ESCAPES = {"\t": "\\t", "\r": "\\r"}


def _escape(ch: str) -> str:
    """A visible, unambiguous spelling of one character: \\x1b, \\u202e, \\U000e0001."""
    named = _NAMED_ESCAPES.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _pieces(text: str, single_line: bool) -> list[str]:
    out: list[str] = []
    # CRLF is an ordinary line ending from a Windows file, not something hostile.
    text = text.replace("\r\n", "\n")
    for ch in text:
        if ch == "\n":
            out.append(NEWLINE_MARK if single_line else "\n")
        elif unicodedata.category(ch) in _ESCAPED_CATEGORIES:
            out.append(_escape(ch))
        else:
            out.append(ch)
    return out


def sanitize(value: object, *, single_line: bool = True, limit: int | None = None) -> str:
    """`value` as text with nothing in it that can act on the terminal or the markup parser.

    Controls (Cc, including ESC, BEL, DEL and 8-bit C1), format characters (Cf: bidi overrides,
    zero-width characters, BOM) and line/paragraph separators (Zl, Zp) become visible escapes.
    With `single_line`, newlines become "⏎"; otherwise "\\n" stays (a lone "\\r" is escaped
    either way). None gives "", anything else not a str goes through str(). `limit` caps the
    result at that many characters, ending in "…", without cutting an escape in half.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    # isprintable() is False for every category escaped below and for newlines: the common case
    # of plain text skips the per-character walk (it dominates start-up with 10,000 rows).
    if text.isprintable() and (limit is None or len(text) <= limit):
        return text
    pieces = _pieces(text, single_line)
    if limit is None:
        return "".join(pieces)
    if limit <= 0:
        return ""
    if sum(len(p) for p in pieces) <= limit:
        return "".join(pieces)
    kept: list[str] = []
    used = 0
    for piece in pieces:
        if used + len(piece) > limit - 1:
            break
        kept.append(piece)
        used += len(piece)
    return "".join(kept) + ELLIPSIS


def safe_text(
    value: object, style: str | Style = "", *, single_line: bool = True, limit: int | None = None
) -> Text:
    """A Rich Text of the sanitised value, never parsed as markup: for cells, Static, Label."""
    return Text(sanitize(value, single_line=single_line, limit=limit), style=style)


def safe_content(
    value: object, style: str = "", *, single_line: bool = True, limit: int | None = None
) -> Content:
    """The same as `safe_text`, as Textual Content (never markup)."""
    return Content.styled(sanitize(value, single_line=single_line, limit=limit), style)
