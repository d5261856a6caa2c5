"""The doctor's read-only AWS calls, each failure sorted: denied, missing, or fatal.

A call the caller may not make raises `Denied` (the check becomes a WARN naming the
permission); a call whose thing is missing raises `Missing` with the service's code; what
stops every check (no credentials, no network) raises `ServiceError`, as the other commands do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

from wmtui.aws.errors import cap, to_service_error
from wmtui.core.iam_policy import Decision, PolicyRequest, load_document
from wmtui.core.service import ErrorKind

T = TypeVar("T")

DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "AuthorizationError",
    }
)
# Errors that stop the whole doctor: nothing else could be checked either.
FATAL_KINDS = frozenset(
    {
        ErrorKind.NO_CREDENTIALS,
        ErrorKind.NO_REGION,
        ErrorKind.UNKNOWN_PROFILE,
        ErrorKind.SSO_TOKEN,
        ErrorKind.EXPIRED_TOKEN,
        ErrorKind.UNREACHABLE,
        ErrorKind.TIMEOUT,
    }
)


class Denied(Exception):
    """The caller may not make this call: `action` is the permission to add."""

    def __init__(self, action: str) -> None:
        self.action = action
        super().__init__(action)


class Missing(Exception):
    """The service answered with an error about the thing asked for (NoSuchEntity, ...)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class Unsupported(Exception):
    """The call failed for another reason (not implemented here, a bad answer): say it."""


def attempt(action: str, call: Callable[[], T], *, profile: str | None = None) -> T:
    """Make one call, sorting any failure into Denied, Missing, Unsupported or ServiceError."""
    from botocore import exceptions as bx
    from botocore.parsers import ResponseParserError

    try:
        return call()
    except ResponseParserError as exc:
        # An answer that is not the service's format (an emulator's 500 page, a proxy's).
        raise Unsupported(f"{action} failed: the answer could not be read") from exc
    except bx.ClientError as exc:
        response: dict[str, Any] = dict(exc.response or {})
        error_info = response.get("Error") or {}
        code = str(error_info.get("Code") or "")
        error = to_service_error(exc, action, profile=profile)
        if error.kind in FATAL_KINDS:
            raise error from exc
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        # A 403 whose body could not be read as the service's error is a refusal too.
        if code in DENIED_CODES or status == 403:
            raise Denied(action) from exc
        if (isinstance(status, int) and status >= 500) or code in ("NotImplemented", ""):
            raise Unsupported(f"{action} failed: {cap(code or status, 80)}") from exc
        raise Missing(code, cap(error_info.get("Message") or "", 200)) from exc
    except bx.BotoCoreError as exc:
        error = to_service_error(exc, action, profile=profile)
        if error.kind in FATAL_KINDS:
            raise error from exc
        raise Unsupported(f"{action} failed: {cap(error.message, 160)}") from exc


def _listed(call: Callable[..., Mapping[str, Any]], key: str, **params: Any) -> list[Any]:
    """Every item of a Marker/IsTruncated-paged IAM list (bounded)."""
    items: list[Any] = []
    marker: str | None = None
    for _page in range(100):
        answer = call(**params, **({"Marker": marker} if marker else {}))
        items += answer.get(key) or []
        marker = answer.get("Marker")
        if not answer.get("IsTruncated") or not marker:
            break
    return items


def _document(answer: Mapping[str, Any], *path: str) -> dict[str, Any]:
    value: Any = answer
    for name in path:
        value = value.get(name) if isinstance(value, Mapping) else None
    return load_document(value)


def _managed_documents(iam: Any, attached: list[Any]) -> list[dict[str, Any]]:
    documents = []
    for item in attached:
        arn = item.get("PolicyArn")
        policy = attempt("iam:GetPolicy", partial(iam.get_policy, PolicyArn=arn))
        version = (policy.get("Policy") or {}).get("DefaultVersionId")
        answer = attempt(
            "iam:GetPolicyVersion",
            partial(iam.get_policy_version, PolicyArn=arn, VersionId=version),
        )
        documents.append(_document(answer, "PolicyVersion", "Document"))
    return documents


def role_documents(iam: Any, role_name: str) -> list[dict[str, Any]]:
    """The role's inline and attached managed policies, as documents."""
    names = attempt(
        "iam:ListRolePolicies",
        partial(_listed, iam.list_role_policies, "PolicyNames", RoleName=role_name),
    )
    documents = [
        _document(
            attempt(
                "iam:GetRolePolicy",
                partial(iam.get_role_policy, RoleName=role_name, PolicyName=name),
            ),
            "PolicyDocument",
        )
        for name in names
    ]
    attached = attempt(
        "iam:ListAttachedRolePolicies",
        partial(_listed, iam.list_attached_role_policies, "AttachedPolicies", RoleName=role_name),
    )
    return documents + _managed_documents(iam, attached)


def _group_documents(iam: Any, group_name: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """A group's inline documents and its attached managed policies."""
    names = attempt(
        "iam:ListGroupPolicies",
        partial(_listed, iam.list_group_policies, "PolicyNames", GroupName=group_name),
    )
    documents = [
        _document(
            attempt(
                "iam:GetGroupPolicy",
                partial(iam.get_group_policy, GroupName=group_name, PolicyName=name),
            ),
            "PolicyDocument",
        )
        for name in names
    ]
    attached = attempt(
        "iam:ListAttachedGroupPolicies",
        partial(
            _listed, iam.list_attached_group_policies, "AttachedPolicies", GroupName=group_name
        ),
    )
    return documents, attached


def user_documents(iam: Any, user_name: str) -> list[dict[str, Any]]:
    """The user's inline and managed policies, and those of its groups."""
    names = attempt(
        "iam:ListUserPolicies",
        partial(_listed, iam.list_user_policies, "PolicyNames", UserName=user_name),
    )
    documents = [
        _document(
            attempt(
                "iam:GetUserPolicy",
                partial(iam.get_user_policy, UserName=user_name, PolicyName=name),
            ),
            "PolicyDocument",
        )
        for name in names
    ]
    attached = attempt(
        "iam:ListAttachedUserPolicies",
        partial(_listed, iam.list_attached_user_policies, "AttachedPolicies", UserName=user_name),
    )
    groups = attempt(
        "iam:ListGroupsForUser",
        partial(_listed, iam.list_groups_for_user, "Groups", UserName=user_name),
    )
    for group in groups:
        inline, managed = _group_documents(iam, str(group.get("GroupName") or ""))
        documents += inline
        attached += managed
    return documents + _managed_documents(iam, attached)


def simulate(iam: Any, source_arn: str, requests: list[PolicyRequest]) -> dict[str, Decision]:
    """iam:SimulatePrincipalPolicy, one call per request (each has its resource and context)."""
    decisions: dict[str, Decision] = {}
    for request in requests:
        entries = [
            {"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}
            for key, value in request.context.items()
        ]
        answer = attempt(
            "iam:SimulatePrincipalPolicy",
            partial(
                iam.simulate_principal_policy,
                PolicySourceArn=source_arn,
                ActionNames=[request.action],
                ResourceArns=[request.resource],
                ContextEntries=entries,
            ),
        )
        results = answer.get("EvaluationResults") or []
        word = str(results[0].get("EvalDecision") or "") if results else ""
        try:
            decisions[request.action] = Decision(word)
        except ValueError:
            raise Unsupported(f"iam:SimulatePrincipalPolicy answered {cap(word, 40)!r}") from None
    return decisions
