"""The doctor's model: what a set-up check is, its stable id, its verdict and its fix.

Pure: the facts come from `wmtui.aws.preflight` (or a test), the judgements are made here, so
the CLI (`wmtui doctor`) and the app (`n`, `E`, `D`) say the same thing in the same words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from wmtui.core.iam_policy import (
    Decision,
    PolicyRequest,
    allowing_statements,
    condition_keys,
    decide,
    principal_matches,
    statements,
)
from wmtui.core.setup_policies import (
    EXPORT_SERVICE,
    KMS_ACTIONS,
    PUBLIC_ACCESS_BLOCK,
    ROLE_POLICY_NAME,
    S3_OBJECT_ACTIONS,
    SetupTarget,
    key_policy_statement,
    role_permission_policy,
    trust_policy,
)


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


# Stable ids, in the order the checks run and print; `--json` consumers rely on them.
CALLER = "caller-identity"
ORGANIZATION = "organization"
BUCKET_REGION = "bucket-region"
BUCKET_PUBLIC_ACCESS = "bucket-public-access"
ROLE = "role"
ROLE_TRUST = "role-trust"
ROLE_PERMISSIONS = "role-permissions"
KEY = "key"
KEY_REGION = "key-region"
KEY_POLICY = "key-policy"
CALLER_PERMISSIONS = "caller-permissions"
RUNNING_EXPORTS = "running-exports"
CHECK_IDS: tuple[str, ...] = (
    CALLER,
    ORGANIZATION,
    BUCKET_REGION,
    BUCKET_PUBLIC_ACCESS,
    ROLE,
    ROLE_TRUST,
    ROLE_PERMISSIONS,
    KEY,
    KEY_REGION,
    KEY_POLICY,
    CALLER_PERMISSIONS,
    RUNNING_EXPORTS,
)


@dataclass(frozen=True)
class Check:
    """One line of the doctor: `found` may quote AWS text (display through safe_text)."""

    id: str
    status: Status
    found: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "status": self.status.value, "found": self.found, "fix": self.fix}


@dataclass(frozen=True)
class PreflightTarget:
    """What `wmtui doctor` checks: one organization and where its exports would go."""

    region: str
    organization_id: str
    bucket: str
    prefix: str
    role_arn: str
    kms_key_arn: str

    def setup(self, account: str) -> SetupTarget:
        return SetupTarget(
            region=self.region,
            account=account,
            organization_id=self.organization_id,
            bucket=self.bucket,
            prefix=self.prefix,
            role_arn=self.role_arn,
            kms_key_arn=self.kms_key_arn,
        )

    def command(self) -> str:
        """The `wmtui doctor` command line for this destination."""
        return (
            f"wmtui doctor {self.organization_id} --region {self.region} --bucket {self.bucket} "
            f"--prefix {self.prefix} --role-arn {self.role_arn} --kms-key-arn {self.kms_key_arn}"
        )


@dataclass(frozen=True)
class DoctorReport:
    target: PreflightTarget
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status is Status.FAIL]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status is Status.WARN]

    def check(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def to_json(self) -> dict[str, Any]:
        return {"checks": [c.to_json() for c in self.checks], "ok": self.ok}


class Preflight(Protocol):
    """Runs the doctor's read-only checks; raises ServiceError only when nothing can be
    checked (no credentials, no network); a missing permission is a WARN."""

    def run(self, target: PreflightTarget) -> DoctorReport: ...


def compact(document: object) -> str:
    """A policy on one line, as a shell argument in single quotes takes it."""
    return json.dumps(document, separators=(",", ":"))


def not_checked(check_id: str, why: str, fix: str = "") -> Check:
    return Check(check_id, Status.WARN, f"not checked: {why}", fix)


def missing_permission(check_id: str, action: str, what: str) -> Check:
    """A check the caller may not make: WARN, naming the permission to add."""
    return Check(
        check_id,
        Status.WARN,
        f"not checked: you may not call {action} ({what})",
        f"allow {action} for your IAM identity to have this checked",
    )


# -- the bucket -----------------------------------------------------------------------------


def bucket_region_of(location: object) -> str:
    """GetBucketLocation's LocationConstraint: None/"" is us-east-1, "EU" is eu-west-1."""
    if not location:
        return "us-east-1"
    return "eu-west-1" if location == "EU" else str(location)


def judge_bucket_region(target: PreflightTarget, bucket_region: str) -> Check:
    if bucket_region == target.region:
        return Check(BUCKET_REGION, Status.OK, f"bucket {target.bucket} is in {bucket_region}")
    return Check(
        BUCKET_REGION,
        Status.FAIL,
        f"bucket {target.bucket} is in {bucket_region}, the organization in {target.region}",
        f"use a bucket in {target.region}: aws s3api create-bucket --bucket NEW-BUCKET "
        f"--region {target.region}"
        + (
            ""
            if target.region == "us-east-1"
            else f" --create-bucket-configuration LocationConstraint={target.region}"
        ),
    )


def judge_public_access(target: PreflightTarget, configuration: Mapping[str, Any] | None) -> Check:
    fix = (
        f"aws s3api put-public-access-block --bucket {target.bucket} "
        "--public-access-block-configuration "
        + ",".join(f"{name}=true" for name in PUBLIC_ACCESS_BLOCK)
    )
    if configuration is None:
        return Check(
            BUCKET_PUBLIC_ACCESS,
            Status.FAIL,
            f"bucket {target.bucket} has no Block Public Access configuration",
            fix,
        )
    off = [name for name in PUBLIC_ACCESS_BLOCK if configuration.get(name) is not True]
    if off:
        return Check(
            BUCKET_PUBLIC_ACCESS,
            Status.FAIL,
            f"bucket {target.bucket} does not block public access: {', '.join(off)} off",
            fix,
        )
    return Check(BUCKET_PUBLIC_ACCESS, Status.OK, f"bucket {target.bucket} blocks public access")


# -- the role -------------------------------------------------------------------------------


def _trust_fix(setup: SetupTarget) -> str:
    return (
        f"aws iam update-assume-role-policy --role-name {setup.role_name} "
        f"--policy-document '{compact(trust_policy(setup))}'"
    )


def judge_trust(setup: SetupTarget, document: Mapping[str, Any]) -> Check:
    """Whether WorkMail's export service may assume the role for this organization."""
    principal = ("Service", EXPORT_SERVICE)
    request = PolicyRequest(
        "sts:AssumeRole",
        principal=principal,
        context={
            "aws:SourceAccount": setup.account,
            "aws:SourceArn": setup.organization_arn,
            "sts:ExternalId": setup.organization_id,
        },
    )
    verdict = decide([document], request)
    if verdict is Decision.ALLOWED:
        allowing = allowing_statements([document], request)
        keys = set().union(*(condition_keys(s) for s in allowing))
        if all(condition_keys(s) & {"aws:sourceaccount", "aws:sourcearn"} for s in allowing):
            return Check(
                ROLE_TRUST,
                Status.OK,
                f"{EXPORT_SERVICE} may assume the role, only for this account/organization",
            )
        if all(condition_keys(s) for s in allowing) and "sts:externalid" in keys:
            return Check(
                ROLE_TRUST,
                Status.WARN,
                "the trust policy uses sts:ExternalId (older guides); aws:SourceArn is current",
                _trust_fix(setup),
            )
        return Check(
            ROLE_TRUST,
            Status.WARN,
            f"{EXPORT_SERVICE} may assume the role with no aws:SourceAccount/aws:SourceArn "
            "condition: any account's WorkMail could use it",
            _trust_fix(setup),
        )
    trusting = [
        s for s in statements(document) if principal_matches(s, principal, None) is not None
    ]
    if verdict is Decision.EXPLICIT_DENY:
        found = f"the trust policy denies sts:AssumeRole to {EXPORT_SERVICE}"
    elif not trusting:
        found = f"the trust policy does not name {EXPORT_SERVICE}: WorkMail cannot assume it"
    else:
        found = (
            f"the trust policy names {EXPORT_SERVICE} but its conditions do not match account "
            f"{setup.account} / {setup.organization_arn}"
        )
    return Check(ROLE_TRUST, Status.FAIL, found, _trust_fix(setup))


def sample_object_arn(setup: SetupTarget) -> str:
    """An object an export of the prefix would write, to ask about: the prefix, a slash, the
    job's .zip (as S3Path reads), so a policy on `prefix*` and one on `prefix/*` both match."""
    head = setup.prefix.rstrip("/")
    return f"arn:aws:s3:::{setup.bucket}/{head + '/' if head else ''}export.zip"


def kms_context(setup: SetupTarget) -> dict[str, str]:
    """What S3 tells KMS when it encrypts an export's object."""
    return {
        "kms:ViaService": setup.via_s3,
        "kms:EncryptionContext:aws:s3:arn": sample_object_arn(setup),
        "kms:CallerAccount": setup.account,
    }


def role_requests(setup: SetupTarget) -> list[PolicyRequest]:
    """What the role must be allowed to do, one request per action."""
    objects = sample_object_arn(setup)
    requests = [PolicyRequest(action, objects) for action in S3_OBJECT_ACTIONS]
    requests.append(PolicyRequest("s3:GetBucketPolicyStatus", setup.bucket_arn))
    requests += [
        PolicyRequest(action, setup.kms_key_arn, kms_context(setup)) for action in KMS_ACTIONS
    ]
    return requests


