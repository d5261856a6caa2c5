"""How the emulated service answers: error answers, paging tokens, wire timestamps."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = [
    "ACCOUNT_ID",
    "DEFAULT_PAGE_SIZE",
    "ApiError",
    "decode_token",
    "encode_token",
    "to_wire",
    "without_none",
]

ACCOUNT_ID = "123456789012"
DEFAULT_PAGE_SIZE = 100


class ApiError(Exception):
    """An error answer: the code botocore maps to client.exceptions.<code>, and its message."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def encode_token(kind: str, scope: str, cursor: object) -> str:
    raw = json.dumps({"k": kind, "s": scope, "c": cursor}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode("ascii")


def decode_token(kind: str, scope: str, token: str | None) -> Any:
    """The cursor inside a NextToken we issued, None for the first page."""
    if token is None:
        return None
    try:
        data = json.loads(base64.b64decode(token.encode("ascii"), validate=True))
        if not isinstance(data, dict) or data.get("k") != kind or data.get("s") != scope:
            raise ValueError("token from another listing")
        cursor = data.get("c")
        if cursor is not None and not (
            isinstance(cursor, int)
            or (isinstance(cursor, list) and len(cursor) == 2 and isinstance(cursor[1], str))
        ):
            raise ValueError("malformed cursor")
        return cursor
    except (ValueError, UnicodeError, binascii.Error, TypeError) as exc:
        raise ApiError("InvalidParameterException", "The NextToken is invalid.") from exc


def without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def to_wire(value: Any, to_wall: Callable[[datetime], datetime] | None = None) -> Any:
    """Datetimes to epoch seconds (JSON 1.1's timestamp format), recursively; `to_wall` maps
    each emulated time onto the wall clock first (see EmulatorClock.to_wall)."""
    if isinstance(value, datetime):
        return (to_wall(value) if to_wall is not None else value).timestamp()
    if isinstance(value, dict):
        return {k: to_wire(v, to_wall) for k, v in value.items()}
    if isinstance(value, list):
        return [to_wire(v, to_wall) for v in value]
    return value
