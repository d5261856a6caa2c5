"""`wmtui doctor` against implementations we did not write: moto's server for STS, S3, IAM and
KMS (reached through AWS_ENDPOINT_URL_<SERVICE>, as botocore reaches any endpoint), our emulator
for WorkMail. The set-up is built from `--print-setup`'s own documents, then broken one way per
test: each misconfiguration must FAIL (or WARN) on its own check with a fix that names the cure.

moto does not implement iam:SimulatePrincipalPolicy (it answers a 500 page): the doctor falls
back to reading the policies, which is what these tests exercise; the simulation path is
covered with botocore's Stubber in test_preflight.py.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest

from wmtui.aws.preflight import _Run
from wmtui.cli import main
from wmtui.core.preflight import caller_fix_policy
from wmtui.core.setup_policies import (
    PUBLIC_ACCESS_BLOCK,
    SetupTarget,
    cloudformation_template,
    setup_documents,
)
from wmtui.emulator.server import EmulatorServer

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account, and the emulator's
PREFIX = "exports/"
# What the doctor itself needs to read, granted to the admin beside what a start needs.
DOCTOR_READS = {
    "Effect": "Allow",
    "Action": [
        "iam:Get*",
        "iam:List*",
        "iam:SimulatePrincipalPolicy",
        "s3:GetBucketLocation",
        "s3:GetBucketPublicAccessBlock",
        "s3:GetAccountPublicAccessBlock",
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
    ],
    "Resource": "*",
}


def _post(url: str, body: bytes = b"") -> None:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class World:
    """A correct set-up in moto, built from the doctor's own --print-setup documents."""

    def __init__(self, emulator: EmulatorServer, moto_url: str) -> None:
        import boto3

        self.moto_url = moto_url
        self.emulator = emulator
        self.org = emulator.state.organization_ids[0]
        self.iam = boto3.client("iam", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.kms = boto3.client("kms", region_name=REGION)
        self.bucket = f"exports-{uuid.uuid4().hex[:12]}"
        self.role_name = "WorkMailExportRole"
        self.role_arn = f"arn:aws:iam::{ACCOUNT}:role/{self.role_name}"
        self.key_arn = self.kms.create_key(Description="exports")["KeyMetadata"]["Arn"]
        self.target = SetupTarget(
            REGION, ACCOUNT, self.org, self.bucket, PREFIX, self.role_arn, self.key_arn
        )
        documents = setup_documents(self.target)
        self.iam.create_role(
            RoleName=self.role_name,
            AssumeRolePolicyDocument=json.dumps(documents["role_trust_policy"]),
        )
        self.put_role_policy(documents["role_permission_policy"])
        self.kms.put_key_policy(
            KeyId=self.key_arn, PolicyName="default", Policy=json.dumps(documents["key_policy"])
        )
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_public_access_block(
            Bucket=self.bucket,
            PublicAccessBlockConfiguration=documents["bucket_public_access_block"],
        )
        self.s3.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(documents["bucket_policy"]))
        self.admin_key = self.user("admin", caller_fix_policy(self.target))

    def put_role_policy(self, document: dict[str, Any]) -> None:
        self.iam.put_role_policy(
            RoleName=self.role_name,
            PolicyName="WorkMailExport",
            PolicyDocument=json.dumps(document),
        )

    def user(self, name: str, policy: dict[str, Any] | None) -> tuple[str, str]:
        """An IAM user whose keys moto knows, allowed the doctor's reads and `policy`."""
        self.iam.create_user(UserName=name)
        statements = [DOCTOR_READS, *(policy or {}).get("Statement", [])]
        self.iam.put_user_policy(
            UserName=name,
            PolicyName="wmtui",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def args(self, **changes: str) -> list[str]:
        values = {
            "--bucket": self.bucket,
            "--prefix": PREFIX,
            "--role-arn": self.role_arn,
            "--kms-key-arn": self.key_arn,
        }
        values.update({f"--{k.replace('_', '-')}": v for k, v in changes.items()})
        org = values.pop("--org", self.org)
        flat = [item for pair in values.items() for item in pair]
        return [
            "doctor",
            org,
            "--region",
            REGION,
            "--endpoint-url",
            self.emulator.endpoint_url,
            *flat,
        ]


@pytest.fixture
def world(
    emulator: EmulatorServer, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    _post(f"{moto_url}/moto-api/reset")
    for service in ("S3", "IAM", "KMS", "STS"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", moto_url)
    # S3 Control puts the account ID in front of any endpoint's host name (a DNS lookup of
    # "123456789012.127.0.0.1"): the account-wide block is left out here, stubbed in
    # test_preflight.py instead, so nothing is asked of anything but 127.0.0.1.
    monkeypatch.setattr(_Run, "_account_blocks_public_access", lambda _self: False)
    made = World(emulator, moto_url)
    key, secret = made.admin_key
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    try:
        yield made
    finally:
        # moto's IAM enforcement, should a test have turned it on, is off again.
        _post(f"{moto_url}/moto-api/reset-auth", b"inf")


def doctor(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> tuple[int, dict[str, dict[str, str]]]:
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    assert captured.out, captured.err
    report = json.loads(captured.out)
    assert report["ok"] is (code == 0)
    return code, {check["id"]: check for check in report["checks"]}


def fails(checks: dict[str, dict[str, str]]) -> set[str]:
    return {i for i, c in checks.items() if c["status"] == "FAIL"}


# -- the set-up written by --print-setup passes -----------------------------------------------


def test_the_printed_setup_passes_every_check(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, checks = doctor(capsys, world.args())
    assert code == 0, checks
    assert {c["status"] for c in checks.values()} == {"OK"}, checks
    assert list(checks) == [
        "caller-identity",
        "organization",
        "bucket-region",
        "bucket-public-access",
        "role",
        "role-trust",
        "role-permissions",
        "key",
        "key-region",
        "key-policy",
        "caller-permissions",
        "running-exports",
    ]
    # moto has no SimulatePrincipalPolicy: the report says the policies were read instead.
    assert "by reading its policies" in checks["role-permissions"]["found"]
    assert "user/admin" in checks["caller-identity"]["found"]


def test_text_output_has_one_line_per_check_and_exit_1_on_a_failure(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.s3.delete_public_access_block(Bucket=world.bucket)
    code = main(world.args())
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    verdicts = [line for line in lines if not line.startswith("      fix:")]
    assert len(verdicts) == 12
    failed = [line for line in verdicts if line.startswith("FAIL")]
    assert len(failed) == 1 and "bucket-public-access" in failed[0]
    assert any("fix: aws s3api put-public-access-block" in line for line in lines)


def _resolved(value: Any, names: dict[str, str]) -> Any:
    """The template's Ref, Fn::Sub and Fn::GetAtt, resolved as CloudFormation would."""
    if isinstance(value, list):
        return [_resolved(item, names) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return names[value["Ref"]]
    if set(value) == {"Fn::GetAtt"}:
        return names[".".join(value["Fn::GetAtt"])]
    if set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"]
        for name, resolved in names.items():
            text = text.replace("${" + name + "}", resolved)
        assert "${" not in text, text
        return text
    return {key: _resolved(item, names) for key, item in value.items()}


def _deploy(world: World, template: dict[str, Any]) -> dict[str, str]:
    """Create the template's resources through the APIs, in dependency order.

    moto's CloudFormation cannot stand in: it stores an inline role policy as Python's repr
    of the dict (GetRolePolicy answers "{'Version': ...}") and a key policy as a dict
    (DescribeKey and GetKeyPolicy then answer 500), so the stack would fail the doctor for
    moto's reasons. Each resource's properties are used exactly as written.
    """
    resources = template["Resources"]
    names = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
    key = resources["ExportKey"]["Properties"]
    names["ExportKey.Arn"] = world.kms.create_key(
        Description=key["Description"],
        KeySpec=key["KeySpec"],
        KeyUsage=key["KeyUsage"],
        Policy=json.dumps(_resolved(key["KeyPolicy"], names)),
    )["KeyMetadata"]["Arn"]
    bucket = resources["ExportBucket"]["Properties"]
    world.s3.create_bucket(Bucket=bucket["BucketName"])
    world.s3.put_public_access_block(
        Bucket=bucket["BucketName"],
        PublicAccessBlockConfiguration=bucket["PublicAccessBlockConfiguration"],
    )
    names["ExportBucket"] = bucket["BucketName"]
    policy = resources["ExportBucketPolicy"]["Properties"]
    world.s3.put_bucket_policy(
        Bucket=_resolved(policy["Bucket"], names),
        Policy=json.dumps(_resolved(policy["PolicyDocument"], names)),
    )
    role = resources["ExportRole"]["Properties"]
    world.iam.delete_role_policy(RoleName=world.role_name, PolicyName="WorkMailExport")
    world.iam.delete_role(RoleName=world.role_name)
    names["ExportRole.Arn"] = world.iam.create_role(
        RoleName=role["RoleName"],
        AssumeRolePolicyDocument=json.dumps(_resolved(role["AssumeRolePolicyDocument"], names)),
    )["Role"]["Arn"]
    for inline in role["Policies"]:
        world.iam.put_role_policy(
            RoleName=role["RoleName"],
            PolicyName=inline["PolicyName"],
            PolicyDocument=json.dumps(_resolved(inline["PolicyDocument"], names)),
        )
    return {name: _resolved(o["Value"], names) for name, o in template["Outputs"].items()}


def test_the_cloudformation_template_passes_once_created(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = f"cfn-{uuid.uuid4().hex[:12]}"
    code = main(
        [
            "doctor", world.org, "--region", REGION, "--bucket", bucket, "--prefix", PREFIX,
            "--account", ACCOUNT, "--print-setup", "--format", "cloudformation",
        ]
    )  # fmt: skip
    assert code == 0
    outputs = _deploy(world, json.loads(capsys.readouterr().out))
    code, checks = doctor(
        capsys,
        world.args(
            bucket=outputs["Bucket"], role_arn=outputs["RoleArn"], kms_key_arn=outputs["KmsKeyArn"]
        ),
    )
    assert code == 0, json.dumps(checks, indent=1)
    assert {c["status"] for c in checks.values()} == {"OK"}
    # The key policy leaves the role to IAM (naming the role would make a cycle in the stack).
    assert "IAM policies" in checks["key-policy"]["found"]


# -- one misconfiguration each ------------------------------------------------------------------


def test_a_bucket_in_another_region_fails(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = f"west-{uuid.uuid4().hex[:12]}"
    world.s3.create_bucket(
        Bucket=elsewhere, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    world.s3.put_public_access_block(
        Bucket=elsewhere, PublicAccessBlockConfiguration=cast(Any, PUBLIC_ACCESS_BLOCK)
    )
    code, checks = doctor(capsys, world.args(bucket=elsewhere))
    assert code == 1
    assert "bucket-region" in fails(checks)
    assert "eu-west-1" in checks["bucket-region"]["found"]
    assert "create-bucket" in checks["bucket-region"]["fix"]


def test_a_missing_bucket_fails(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, checks = doctor(capsys, world.args(bucket=f"nope-{uuid.uuid4().hex[:12]}"))
    assert code == 1
    assert checks["bucket-region"]["status"] == "FAIL"
    assert "NoSuchBucket" in checks["bucket-region"]["found"]
    assert checks["bucket-public-access"]["status"] == "WARN"


def test_a_bucket_open_to_the_public_fails(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.s3.put_public_access_block(
        Bucket=world.bucket,
        PublicAccessBlockConfiguration=cast(
            Any, {**PUBLIC_ACCESS_BLOCK, "BlockPublicPolicy": False}
        ),
    )
    code, checks = doctor(capsys, world.args())
    assert code == 1
    assert fails(checks) == {"bucket-public-access"}
    assert "BlockPublicPolicy" in checks["bucket-public-access"]["found"]
    assert "BlockPublicPolicy=true" in checks["bucket-public-access"]["fix"]


def test_a_missing_role_fails(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, checks = doctor(capsys, world.args(role_arn=f"arn:aws:iam::{ACCOUNT}:role/Nope"))
    assert code == 1
    assert "role" in fails(checks)
    assert "aws iam create-role --role-name Nope" in checks["role"]["fix"]
    assert checks["role-trust"]["status"] == "WARN"


def test_a_role_workmail_may_not_assume_fails(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    world.iam.update_assume_role_policy(
        RoleName=world.role_name, PolicyDocument=json.dumps(ec2_trust)
    )
    code, checks = doctor(capsys, world.args())
    assert code == 1
    assert fails(checks) == {"role-trust"}
    assert "does not name export.workmail.amazonaws.com" in checks["role-trust"]["found"]
    fix = checks["role-trust"]["fix"]
    assert fix.startswith("aws iam update-assume-role-policy --role-name WorkMailExportRole")
    assert world.target.organization_arn in fix


def test_a_trust_for_another_organization_fails(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    other = SetupTarget(REGION, ACCOUNT, "m-" + "f" * 32, world.bucket, PREFIX, world.role_arn)
    documents = setup_documents(other)
    world.iam.update_assume_role_policy(
        RoleName=world.role_name, PolicyDocument=json.dumps(documents["role_trust_policy"])
    )
    code, checks = doctor(capsys, world.args())
    assert code == 1
    assert fails(checks) == {"role-trust"}
    assert "conditions do not match" in checks["role-trust"]["found"]


def test_a_trust_without_conditions_warns(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    trust = setup_documents(world.target)["role_trust_policy"]
    del trust["Statement"][0]["Condition"]
    world.iam.update_assume_role_policy(RoleName=world.role_name, PolicyDocument=json.dumps(trust))
    code, checks = doctor(capsys, world.args())
    assert code == 0
    assert checks["role-trust"]["status"] == "WARN"
    assert "aws:SourceArn" in checks["role-trust"]["fix"]


def test_a_role_that_cannot_write_under_the_prefix_fails(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = setup_documents(world.target)["role_permission_policy"]
    policy["Statement"][0]["Resource"] = f"arn:aws:s3:::{world.bucket}/elsewhere/*"
    world.put_role_policy(policy)
    code, checks = doctor(capsys, world.args())
    assert code == 1
    assert fails(checks) == {"role-permissions"}
    found = checks["role-permissions"]["found"]
    assert "s3:PutObject not allowed" in found and "s3:AbortMultipartUpload" in found
    assert (
        "aws iam put-role-policy --role-name WorkMailExportRole"
        in checks["role-permissions"]["fix"]
    )
    assert f"arn:aws:s3:::{world.bucket}/{PREFIX}*" in checks["role-permissions"]["fix"]


def test_a_role_without_the_key_fails_when_the_key_policy_leaves_it_to_iam(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = setup_documents(world.target)["role_permission_policy"]
    del policy["Statement"][2]
    world.put_role_policy(policy)
    root_only = setup_documents(
        SetupTarget(REGION, ACCOUNT, world.org, world.bucket, PREFIX, "", world.key_arn)
    )["key_policy"]
    world.kms.put_key_policy(
        KeyId=world.key_arn, PolicyName="default", Policy=json.dumps(root_only)
    )
    code, checks = doctor(capsys, world.args())
    assert code == 1
    assert fails(checks) == {"role-permissions", "key-policy"}
    assert "kms:GenerateDataKey not allowed" in checks["role-permissions"]["found"]
    assert "AllowWorkMailExportRole" in checks["key-policy"]["fix"]


def test_a_key_policy_that_shuts_the_role_out_fails(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    other_account_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    world.kms.put_key_policy(
        KeyId=world.key_arn, PolicyName="default", Policy=json.dumps(other_account_only)
    )
    code, checks = doctor(capsys, world.args())
    assert code == 1
    assert fails(checks) == {"key-policy"}
    fix = checks["key-policy"]["fix"]
    assert world.role_arn in fix and "kms:GenerateDataKey" in fix and "kms:ViaService" in fix


def test_a_disabled_key_fails(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.kms.disable_key(KeyId=world.key_arn.rsplit("/", 1)[1])
    code, checks = doctor(capsys, world.args())
    assert code == 1
    assert fails(checks) == {"key"}
    assert checks["key"]["fix"] == f"aws kms enable-key --key-id {world.key_arn}"


def test_an_asymmetric_key_fails(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    rsa = world.kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    code, checks = doctor(capsys, world.args(kms_key_arn=rsa["Arn"]))
    assert code == 1
    assert "key" in fails(checks)
    assert "RSA_2048" in checks["key"]["found"]
    assert "create-key" in checks["key"]["fix"]


def test_a_key_in_another_region_fails(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    west = boto3.client("kms", region_name="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    code, checks = doctor(capsys, world.args(kms_key_arn=west))
    assert code == 1
    # The key is read in its own Region, so it is found: only its Region is wrong.
    assert checks["key"]["status"] == "OK"
    assert "key-region" in fails(checks)
    assert "eu-west-1" in checks["key-region"]["found"]


def test_a_missing_key_fails(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    missing = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uuid.uuid4()}"
    code, checks = doctor(capsys, world.args(kms_key_arn=missing))
    assert code == 1
    assert "key" in fails(checks)
    assert checks["key-policy"]["status"] == "WARN"


def test_a_caller_who_may_not_pass_the_role_fails(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = caller_fix_policy(world.target)
    del policy["Statement"][0]  # the iam:PassRole statement
    key, secret = world.user("operator", policy)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    code, checks = doctor(capsys, world.args())
    assert code == 1
    assert fails(checks) == {"caller-permissions"}
    assert "user/operator may not: iam:PassRole" in checks["caller-permissions"]["found"]
    assert (
        '"iam:PassedToService":"export.workmail.amazonaws.com"'
        in (checks["caller-permissions"]["fix"])
    )


def test_an_unknown_organization_fails(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, checks = doctor(capsys, world.args(org="m-" + "e" * 32))
    assert code == 1
    assert "organization" in fails(checks)
    assert "list-organizations" in checks["organization"]["fix"]


def test_a_running_export_of_the_prefix_with_another_role_warns(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    state = world.emulator.state
    state.add_job(
        world.org,
        state.add_mailbox(world.org, "erin"),
        s3_bucket=world.bucket,
        s3_prefix=PREFIX,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/SomeoneElses",
        kms_key_arn=world.key_arn,
    )
    code, checks = doctor(capsys, world.args())
    assert code == 0
    assert checks["running-exports"]["status"] == "WARN"
    assert "SomeoneElses" in checks["running-exports"]["found"]


def test_checks_the_caller_may_not_make_warn_with_the_permission_to_add(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    world.iam.create_user(UserName="nobody")
    keys = world.iam.create_access_key(UserName="nobody")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys["SecretAccessKey"])
    # From here moto enforces IAM: "nobody" has no policy at all.
    _post(f"{world.moto_url}/moto-api/reset-auth", b"0")
    with pytest.raises(Exception, match=r"AccessDenied|not authorized"):
        boto3.client(
            "iam",
            region_name=REGION,
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
        ).get_role(RoleName=world.role_name)
    code, checks = doctor(capsys, world.args())
    assert code == 0, json.dumps(checks, indent=1)
    warned = {i: c for i, c in checks.items() if c["status"] == "WARN"}
    assert warned["role"]["fix"] == "allow iam:GetRole for your IAM identity to have this checked"
    assert "s3:GetBucketLocation" in warned["bucket-region"]["fix"]
    assert "kms:DescribeKey" in warned["key"]["fix"]
    assert "iam:ListRolePolicies" in warned["role-permissions"]["fix"]
    assert checks["caller-identity"]["status"] == "OK"


def test_no_credentials_is_a_configuration_error(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code = main(world.args())
    captured = capsys.readouterr()
    assert code == 253
    assert captured.out == ""
    assert "credentials" in captured.err


def test_print_setup_json_gives_each_document_and_command(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*world.args(), "--print-setup"])
    documents = json.loads(capsys.readouterr().out)
    assert code == 0
    assert documents["role_trust_policy"] == setup_documents(world.target)["role_trust_policy"]
    assert any("put-role-policy" in command for command in documents["commands"])
    print_cfn = cloudformation_template(world.target)
    assert print_cfn["Resources"]["ExportBucket"]["Properties"]["BucketName"] == world.bucket


def test_an_organization_that_is_not_active_fails(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    deleted = world.emulator.state.add_organization("leaving", state="Deleted", region=REGION)
    code, checks = doctor(capsys, world.args(org=deleted))
    assert code == 1
    assert "organization" in fails(checks)
    assert "is Deleted, not Active" in checks["organization"]["found"]
    # The other organization's running exports cannot be listed: a WARN, not a crash.
    assert checks["running-exports"]["status"] == "WARN"
