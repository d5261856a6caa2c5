"""A small reader of IAM policy documents: does a statement allow or deny an action here?

The doctor uses it where `iam:SimulatePrincipalPolicy` is not allowed (or not implemented):
on a role's trust policy, its permission policies, a caller's policies and a KMS key policy.
It knows Action/NotAction, Resource/NotResource, Principal and the condition operators set-up
policies use (String*, Arn*, Bool, with IfExists and ForAnyValue/ForAllValues). An operator it
does not know never makes an Allow apply, so a doubt shows as a missing permission, not a pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

__all__ = [
    "Decision",
    "PolicyRequest",
    "as_list",
    "decide",
    "load_document",
    "principal_matches",
    "statements",
]


class Decision(StrEnum):
    """SimulatePrincipalPolicy's words for the three outcomes."""

    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicitDeny"
    IMPLICIT_DENY = "implicitDeny"


@dataclass(frozen=True)
class PolicyRequest:
    """One request to judge: who (resource and trust policies), what, on what, in what context."""

    action: str
    resource: str = "*"
    context: Mapping[str, str] = field(default_factory=dict)
    # For a resource policy: the principal asking, as ("AWS", arn) or ("Service", name).
    principal: tuple[str, str] | None = None
    # The principal's account: "arn:aws:iam::<account>:root" or "<account>" names it too.
    account: str | None = None


def load_document(document: object) -> dict[str, Any]:
    """A policy document as boto3 gives it (a dict, JSON text, URL-encoded JSON) -> a dict."""
    if isinstance(document, Mapping):
        return dict(document)
    if isinstance(document, str):
        from urllib.parse import unquote

        text = document.strip()
        if text.startswith("%7B") or text.startswith("%7b"):
            text = unquote(text)
        try:
            loaded = json.loads(text)
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return {}


def as_list(value: object) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The document's statements: a single statement object counts as a list of one."""
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


@lru_cache(maxsize=512)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.IGNORECASE if ignore_case else 0)


def _like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def _any_like(patterns: Iterable[object], value: str, *, ignore_case: bool = False) -> bool:
    return any(
        isinstance(pattern, str) and _like(pattern, value, ignore_case=ignore_case)
        for pattern in patterns
    )


def _action_applies(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not _any_like(as_list(statement["NotAction"]), action, ignore_case=True)
    return _any_like(as_list(statement.get("Action")), action, ignore_case=True)


def _resource_applies(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not _any_like(as_list(statement["NotResource"]), resource)
    if "Resource" not in statement:
        # Trust policies have no Resource: the role itself is the resource.
        return True
    return _any_like(as_list(statement["Resource"]), resource)


def principal_matches(
    statement: Mapping[str, Any], principal: tuple[str, str], account: str | None
) -> str | None:
    """How the statement's Principal names `principal`: "direct", "account" (the account's
    root, which hands the decision to the account's IAM policies), "anyone", or None."""
    if "NotPrincipal" in statement:
        return None
    named = statement.get("Principal")
    if named == "*":
        return "anyone"
    if not isinstance(named, Mapping):
        return None
    kind, who = principal
    values = [v for v in as_list(named.get(kind)) if isinstance(v, str)]
    if "*" in values:
        return "anyone"
    if who in values:
        return "direct"
    if kind == "AWS" and account and (account in values or _root(account) in values):
        return "account"
    return None


def _root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def _condition_value(context: Mapping[str, str], key: str) -> str | None:
    wanted = key.lower()
    for name, value in context.items():
        if name.lower() == wanted:
            return value
    return None


def _test(operator: str, patterns: list[object], value: str) -> bool | None:
    """One operator on one present value; None for an operator this module does not know."""
    texts = [str(p).lower() if isinstance(p, bool) else str(p) for p in patterns]
    if operator in ("StringEquals", "ArnEquals"):
        return value in texts
    if operator == "StringEqualsIgnoreCase":
        return value.lower() in (t.lower() for t in texts)
    if operator in ("StringLike", "ArnLike"):
        return _any_like(texts, value)
    if operator in ("StringNotEquals", "ArnNotEquals"):
        return value not in texts
    if operator == "StringNotEqualsIgnoreCase":
        return value.lower() not in (t.lower() for t in texts)
    if operator in ("StringNotLike", "ArnNotLike"):
        return not _any_like(texts, value)
    if operator == "Bool":
        return value.lower() in (t.lower() for t in texts)
    return None


def _condition_holds(operator: str, key: str, patterns: object, context: Mapping[str, str]) -> bool:
    base = operator.split(":", 1)[-1]
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    value = _condition_value(context, key)
    if value is None:
        # A missing key satisfies the negated operators and the IfExists forms only.
        return if_exists or "Not" in base
    result = _test(base, as_list(patterns), value)
    return bool(result)


def conditions_hold(statement: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """Every operator's every key holds in `context` (AWS ANDs them)."""
    block = statement.get("Condition")
    if not isinstance(block, Mapping):
        return True
    for operator, tests in block.items():
        if not isinstance(tests, Mapping):
            return False
        for key, patterns in tests.items():
            if not _condition_holds(str(operator), str(key), patterns, context):
                return False
    return True


def condition_keys(statement: Mapping[str, Any]) -> set[str]:
    """The condition keys a statement tests, lower-cased."""
    block = statement.get("Condition")
    if not isinstance(block, Mapping):
        return set()
    return {
        str(key).lower() for tests in block.values() if isinstance(tests, Mapping) for key in tests
    }


def statement_applies(statement: Mapping[str, Any], request: PolicyRequest) -> bool:
    if request.principal is not None and (
        principal_matches(statement, request.principal, request.account) is None
    ):
        return False
    return (
        _action_applies(statement, request.action)
        and _resource_applies(statement, request.resource)
        and conditions_hold(statement, request.context)
    )


def decide(documents: Sequence[Mapping[str, Any]], request: PolicyRequest) -> Decision:
    """IAM's rule: an applicable Deny wins, then an applicable Allow, else an implicit deny."""
    allowed = False
    for document in documents:
        for statement in statements(document):
            if not statement_applies(statement, request):
                continue
            effect = statement.get("Effect")
            if effect == "Deny":
                return Decision.EXPLICIT_DENY
            if effect == "Allow":
                allowed = True
    return Decision.ALLOWED if allowed else Decision.IMPLICIT_DENY


def allowing_statements(
    documents: Sequence[Mapping[str, Any]], request: PolicyRequest
) -> list[dict[str, Any]]:
    """The Allow statements that apply to `request`."""
    return [
        statement
        for document in documents
        for statement in statements(document)
        if statement.get("Effect") == "Allow" and statement_applies(statement, request)
    ]
