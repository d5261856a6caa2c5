"""The least-privilege set-up a mailbox export needs, as IAM/KMS/S3 policy documents and as
one CloudFormation template (JSON, which CloudFormation reads as well as YAML).

Written from AWS's admin guide for mailbox export: a role that `export.workmail.amazonaws.com`
may assume for this account and organization only; s3:PutObject and s3:AbortMultipartUpload
under the prefix, s3:GetBucketPolicyStatus on the bucket; kms:Decrypt and kms:GenerateDataKey
on the key only through S3 in the organization's Region and only for objects under the prefix;
a bucket that blocks public access and refuses plain HTTP. The doctor's checks pass on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXPORT_SERVICE",
    "KMS_ACTIONS",
    "S3_OBJECT_ACTIONS",
    "SetupTarget",
    "bucket_policy",
    "cloudformation_template",
    "key_policy",
    "key_policy_statement",
    "role_permission_policy",
    "setup_documents",
    "trust_policy",
]

EXPORT_SERVICE = "export.workmail.amazonaws.com"
POLICY_VERSION = "2012-10-17"
S3_OBJECT_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload")
S3_BUCKET_ACTIONS = ("s3:GetBucketPolicyStatus",)
KMS_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
DEFAULT_ROLE_NAME = "WorkMailExportRole"
ROLE_POLICY_NAME = "WorkMailExport"


@dataclass(frozen=True)
class SetupTarget:
    """Where an organization's exports go: what the policies are written for."""

    region: str
    account: str
    organization_id: str
    bucket: str
    prefix: str
    role_arn: str = ""
    kms_key_arn: str = ""

    @property
    def organization_arn(self) -> str:
        return f"arn:aws:workmail:{self.region}:{self.account}:organization/{self.organization_id}"

    @property
    def bucket_arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}"

    @property
    def objects_arn(self) -> str:
        """Every object an export of this prefix may write."""
        return f"arn:aws:s3:::{self.bucket}/{self.prefix}*"

    @property
    def via_s3(self) -> str:
        return f"s3.{self.region}.amazonaws.com"

    @property
    def role_name(self) -> str:
        """The role's name from its ARN (after any path), else the template's default."""
        if self.role_arn and ":role/" in self.role_arn:
            return self.role_arn.rsplit("/", 1)[-1]
        return DEFAULT_ROLE_NAME


def _kms_condition(target: SetupTarget, objects: Any = None) -> dict[str, Any]:
    return {
        "StringEquals": {"kms:ViaService": target.via_s3},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": objects or target.objects_arn},
    }


def trust_policy(target: SetupTarget, organization_arn: Any = None) -> dict[str, Any]:
    """Who may assume the role: WorkMail's export service, for this account and organization."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "WorkMailExportForThisOrganization",
                "Effect": "Allow",
                "Principal": {"Service": EXPORT_SERVICE},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": target.account},
                    "ArnLike": {"aws:SourceArn": organization_arn or target.organization_arn},
                },
            }
        ],
    }


def role_permission_policy(
    target: SetupTarget, key_arn: Any = None, *, objects: Any = None, bucket: Any = None
) -> dict[str, Any]:
    """What the role may do: write under the prefix, read the bucket's policy status, use the
    key through S3 for those objects only. (The Any arguments take CloudFormation functions.)"""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "WriteExportsUnderThePrefix",
                "Effect": "Allow",
                "Action": list(S3_OBJECT_ACTIONS),
                "Resource": objects or target.objects_arn,
            },
            {
                "Sid": "ReadBucketPolicyStatus",
                "Effect": "Allow",
                "Action": list(S3_BUCKET_ACTIONS),
                "Resource": bucket or target.bucket_arn,
            },
            {
                "Sid": "UseTheKeyThroughS3ForExports",
                "Effect": "Allow",
                "Action": list(KMS_ACTIONS),
                "Resource": key_arn or target.kms_key_arn,
                "Condition": _kms_condition(target, objects),
            },
        ],
    }


def key_policy_statement(target: SetupTarget) -> dict[str, Any]:
    """The statement to add to an existing key's policy: the role may use it for exports."""
    return {
        "Sid": "AllowWorkMailExportRole",
        "Effect": "Allow",
        "Principal": {"AWS": target.role_arn},
        "Action": list(KMS_ACTIONS),
        "Resource": "*",
        "Condition": _kms_condition(target),
    }


def _key_admin_statement(account: Any) -> dict[str, Any]:
    """The account keeps control of its key (KMS's default statement): without it nobody
    could change the key policy again, and the account's IAM policies may grant its use."""
    return {
        "Sid": "KeyAdministrationByTheAccount",
        "Effect": "Allow",
        "Principal": {"AWS": account},
        "Action": "kms:*",
        "Resource": "*",
    }


