"""`wmtui doctor`: read-only checks of an export's set-up, and `--print-setup` to write one.

Exit codes: 0 nothing FAILed (WARNs allowed), 1 something FAILed, 252-255 as every command.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from wmtui.cli.arguments import resolve_region
from wmtui.cli.errors import EXIT_BAD_PARAMETERS, EXIT_OK, CliError
from wmtui.cli.output import json_dump, note, plain, say
from wmtui.core.models import (
    validate_kms_key_arn,
    validate_organization_id,
    validate_role_arn,
    validate_s3_bucket,
    validate_s3_prefix,
)
from wmtui.core.preflight import PreflightTarget, report_lines
from wmtui.core.setup_policies import SetupTarget, cloudformation_template, setup_documents
from wmtui.factory import Backend, make_preflight

EXIT_CHECK_FAILED = 1
# botocore's settings that send the doctor's other calls somewhere else than AWS.
_ENDPOINTS = tuple(f"AWS_ENDPOINT_URL{suffix}" for suffix in ("", "_IAM", "_S3", "_KMS", "_STS"))
ACCOUNT_HELP = "the AWS account ID (for --print-setup; default: from --role-arn or --kms-key-arn)"


def add_doctor_command(add_command: Callable[..., argparse.ArgumentParser]) -> None:
    """The parser of `wmtui doctor`; `add_command` is the subcommands' add_parser."""
    doctor = add_command(
        "doctor",
        help="check an export's set-up (role, key, bucket) before starting, or print one",
        description="Read-only checks of what a mailbox export needs: who you are, the "
        "organization, the bucket's Region and public access block, the role's trust and "
        "permissions, the KMS key and its policy, your iam:PassRole, and running exports to "
        "the same prefix. One line per check: OK, WARN or FAIL, what was found and the fix. "
        "Exit codes: 0 nothing failed, 1 a check failed, 252-255 as every command.",
    )
    doctor.add_argument("organization_id", metavar="ORG_ID")
    doctor.add_argument("--bucket", required=True, help="S3 bucket name")
    doctor.add_argument("--prefix", required=True, help="S3 key prefix")
    doctor.add_argument("--role-arn", default="", help="IAM role WorkMail assumes to write")
    doctor.add_argument("--kms-key-arn", default="", help="symmetric KMS key for the export")
    doctor.add_argument("--json", action="store_true", help='{"checks": [...], "ok": bool}')
    doctor.add_argument(
        "--print-setup",
        action="store_true",
        help="print the least-privilege set-up (policies or a CloudFormation template); "
        "makes no AWS call",
    )
    doctor.add_argument(
        "--format",
        choices=("json", "cloudformation"),
        default="json",
        help="with --print-setup: the policies as JSON (default), or one CloudFormation "
        "template creating the bucket, key and role",
    )
    doctor.add_argument("--account", default="", metavar="ACCOUNT_ID", help=ACCOUNT_HELP)


def _account(args: argparse.Namespace) -> str:
    if args.account:
        if not (len(args.account) == 12 and args.account.isdigit()):
            raise CliError(
                f"{plain(args.account)} is not an account ID", "12 digits", EXIT_BAD_PARAMETERS
            )
        return str(args.account)
    for arn in (args.role_arn, args.kms_key_arn):
        parts = arn.split(":")
        if len(parts) > 5 and len(parts[4]) == 12 and parts[4].isdigit():
            return str(parts[4])
    raise CliError(
        "the account ID is needed to write the set-up",
        "pass --account, --role-arn or --kms-key-arn",
        EXIT_BAD_PARAMETERS,
    )


def _print_setup(args: argparse.Namespace, region: str, organization: str) -> int:
    fmt = args.format
    if fmt == "json" and not (args.role_arn and args.kms_key_arn):
        raise CliError(
            "the policies for an existing role and key need --role-arn and --kms-key-arn",
            "pass them, or --format cloudformation to create the role and the key",
            EXIT_BAD_PARAMETERS,
        )
    setup = SetupTarget(
        region=region,
        account=_account(args),
        organization_id=organization,
        bucket=validate_s3_bucket(args.bucket),
        prefix=validate_s3_prefix(args.prefix),
        role_arn=validate_role_arn(args.role_arn) if args.role_arn else "",
        kms_key_arn=validate_kms_key_arn(args.kms_key_arn) if args.kms_key_arn else "",
    )
    document = cloudformation_template(setup) if fmt == "cloudformation" else setup_documents(setup)
    say(json_dump(document))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace, backend: Backend) -> int:
    organization = validate_organization_id(args.organization_id)
    region = resolve_region(backend)
    if args.print_setup:
        return _print_setup(args, region, organization)
    if not args.role_arn or not args.kms_key_arn:
        raise CliError(
            "the checks need --role-arn and --kms-key-arn",
            "pass both (or --print-setup --format cloudformation to create them)",
            EXIT_BAD_PARAMETERS,
        )
    target = PreflightTarget(
        region=region,
        organization_id=organization,
        bucket=validate_s3_bucket(args.bucket),
        prefix=validate_s3_prefix(args.prefix),
        role_arn=validate_role_arn(args.role_arn),
        kms_key_arn=validate_kms_key_arn(args.kms_key_arn),
    )
    preflight = make_preflight(backend)
    if preflight is None:
        raise CliError(
            "the demo has no IAM, S3 or KMS to check",
            "run wmtui doctor against your AWS account",
            EXIT_BAD_PARAMETERS,
        )
    if backend.settings.endpoint_url and not any(os.environ.get(name) for name in _ENDPOINTS):
        note(
            "wmtui: --endpoint-url is WorkMail's only: IAM, S3, KMS and STS are asked where "
            "botocore sends them (AWS_ENDPOINT_URL_IAM and the like, else AWS itself)"
        )
    report = preflight.run(target)
    if args.json:
        say(json_dump(report.to_json()))
    else:
        for line in report_lines(report):
            say(plain(line))
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED
