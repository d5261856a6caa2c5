"""The doctor's judgements, its policy reader, and the SimulatePrincipalPolicy path.

moto does not implement iam:SimulatePrincipalPolicy, so the one place the doctor uses it is
covered here with botocore's Stubber, at the narrowest point: `simulate()` and the choice
between simulating and reading the policies.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from wmtui.core.iam_policy import Decision, PolicyRequest, decide, load_document
from wmtui.core.preflight import (
    CHECK_IDS,
    Check,
    DoctorReport,
    PreflightTarget,
    Status,
    judge_key,
    judge_key_policy,
    judge_trust,
    key_policy_grants,
    report_lines,
    role_decisions,
)
from wmtui.core.setup_policies import SetupTarget, setup_documents

ORG = "m-" + "a" * 32
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Export"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SETUP = SetupTarget("us-east-1", ACCOUNT, ORG, "exports-bucket", "wm/", ROLE, KEY)


def test_an_explicit_deny_beats_an_allow() -> None:
    allow = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    deny = {
        "Statement": {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}
    }
    request = PolicyRequest("s3:PutObject", "arn:aws:s3:::b/x")
    assert decide([allow], request) is Decision.ALLOWED
    assert decide([allow, deny], request) is Decision.EXPLICIT_DENY
    assert decide([], request) is Decision.IMPLICIT_DENY


def test_actions_ignore_case_and_resources_do_not() -> None:
    policy = {
        "Statement": [{"Effect": "Allow", "Action": "S3:Put*", "Resource": "arn:aws:s3:::B/*"}]
    }
    assert decide([policy], PolicyRequest("s3:PutObject", "arn:aws:s3:::B/k")) is Decision.ALLOWED
    assert decide([policy], PolicyRequest("s3:PutObject", "arn:aws:s3:::b/k")) is (
        Decision.IMPLICIT_DENY
    )


def test_a_condition_on_a_missing_key_does_not_allow_and_an_unknown_operator_never_does() -> None:
    statement = {
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    }
    assert decide([{"Statement": [statement]}], PolicyRequest("kms:Decrypt")) is (
        Decision.IMPLICIT_DENY
    )
    odd = {**statement, "Condition": {"NumericLessThan": {"kms:ViaService": "3"}}}
    context = {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    assert decide([{"Statement": [odd]}], PolicyRequest("kms:Decrypt", "*", context)) is (
        Decision.IMPLICIT_DENY
    )


def test_a_url_encoded_document_is_read() -> None:
    encoded = "%7B%22Statement%22%3A%5B%5D%7D"
    assert load_document(encoded) == {"Statement": []}
    assert load_document("not json") == {}


def test_the_printed_documents_pass_the_judgements() -> None:
    documents = setup_documents(SETUP)
    assert judge_trust(SETUP, documents["role_trust_policy"]).status is Status.OK
    decisions = role_decisions(SETUP, [documents["role_permission_policy"]])
    assert set(decisions.values()) == {Decision.ALLOWED}
    assert key_policy_grants(SETUP, documents["key_policy"]) == (True, True)
    check = judge_key_policy(SETUP, documents["key_policy"], role_iam_allows_kms=True)
    assert check.status is Status.OK


def test_a_key_statement_for_another_prefix_does_not_grant() -> None:
    other = SetupTarget("us-east-1", ACCOUNT, ORG, "exports-bucket", "other/", ROLE, KEY)
    policy = {"Statement": [setup_documents(other)["key_policy_statement"]]}
    assert key_policy_grants(SETUP, policy) == (False, False)
    assert judge_key_policy(SETUP, policy, role_iam_allows_kms=None).status is Status.FAIL


def test_a_trust_with_only_the_older_external_id_warns() -> None:
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "export.workmail.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": ORG}},
            }
        ]
    }
    check = judge_trust(SETUP, trust)
    assert check.status is Status.WARN
    assert "sts:ExternalId" in check.found


@pytest.mark.parametrize(
    ("metadata", "found", "fix"),
    [
        ({"KeyState": "Disabled", "Enabled": False}, "Disabled", "enable-key"),
        ({"KeyState": "PendingDeletion", "Enabled": False}, "PendingDeletion", "create-key"),
        ({"KeyState": "Enabled", "KeyManager": "AWS"}, "AWS managed", "create-key"),
        ({"KeyState": "Enabled", "KeySpec": "ECC_NIST_P256"}, "ECC_NIST_P256", "create-key"),
    ],
)
def test_a_key_that_cannot_encrypt_exports_fails(
    metadata: dict[str, Any], found: str, fix: str
) -> None:
    target = PreflightTarget("us-east-1", ORG, "exports-bucket", "wm/", ROLE, KEY)
    check = judge_key(target, metadata)
    assert check.status is Status.FAIL
    assert found in check.found and fix in check.fix


def test_the_report_is_ok_without_failures_and_prints_fixes_under_lines() -> None:
    target = PreflightTarget("us-east-1", ORG, "exports-bucket", "wm/", ROLE, KEY)
    report = DoctorReport(
        target,
        (
            Check("caller-identity", Status.OK, "you"),
            Check("role", Status.WARN, "not checked", "allow iam:GetRole"),
        ),
    )
    assert report.ok
    assert report_lines(report) == [
        "OK    caller-identity       you",
        "WARN  role                  not checked",
        "      fix: allow iam:GetRole",
    ]
    assert report.to_json()["checks"][1] == {
        "id": "role",
        "status": "WARN",
        "found": "not checked",
        "fix": "allow iam:GetRole",
    }
    assert len(set(CHECK_IDS)) == len(CHECK_IDS) == 12


# -- iam:SimulatePrincipalPolicy, which moto does not implement ------------------------------


def _stubbed_iam() -> Any:
    import boto3

    return boto3.client(
        "iam",
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        endpoint_url="http://127.0.0.1:9",
    )


def test_simulation_answers_are_used_when_allowed() -> None:
    from botocore.stub import ANY, Stubber

    from wmtui.aws.preflight_calls import simulate
    from wmtui.core.preflight import role_requests

    iam = _stubbed_iam()
    requests = role_requests(SETUP)
    with Stubber(iam) as stub:
        for request in requests:
            decision = "explicitDeny" if request.action == "kms:Decrypt" else "allowed"
            stub.add_response(
                "simulate_principal_policy",
                {
                    "EvaluationResults": [
                        {"EvalActionName": request.action, "EvalDecision": decision}
                    ]
                },
                {
                    "PolicySourceArn": ROLE,
                    "ActionNames": [request.action],
                    "ResourceArns": [request.resource],
                    "ContextEntries": ANY,
                },
            )
        decisions = simulate(iam, ROLE, requests)
    assert decisions["kms:Decrypt"] is Decision.EXPLICIT_DENY
    assert decisions["s3:PutObject"] is Decision.ALLOWED


def test_a_denied_simulation_falls_back_to_reading_the_policies() -> None:
    from botocore.stub import Stubber

    from wmtui.aws.preflight import _Run
    from wmtui.core.preflight import role_requests

    iam = _stubbed_iam()
    target = PreflightTarget("us-east-1", ORG, "exports-bucket", "wm/", ROLE, KEY)
    run = _Run(target, lambda *_: iam, None, None)
    documents = setup_documents(SETUP)
    with Stubber(iam) as stub:
        stub.add_client_error(
            "simulate_principal_policy", "AccessDenied", "not authorized", http_status_code=403
        )
        decisions, method = run._decisions(
            ROLE, role_requests(SETUP), lambda: [documents["role_permission_policy"]]
        )
    assert set(decisions.values()) == {Decision.ALLOWED}
    assert method == ("by reading its policies; iam:SimulatePrincipalPolicy is not allowed")
    assert json.dumps(documents)  # the documents are plain JSON


# -- a FAILED job's ErrorInfo, and the command line's refusals --------------------------------


@pytest.mark.parametrize(
    ("error_info", "cause"),
    [
        ("The role could not be assumed by export.workmail.amazonaws.com.", "trust policy"),
        ("Unable to use the KMS key: kms:GenerateDataKey was denied", "KMS key"),
        ("Unable to write to the S3 bucket: Access Denied.", "may not write under the prefix"),
        ("The S3 bucket policy allows public access.", "public access"),
        ("Internal error while reading the mailbox. Start the export again.", None),
        (None, None),
    ],
)
def test_an_error_info_names_its_likely_setup_cause(
    error_info: str | None, cause: str | None
) -> None:
    from wmtui.core.preflight import likely_setup_cause

    found = likely_setup_cause(error_info)
    if cause is None:
        assert found is None
    else:
        assert found is not None and cause in found


def test_doctor_without_the_role_or_key_is_a_bad_parameter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from wmtui.cli import main

    base = ["doctor", ORG, "--region", "us-east-1", "--bucket", "exports-bucket", "--prefix", "p/"]
    assert main(base) == 252
    assert "need --role-arn and --kms-key-arn" in capsys.readouterr().err
    assert main([*base, "--print-setup"]) == 252
    assert "--format cloudformation" in capsys.readouterr().err
    # A template needs the account; none of the ARNs that would carry it was given.
    assert main([*base, "--print-setup", "--format", "cloudformation"]) == 252
    assert "--account" in capsys.readouterr().err


def test_print_setup_makes_no_call_and_writes_a_template(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from wmtui.cli import main

    # No credentials and no endpoint at all: nothing is called.
    code = main(
        [
            "doctor", ORG, "--region", "eu-west-1", "--bucket", "exports-bucket", "--prefix",
            "p/", "--role-arn", ROLE, "--print-setup", "--format", "cloudformation",
        ]
    )  # fmt: skip
    template = json.loads(capsys.readouterr().out)
    assert code == 0
    role = template["Resources"]["ExportRole"]["Properties"]
    assert role["RoleName"] == "Export"
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "export.workmail.amazonaws.com"}
    key = template["Resources"]["ExportKey"]["Properties"]
    assert key["KeySpec"] == "SYMMETRIC_DEFAULT"
    bucket = template["Resources"]["ExportBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())


@pytest.mark.parametrize("resource_prefix", ["wm*", "wm/*"])
def test_a_role_policy_on_the_prefix_with_or_without_its_slash_passes(
    resource_prefix: str,
) -> None:
    for prefix in ("wm", "wm/"):
        setup = SetupTarget("us-east-1", ACCOUNT, ORG, "exports-bucket", prefix, ROLE, KEY)
        policy = setup_documents(setup)["role_permission_policy"]
        for statement in policy["Statement"]:
            if statement["Sid"] == "WriteExportsUnderThePrefix":
                statement["Resource"] = f"arn:aws:s3:::exports-bucket/{resource_prefix}"
            condition = statement.get("Condition", {}).get("StringLike")
            if condition:
                condition["kms:EncryptionContext:aws:s3:arn"] = (
                    f"arn:aws:s3:::exports-bucket/{resource_prefix}"
                )
        decisions = role_decisions(setup, [policy])
        assert set(decisions.values()) == {Decision.ALLOWED}, (prefix, decisions)


def test_an_account_wide_public_access_block_covers_a_bucket_without_its_own() -> None:
    """moto's S3 Control cannot be reached on 127.0.0.1 (botocore puts the account ID in front
    of the host name), so the account-wide setting is stubbed."""
    import boto3
    from botocore.stub import Stubber

    from wmtui.aws.preflight import _Run
    from wmtui.core.setup_policies import PUBLIC_ACCESS_BLOCK

    def client(name: str, region: str | None = None) -> Any:
        return boto3.client(
            name,
            region_name="us-east-1",
            aws_access_key_id="AKIDTEST",
            aws_secret_access_key="secret",
            endpoint_url="http://127.0.0.1:9",
        )

    s3, control = client("s3"), client("s3control")
    target = PreflightTarget("us-east-1", ORG, "exports-bucket", "wm/", ROLE, KEY)
    run = _Run(target, lambda name, *_: {"s3": s3, "s3control": control}.get(name, s3), None, None)
    run.account = ACCOUNT
    with Stubber(s3) as s3_stub, Stubber(control) as control_stub:
        s3_stub.add_client_error(
            "get_public_access_block", "NoSuchPublicAccessBlockConfiguration", http_status_code=404
        )
        control_stub.add_response(
            "get_public_access_block",
            {"PublicAccessBlockConfiguration": dict(PUBLIC_ACCESS_BLOCK)},
            {"AccountId": ACCOUNT},
        )
        run._public_access()
    check = run.checks["bucket-public-access"]
    assert check.status is Status.OK
    assert "account's Block Public Access" in check.found


def test_the_app_gets_a_doctor_only_against_real_aws(tmp_path: Any) -> None:
    """The demo and an emulator endpoint have no IAM, S3 or KMS of their own to check."""
    from dataclasses import replace

    from wmtui.aws.preflight import Boto3Preflight
    from wmtui.core.settings import Settings
    from wmtui.factory import make_preflight, open_backend

    settings = Settings(
        config_dir=tmp_path / "c",
        cache_dir=tmp_path / "k",
        data_dir=tmp_path / "d",
        region="us-east-1",
    )
    with open_backend(settings) as backend:
        # Each organization's profile's checks, the default profile's first of all.
        assert isinstance(make_preflight(backend, in_app=True).default, Boto3Preflight)
        assert isinstance(make_preflight(backend).default, Boto3Preflight)
    emulated = replace(settings, endpoint_url="http://127.0.0.1:9")
    with open_backend(emulated) as backend:
        assert make_preflight(backend, in_app=True) is None
        # `wmtui doctor --endpoint-url`: WorkMail there, the rest where botocore sends it.
        assert isinstance(make_preflight(backend).default, Boto3Preflight)
    with open_backend(replace(settings, demo=True)) as backend:
        assert make_preflight(backend) is None
        assert make_preflight(backend, in_app=True) is None