def judge_role_permissions(
    setup: SetupTarget,
    decisions: Mapping[str, Decision],
    method: str,
    *,
    key_grants_role: bool,
) -> Check:
    """`decisions`: action -> what the role's policies say. KMS actions the key policy grants
    the role by name need nothing from IAM."""
    missing = []
    for action, decision in decisions.items():
        if decision is Decision.ALLOWED:
            continue
        if action in KMS_ACTIONS and key_grants_role and decision is Decision.IMPLICIT_DENY:
            continue
        word = "denied" if decision is Decision.EXPLICIT_DENY else "not allowed"
        missing.append(f"{action} {word}")
    if not missing:
        return Check(
            ROLE_PERMISSIONS,
            Status.OK,
            f"the role may write under s3://{setup.bucket}/{setup.prefix} and use the key "
            f"(checked {method})",
        )
    return Check(
        ROLE_PERMISSIONS,
        Status.FAIL,
        f"the role lacks: {'; '.join(missing)} (checked {method})",
        f"aws iam put-role-policy --role-name {setup.role_name} --policy-name "
        f"{ROLE_POLICY_NAME} --policy-document '{compact(role_permission_policy(setup))}'"
        + ("; and remove the Deny statements" if "denied" in " ".join(missing) else ""),
    )


def role_decisions(
    setup: SetupTarget, documents: Sequence[Mapping[str, Any]]
) -> dict[str, Decision]:
    return {request.action: decide(documents, request) for request in role_requests(setup)}


# -- the key --------------------------------------------------------------------------------


def region_of_arn(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 4 else ""


def judge_key(target: PreflightTarget, metadata: Mapping[str, Any]) -> Check:
    """Enabled, symmetric, customer managed: what StartMailboxExportJob needs of the key."""
    state = metadata.get("KeyState") or ("Enabled" if metadata.get("Enabled") else "Disabled")
    problems = [] if state == "Enabled" else [f"it is {state}"]
    spec = metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec")
    if spec and spec != "SYMMETRIC_DEFAULT":
        problems.append(f"it is {spec}, not SYMMETRIC_DEFAULT")
    if metadata.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        problems.append(f"its usage is {metadata.get('KeyUsage')}")
    if metadata.get("KeyManager", "CUSTOMER") != "CUSTOMER":
        problems.append("it is AWS managed (its policy cannot let the role use it)")
    if not problems:
        return Check(KEY, Status.OK, "the key is enabled, symmetric and customer managed")
    if problems == ["it is Disabled"]:
        # Only switched off: turning it on again is the whole fix.
        fix = f"aws kms enable-key --key-id {target.kms_key_arn}"
    else:
        fix = (
            f"create a symmetric customer-managed key: aws kms create-key --region "
            f"{target.region} (or wmtui doctor ... --print-setup)"
        )
    return Check(KEY, Status.FAIL, "the key cannot be used: " + "; ".join(problems), fix)


def judge_key_region(target: PreflightTarget) -> Check:
    key_region = region_of_arn(target.kms_key_arn)
    if key_region == target.region:
        return Check(KEY_REGION, Status.OK, f"the key is in {key_region}")
    return Check(
        KEY_REGION,
        Status.FAIL,
        f"the key is in {key_region or 'no Region'}, the organization in {target.region}",
        f"use a key in {target.region}: aws kms create-key --region {target.region}",
    )


def key_policy_grants(setup: SetupTarget, document: Mapping[str, Any]) -> tuple[bool, bool]:
    """(names the role for every action, hands the decision to the account's IAM policies)."""
    direct = account = True
    principal = ("AWS", setup.role_arn)
    for action in KMS_ACTIONS:
        request = PolicyRequest(
            action, "*", kms_context(setup), principal=principal, account=setup.account
        )
        if decide([document], request) is not Decision.ALLOWED:
            return False, False
        ways = {
            principal_matches(s, principal, setup.account)
            for s in allowing_statements([document], request)
        }
        direct = direct and bool(ways & {"direct", "anyone"})
        account = account and "account" in ways
    return direct, account


def judge_key_policy(
    setup: SetupTarget, document: Mapping[str, Any], *, role_iam_allows_kms: bool | None
) -> Check:
    direct, account = key_policy_grants(setup, document)
    fix = (
        f"add this statement to the key policy (aws kms get-key-policy --key-id "
        f"{setup.kms_key_arn} --policy-name default, then put-key-policy): "
        + compact(key_policy_statement(setup))
    )
    if direct:
        return Check(KEY_POLICY, Status.OK, "the key policy lets the role use the key")
    if account:
        if role_iam_allows_kms is False:
            return Check(
                KEY_POLICY,
                Status.FAIL,
                "the key policy leaves the role to IAM, and the role's policies do not allow "
                "kms:Decrypt and kms:GenerateDataKey: either this statement or the role-"
                "permissions fix is enough",
                fix,
            )
        return Check(
            KEY_POLICY,
            Status.OK,
            "the key policy lets the account's IAM policies grant use; the role's do",
        )
    return Check(KEY_POLICY, Status.FAIL, "the key policy does not let the role use the key", fix)


# -- the caller -----------------------------------------------------------------------------


def caller_requests(setup: SetupTarget) -> list[PolicyRequest]:
    return [
        PolicyRequest("iam:PassRole", setup.role_arn, {"iam:PassedToService": EXPORT_SERVICE}),
        PolicyRequest("workmail:StartMailboxExportJob", setup.organization_arn),
    ]


def caller_fix_policy(setup: SetupTarget) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": setup.role_arn,
                "Condition": {"StringEquals": {"iam:PassedToService": EXPORT_SERVICE}},
            },
            {
                "Effect": "Allow",
                "Action": "workmail:StartMailboxExportJob",
                "Resource": setup.organization_arn,
            },
        ],
    }