def key_policy(target: SetupTarget) -> dict[str, Any]:
    """A whole key policy: the account administers the key, the role may use it."""
    statements = [_key_admin_statement(f"arn:aws:iam::{target.account}:root")]
    if target.role_arn:
        statements.append(key_policy_statement(target))
    return {"Version": POLICY_VERSION, "Statement": statements}


def bucket_policy(target: SetupTarget, bucket: Any = None, objects: Any = None) -> dict[str, Any]:
    """The bucket refuses anything not sent over TLS."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket or target.bucket_arn, objects or f"{target.bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def setup_documents(target: SetupTarget) -> dict[str, Any]:
    """`--print-setup --format json`: every document, each ready for the CLI command beside it."""
    role = target.role_name
    return {
        "organization_arn": target.organization_arn,
        "role_trust_policy": trust_policy(target),
        "role_permission_policy": role_permission_policy(target),
        "key_policy_statement": key_policy_statement(target),
        "key_policy": key_policy(target),
        "bucket_policy": bucket_policy(target),
        "bucket_public_access_block": dict(PUBLIC_ACCESS_BLOCK),
        "commands": [
            f"aws iam create-role --role-name {role} "
            "--assume-role-policy-document file://role_trust_policy.json",
            f"aws iam put-role-policy --role-name {role} --policy-name {ROLE_POLICY_NAME} "
            "--policy-document file://role_permission_policy.json",
            f"aws kms put-key-policy --key-id {target.kms_key_arn or 'KEY_ARN'} "
            "--policy-name default --policy file://key_policy.json",
            f"aws s3api put-public-access-block --bucket {target.bucket} "
            "--public-access-block-configuration " + _access_block_shorthand(),
            f"aws s3api put-bucket-policy --bucket {target.bucket} "
            "--policy file://bucket_policy.json",
        ],
    }


def _access_block_shorthand() -> str:
    return ",".join(f"{name}=true" for name in PUBLIC_ACCESS_BLOCK)


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _key_arn() -> dict[str, Any]:
    return {"Fn::GetAtt": ["ExportKey", "Arn"]}


def _bucket_arn() -> dict[str, str]:
    return _sub("arn:${AWS::Partition}:s3:::${ExportBucket}")


def _key_resource(target: SetupTarget) -> dict[str, Any]:
    root = _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
    return {
        "Type": "AWS::KMS::Key",
        "Properties": {
            "Description": f"WorkMail exports of {target.organization_id}",
            "KeySpec": "SYMMETRIC_DEFAULT",
            "KeyUsage": "ENCRYPT_DECRYPT",
            "EnableKeyRotation": True,
            "KeyPolicy": {"Version": POLICY_VERSION, "Statement": [_key_admin_statement(root)]},
        },
    }


def _bucket_resources(target: SetupTarget) -> dict[str, Any]:
    encryption = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": _key_arn()}
    every_object = _sub("arn:${AWS::Partition}:s3:::${ExportBucket}/*")
    return {
        "ExportBucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": target.bucket,
                "PublicAccessBlockConfiguration": dict(PUBLIC_ACCESS_BLOCK),
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": encryption}
                    ]
                },
            },
        },
        "ExportBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "ExportBucket"},
                "PolicyDocument": bucket_policy(target, _bucket_arn(), every_object),
            },
        },
    }


def _role_resource(target: SetupTarget) -> dict[str, Any]:
    objects = _sub(f"arn:${{AWS::Partition}}:s3:::${{ExportBucket}}/{target.prefix}*")
    org_arn = _sub(
        "arn:${AWS::Partition}:workmail:${AWS::Region}:${AWS::AccountId}:organization/"
        + target.organization_id
    )
    trust = trust_policy(target, org_arn)
    trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] = {
        "Ref": "AWS::AccountId"
    }
    permissions = role_permission_policy(target, _key_arn(), objects=objects, bucket=_bucket_arn())
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": target.role_name,
            "AssumeRolePolicyDocument": trust,
            "Policies": [{"PolicyName": ROLE_POLICY_NAME, "PolicyDocument": permissions}],
        },
    }


def cloudformation_template(target: SetupTarget) -> dict[str, Any]:
    """One stack: the bucket (public access blocked, SSE-KMS, TLS only), the key, the role.

    The key policy lets the account's IAM policies grant its use and the role's own policy
    grants it, conditioned as above: naming the role in the key policy would make the key
    wait for the role and the role for the key, a cycle CloudFormation refuses.
    """
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"WorkMail mailbox export set-up for {target.organization_id} "
        f"(s3://{target.bucket}/{target.prefix}), least privilege. Made by wmtui.",
        "Resources": {
            "ExportKey": _key_resource(target),
            **_bucket_resources(target),
            "ExportRole": _role_resource(target),
        },
        "Outputs": {
            "RoleArn": {"Value": {"Fn::GetAtt": ["ExportRole", "Arn"]}},
            "KmsKeyArn": {"Value": _key_arn()},
            "Bucket": {"Value": {"Ref": "ExportBucket"}},
        },
    }
