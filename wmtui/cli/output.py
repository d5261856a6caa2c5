"""What the CLI writes: terminal-safe text, stdout for scripts, stderr for people, tables, JSON."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from typing import IO, Any

from wmtui.core.models import ExportJob, JobKey, Mailbox
from wmtui.core.service import ServiceError

PROG = "wmtui"


def plain(value: object) -> str:
    """Text from the API or a file made safe for a terminal: controls become visible escapes.

    C0/C1 controls, format characters (bidi overrides, zero-width) and line separators are
    escaped, so a Description cannot move the cursor, retitle the window or write the clipboard.
    """
    text = value if isinstance(value, str) else str(value)
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
        else ch
        for ch in text
    )


def say(text: str = "", *, stream: IO[str] | None = None) -> None:
    print(text, file=stream if stream is not None else sys.stdout)


def note(text: str) -> None:
    """Information for the person, on stderr, so stdout stays what a script parses."""
    print(text, file=sys.stderr)


def error_line(message: str, fix: str = "") -> str:
    line = f"{PROG}: error: {plain(message)}"
    if fix:
        line += f" ({plain(fix)})"
    return line


def json_dump(data: object) -> str:
    """`json.dumps(data, indent=2, ensure_ascii=True)`, the same text, several times faster.

    ensure_ascii escapes every control and non-ASCII character: safe to cat to a terminal.
    With `indent`, json encodes in Python; here the containers are laid out by hand and every
    string and number goes through json's C encoder (`status --json` prints 1,000 jobs).
    """
    parts: list[str] = []
    _lay_out(data, "\n", parts)
    return "".join(parts)


_string = json.encoder.encode_basestring_ascii  # C
_float = json.JSONEncoder(ensure_ascii=True).encode  # nan, inf and -inf as json writes them
_CONSTANTS = {True: "true", False: "false", None: "null"}


def _lay_out(value: Any, newline: str, parts: list[str]) -> None:
    kind = type(value)
    if kind is str:
        parts.append(_string(value))
    elif value is None or kind is bool:
        parts.append(_CONSTANTS[value])
    elif kind is int:
        parts.append(int.__repr__(value))
    elif kind is dict and value and all(type(k) is str for k in value):
        inner = newline + "  "
        parts.append("{")
        separator = inner
        for key, item in value.items():
            parts.append(separator)
            parts.append(_string(key))
            parts.append(": ")
            _lay_out(item, inner, parts)
            separator = "," + inner
        parts.append(newline + "}")
    elif (kind is list or kind is tuple) and value:
        inner = newline + "  "
        parts.append("[")
        separator = inner
        for item in value:
            parts.append(separator)
            _lay_out(item, inner, parts)
            separator = "," + inner
        parts.append(newline + "]")
    elif kind is float:
        parts.append(_float(value))
    else:  # empty containers, other keys, subclasses: json's own answer, indented to fit
        parts.append(json.dumps(value, indent=2, ensure_ascii=True).replace("\n", newline))


def table_lines(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell, two spaces apart; the last one is not padded."""
    all_rows = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(headers))]
    lines = []
    for row in all_rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return lines


def mailbox_text(mailbox: Mailbox | None, fallback: str) -> str:
    if mailbox is None:
        return plain(fallback)
    text = plain(mailbox.label)
    if mailbox.email and mailbox.email != mailbox.label:
        text += f" <{plain(mailbox.email)}>"
    if mailbox.entity_id != mailbox.label:
        text += f" ({plain(mailbox.entity_id)})"
    return text


def error_object(error: ServiceError) -> dict[str, Any]:
    return {
        "kind": error.kind.value,
        "code": error.code,
        "message": error.message,
        "fix": error.fix,
    }


def job_record(key: JobKey, job: ExportJob | None, mailbox: Mailbox | None) -> dict[str, Any]:
    """The API's field names for a job; State is null for one never read; Mailbox is who
    the EntityId is (null when not known)."""
    record = (job or ExportJob(key=key)).to_api_dict()
    if job is None or job.last_seen is None:
        record["State"] = None
    record["Mailbox"] = _mailbox_object(mailbox)
    return record


def _mailbox_object(mailbox: Mailbox | None) -> dict[str, str | None] | None:
    if mailbox is None:
        return None
    return {"Name": mailbox.name, "Email": mailbox.email, "DisplayName": mailbox.display_name}