def judge_caller_permissions(
    setup: SetupTarget, caller_arn: str, decisions: Mapping[str, Decision], method: str
) -> Check:
    missing = [action for action, d in decisions.items() if d is not Decision.ALLOWED]
    if not missing:
        return Check(
            CALLER_PERMISSIONS,
            Status.OK,
            f"you may pass the role to WorkMail and start exports (checked {method})",
        )
    return Check(
        CALLER_PERMISSIONS,
        Status.FAIL,
        f"{caller_arn} may not: {', '.join(missing)} (checked {method})",
        f"attach to {caller_arn} a policy like: {compact(caller_fix_policy(setup))}",
    )


# -- running exports ------------------------------------------------------------------------


def judge_running(target: PreflightTarget, others: Sequence[tuple[str, str]]) -> Check:
    """`others`: (job id, role ARN) of RUNNING exports to the same bucket and prefix."""
    strangers = [(job, role) for job, role in others if role and role != target.role_arn]
    if not strangers:
        return Check(
            RUNNING_EXPORTS,
            Status.OK,
            f"no running export writes to s3://{target.bucket}/{target.prefix} with another role",
        )
    job, role = strangers[0]
    return Check(
        RUNNING_EXPORTS,
        Status.WARN,
        f"{len(strangers)} running export(s) write to s3://{target.bucket}/{target.prefix} with "
        f"another role (job {job}: {role})",
        "use the same role for one prefix, or another prefix for this set-up",
    )


def report_lines(report: DoctorReport) -> list[str]:
    """The text form: one line per check, its fix indented under it."""
    lines = []
    for check in report.checks:
        lines.append(f"{check.status.value:<4}  {check.id:<20}  {check.found}")
        if check.fix and check.status is not Status.OK:
            lines.append(f"      fix: {check.fix}")
    return lines


# -- a FAILED job's ErrorInfo ----------------------------------------------------------------

# (words that all appear in the ErrorInfo, lower-cased) -> the set-up problem they point at.
_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("public",), "the bucket allows public access (check bucket-public-access)"),
    (("region",), "the bucket or the key is not in the organization's Region"),
    (("assume",), "WorkMail could not assume the role: its trust policy (check role-trust)"),
    (("trust",), "WorkMail could not assume the role: its trust policy (check role-trust)"),
    (("kms",), "the role may not use the KMS key: the key policy or the role's policy"),
    (("key",), "the KMS key: disabled, not symmetric, or its policy shuts the role out"),
    (("s3", "denied"), "the role may not write under the prefix (check role-permissions)"),
    (("bucket",), "the bucket: missing, in another Region, or not writable by the role"),
    (("role",), "the role: missing, not assumable, or without the permissions an export needs"),
)


def likely_setup_cause(error_info: str | None) -> str | None:
    """The set-up problem a FAILED job's ErrorInfo points at, or None (not a set-up problem)."""
    text = (error_info or "").lower()
    if not text:
        return None
    for words, cause in _CAUSES:
        if all(word in text for word in words):
            return cause
    return None


def doctor_command(
    region: str,
    organization_id: str,
    bucket: str | None,
    prefix: str | None,
    role_arn: str | None,
    kms_key_arn: str | None,
) -> str:
    """The `wmtui doctor` command for a job's destination; what is unknown stays a placeholder."""
    return PreflightTarget(
        region,
        organization_id,
        bucket or "BUCKET",
        prefix or "PREFIX",
        role_arn or "ROLE_ARN",
        kms_key_arn or "KMS_KEY_ARN",
    ).command()
