"""The doctor's facts: read-only calls to STS, WorkMail, S3, IAM and KMS, judged by core.

Every call here only reads. S3, IAM, KMS and STS go wherever botocore's own settings send them
(`AWS_ENDPOINT_URL_S3`, a profile's `services` section, ...); WorkMail goes to the endpoint the
rest of wmtui uses. boto3 loads on the first run, not on import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from wmtui.aws.errors import to_service_error
from wmtui.aws.preflight_calls import (
    Denied,
    Missing,
    Unsupported,
    attempt,
    role_documents,
    simulate,
    user_documents,
)
from wmtui.aws.sessions import new_session
from wmtui.core import preflight as pf
from wmtui.core.iam_policy import Decision, load_document
from wmtui.core.models import JobState
from wmtui.core.preflight import Check, DoctorReport, PreflightTarget, Status
from wmtui.core.service import ErrorKind, ExportService, ServiceError
from wmtui.core.setup_policies import KMS_ACTIONS, PUBLIC_ACCESS_BLOCK, SetupTarget, trust_policy

__all__ = ["Boto3Preflight"]

# Running exports described at most, looking for another role on the same prefix.
MAX_DESCRIBED = 20


class Boto3Preflight:
    """`Preflight` through boto3. One run at a time per object; safe to share."""

    def __init__(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        credentials: tuple[str, str] | None = None,
        service: ExportService | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
    ) -> None:
        self._profile = profile or None
        self._region = region or None
        self._endpoint_url = endpoint_url or None
        self._credentials = credentials
        self._service = service
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._lock = threading.Lock()

    def _session(self, region: str) -> Any:
        return new_session(profile=self._profile, credentials=self._credentials, region=region)

    def run(self, target: PreflightTarget) -> DoctorReport:
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "total_max_attempts": 2},
            connect_timeout=self._connect_timeout,
            read_timeout=self._read_timeout,
            user_agent_extra="wmtui-doctor",
        )
        with self._lock:
            try:
                session = self._session(target.region)
            except Exception as exc:
                raise to_service_error(exc, "doctor", profile=self._profile) from exc

            def client(name: str, region: str | None = None) -> Any:
                endpoint = self._endpoint_url if name == "workmail" else None
                try:
                    return session.client(
                        name,
                        region_name=region or target.region,
                        endpoint_url=endpoint,
                        config=config,
                    )
                except Exception as exc:  # a broken profile or endpoint setting
                    raise to_service_error(exc, name, profile=self._profile) from exc

            return _Run(target, client, self._service, self._profile).report()


class _Run:
    """One doctor run: gathers the facts in order, keeps the checks."""

    def __init__(
        self,
        target: PreflightTarget,
        client: Callable[..., Any],
        service: ExportService | None,
        profile: str | None,
    ) -> None:
        self.target = target
        self.client = client
        self.service = service
        self.profile = profile
        self.checks: dict[str, Check] = {}
        self.account = ""
        self.caller_arn = ""
        self.iam = client("iam")
        self._role_method = ""

    def add(self, check: Check) -> None:
        self.checks.setdefault(check.id, check)

    def report(self) -> DoctorReport:
        self._caller()
        setup = self.target.setup(self.account)
        self._organization(setup)
        self._bucket()
        role_found = self._role(setup)
        key_policy = self._key()
        role_decisions = self._role_permissions(setup, role_found)
        self._key_policy(setup, key_policy, role_decisions)
        self._caller_permissions(setup)
        self._running_exports()
        ordered = [self.checks[i] for i in pf.CHECK_IDS if i in self.checks]
        return DoctorReport(self.target, tuple(ordered))

    # -- who is asking -----------------------------------------------------------------------

    def _caller(self) -> None:
        sts = self.client("sts")
        try:
            answer = attempt("sts:GetCallerIdentity", sts.get_caller_identity, profile=self.profile)
        except (Denied, Missing, Unsupported) as exc:
            raise ServiceError(
                ErrorKind.NO_CREDENTIALS,
                f"could not tell who you are: {exc}",
                "check the credentials: aws sts get-caller-identity",
                operation="GetCallerIdentity",
            ) from exc
        self.account = str(answer.get("Account") or "")
        self.caller_arn = str(answer.get("Arn") or "")
        self.add(Check(pf.CALLER, Status.OK, f"{self.caller_arn} (account {self.account})"))

    # -- WorkMail ----------------------------------------------------------------------------

    def _organization(self, setup: SetupTarget) -> None:
        workmail = self.client("workmail")
        org = self.target.organization_id
        try:
            answer = attempt(
                "workmail:DescribeOrganization",
                lambda: workmail.describe_organization(OrganizationId=org),
                profile=self.profile,
            )
        except Denied as exc:
            self.add(pf.missing_permission(pf.ORGANIZATION, exc.action, "organization state"))
            return
        except Unsupported as exc:
            self.add(pf.not_checked(pf.ORGANIZATION, str(exc)))
            return
        except Missing as exc:
            self.add(
                Check(
                    pf.ORGANIZATION,
                    Status.FAIL,
                    (
                        f"organization {org} is not Active ({exc})"
                        if exc.code == "OrganizationStateException"
                        else f"organization {org} was not found in {self.target.region} ({exc})"
                    ),
                    "check the organization ID and --region: aws workmail list-organizations "
                    f"--region {self.target.region}",
                )
            )
            return
        state = str(answer.get("State") or "")
        arn = str(answer.get("ARN") or "")
        found = f" (ARN {arn})" if arn and arn != setup.organization_arn else ""
        if state.lower() != "active":
            self.add(
                Check(
                    pf.ORGANIZATION,
                    Status.FAIL,
                    f"organization {org} is {state or 'in no state'}, not Active{found}",
                    "exports start only in an Active organization: check it in the WorkMail "
                    "console",
                )
            )
            return
        self.add(Check(pf.ORGANIZATION, Status.OK, f"organization {org} is Active{found}"))

    def _running_exports(self) -> None:
        target = self.target
        if self.service is None:
            self.add(pf.not_checked(pf.RUNNING_EXPORTS, "no WorkMail service to ask"))
            return
        try:
            jobs = self.service.list_jobs(target.region, target.organization_id)
            same_bucket = [
                j for j in jobs if j.state is JobState.RUNNING and j.s3_bucket_name == target.bucket
            ][:MAX_DESCRIBED]
            others = []
            for job in same_bucket:
                described = self.service.describe_job(job.key)
                if described.s3_prefix == target.prefix:
                    others.append((job.job_id, described.role_arn or ""))
        except ServiceError as exc:
            if exc.kind in (ErrorKind.ACCESS_DENIED,):
                self.add(
                    pf.missing_permission(
                        pf.RUNNING_EXPORTS,
                        "workmail:ListMailboxExportJobs and workmail:DescribeMailboxExportJob",
                        "running exports",
                    )
                )
            else:
                self.add(pf.not_checked(pf.RUNNING_EXPORTS, exc.message))
            return
        self.add(pf.judge_running(target, others))

    # -- S3 ----------------------------------------------------------------------------------

    def _bucket(self) -> None:
        target = self.target
        s3 = self.client("s3")
        try:
            location = attempt(
                "s3:GetBucketLocation",
                lambda: s3.get_bucket_location(Bucket=target.bucket),
                profile=self.profile,
            )
        except Denied as exc:
            self.add(pf.missing_permission(pf.BUCKET_REGION, exc.action, "the bucket's Region"))
        except Unsupported as exc:
            self.add(pf.not_checked(pf.BUCKET_REGION, str(exc)))
        except Missing as exc:
            self.add(
                Check(
                    pf.BUCKET_REGION,
                    Status.FAIL,
                    f"bucket {target.bucket} cannot be read ({exc})",
                    f"create it in {target.region} (wmtui doctor ... --print-setup --format "
                    "cloudformation) or check its name",
                )
            )
            self.add(pf.not_checked(pf.BUCKET_PUBLIC_ACCESS, "the bucket was not found"))
            return
        else:
            region = pf.bucket_region_of(location.get("LocationConstraint"))
            self.add(pf.judge_bucket_region(target, region))
        self._public_access()

    def _public_access(self) -> None:
        target = self.target
        s3 = self.client("s3")
        configuration: Mapping[str, Any] | None
        try:
            answer = attempt(
                "s3:GetBucketPublicAccessBlock",
                lambda: s3.get_public_access_block(Bucket=target.bucket),
                profile=self.profile,
            )
            configuration = answer.get("PublicAccessBlockConfiguration") or {}
        except Denied as exc:
            self.add(pf.missing_permission(pf.BUCKET_PUBLIC_ACCESS, exc.action, "public access"))
            return
        except (Missing, Unsupported):
            configuration = None
        check = pf.judge_public_access(target, configuration)
        if check.status is Status.FAIL and self._account_blocks_public_access():
            check = Check(
                pf.BUCKET_PUBLIC_ACCESS,
                Status.OK,
                f"the account's Block Public Access covers bucket {target.bucket}",
            )
        self.add(check)

    def _account_blocks_public_access(self) -> bool:
        """The account-wide setting blocks public access for every bucket in it."""
        try:
            control = self.client("s3control")
            answer = attempt(
                "s3:GetAccountPublicAccessBlock",
                lambda: control.get_public_access_block(AccountId=self.account),
                profile=self.profile,
            )
        except (Denied, Missing, Unsupported, ServiceError):
            # Only a second chance for the bucket: its own answer stands if this fails.
            return False
        configuration = answer.get("PublicAccessBlockConfiguration") or {}
        return all(configuration.get(name) is True for name in PUBLIC_ACCESS_BLOCK)

    # -- IAM ---------------------------------------------------------------------------------

    def _role(self, setup: SetupTarget) -> bool:
        """The role and its trust policy; whether the role was found (or could not be looked at)."""
        name = setup.role_name
        try:
            answer = attempt(
                "iam:GetRole", lambda: self.iam.get_role(RoleName=name), profile=self.profile
            )
        except Denied as exc:
            self.add(pf.missing_permission(pf.ROLE, exc.action, "the role"))
            self.add(pf.not_checked(pf.ROLE_TRUST, f"{exc.action} is not allowed"))
            return True
        except Unsupported as exc:
            self.add(pf.not_checked(pf.ROLE, str(exc)))
            self.add(pf.not_checked(pf.ROLE_TRUST, str(exc)))
            return True
        except Missing as exc:
            self.add(
                Check(
                    pf.ROLE,
                    Status.FAIL,
                    f"role {name} was not found ({exc})",
                    f"aws iam create-role --role-name {name} --assume-role-policy-document "
                    f"'{pf.compact(trust_policy(setup))}' (or wmtui doctor ... --print-setup)",
                )
            )
            self.add(pf.not_checked(pf.ROLE_TRUST, "the role was not found"))
            self.add(pf.not_checked(pf.ROLE_PERMISSIONS, "the role was not found"))
            return False
        role = answer.get("Role") or {}
        arn = str(role.get("Arn") or "")
        if arn and arn != self.target.role_arn:
            self.add(
                Check(
                    pf.ROLE,
                    Status.FAIL,
                    f"role {name} is {arn}, not {self.target.role_arn}",
                    f"pass --role-arn {arn}",
                )
            )
        else:
            self.add(Check(pf.ROLE, Status.OK, f"role {name} exists"))
        document = load_document(role.get("AssumeRolePolicyDocument"))
        self.add(pf.judge_trust(setup, document))
        return True

    def _decisions(
        self, source_arn: str, requests: list[Any], read: Callable[[], list[dict[str, Any]]]
    ) -> tuple[dict[str, Decision], str]:
        """What the principal's policies decide: by simulation if allowed, else by reading."""
        try:
            return simulate(self.iam, source_arn, requests), "with iam:SimulatePrincipalPolicy"
        except Denied:
            why = "iam:SimulatePrincipalPolicy is not allowed"
        except (Missing, Unsupported) as exc:
            why = str(exc)
        from wmtui.core.iam_policy import decide

        documents = read()
        method = f"by reading its policies; {why}"
        return {r.action: decide(documents, r) for r in requests}, method

    def _role_permissions(self, setup: SetupTarget, role_found: bool) -> dict[str, Decision] | None:
        if not role_found:
            return None
        try:
            decisions, method = self._decisions(
                setup.role_arn,
                pf.role_requests(setup),
                lambda: role_documents(self.iam, setup.role_name),
            )
        except Denied as exc:
            self.add(pf.missing_permission(pf.ROLE_PERMISSIONS, exc.action, "the role's policies"))
            return None
        except (Missing, Unsupported) as exc:
            self.add(pf.not_checked(pf.ROLE_PERMISSIONS, str(exc)))
            return None
        self._role_method = method
        return decisions

    # -- KMS ---------------------------------------------------------------------------------

    def _key(self) -> dict[str, Any] | None:
        """The key's checks; its policy document when it could be read."""
        target = self.target
        key_region = pf.region_of_arn(target.kms_key_arn) or target.region
        kms = self.client("kms", key_region)
        try:
            answer = attempt(
                "kms:DescribeKey",
                lambda: kms.describe_key(KeyId=target.kms_key_arn),
                profile=self.profile,
            )
        except Denied as exc:
            self.add(pf.missing_permission(pf.KEY, exc.action, "the key"))
        except Unsupported as exc:
            self.add(pf.not_checked(pf.KEY, str(exc)))
        except Missing as exc:
            self.add(
                Check(
                    pf.KEY,
                    Status.FAIL,
                    f"the key was not found in {key_region} ({exc})",
                    f"create a symmetric key in {target.region}: aws kms create-key --region "
                    f"{target.region} (or wmtui doctor ... --print-setup)",
                )
            )
            self.add(pf.judge_key_region(target))
            self.add(pf.not_checked(pf.KEY_POLICY, "the key was not found"))
            return None
        else:
            self.add(pf.judge_key(target, answer.get("KeyMetadata") or {}))
        self.add(pf.judge_key_region(target))
        try:
            policy = attempt(
                "kms:GetKeyPolicy",
                lambda: kms.get_key_policy(KeyId=target.kms_key_arn, PolicyName="default"),
                profile=self.profile,
            )
        except Denied as exc:
            self.add(pf.missing_permission(pf.KEY_POLICY, exc.action, "the key policy"))
            return None
        except (Missing, Unsupported) as exc:
            self.add(pf.not_checked(pf.KEY_POLICY, str(exc)))
            return None
        return load_document(policy.get("Policy"))

    def _key_policy(
        self,
        setup: SetupTarget,
        document: dict[str, Any] | None,
        decisions: dict[str, Decision] | None,
    ) -> None:
        iam_allows_kms: bool | None = None
        if decisions is not None:
            iam_allows_kms = all(
                decisions.get(action) is Decision.ALLOWED for action in KMS_ACTIONS
            )
        direct = False
        if document is not None:
            direct, _account = pf.key_policy_grants(setup, document)
            self.add(pf.judge_key_policy(setup, document, role_iam_allows_kms=iam_allows_kms))
        if decisions is not None:
            self.add(
                pf.judge_role_permissions(
                    setup, decisions, self._role_method, key_grants_role=direct
                )
            )

    # -- the caller's own permissions --------------------------------------------------------

    def _caller_permissions(self, setup: SetupTarget) -> None:
        arn = self.caller_arn
        if arn.endswith(":root"):
            self.add(Check(pf.CALLER_PERMISSIONS, Status.OK, "you are the account's root user"))
            return
        read: Callable[[], list[dict[str, Any]]]
        if ":user/" in arn:
            user_name = arn.rsplit("/", 1)[-1]
            source = arn
            read = lambda: user_documents(self.iam, user_name)  # noqa: E731
        elif ":assumed-role/" in arn:
            role_name = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
            try:
                role = attempt("iam:GetRole", lambda: self.iam.get_role(RoleName=role_name))
            except (Denied, Missing, Unsupported) as exc:
                action = exc.action if isinstance(exc, Denied) else "iam:GetRole"
                self.add(pf.missing_permission(pf.CALLER_PERMISSIONS, action, "your role"))
                return
            source = str((role.get("Role") or {}).get("Arn") or "")
            read = lambda: role_documents(self.iam, role_name)  # noqa: E731
        else:
            self.add(
                pf.not_checked(
                    pf.CALLER_PERMISSIONS,
                    f"{arn} is neither an IAM user nor a role",
                    "make sure you may iam:PassRole the role to export.workmail.amazonaws.com",
                )
            )
            return
        try:
            decisions, method = self._decisions(source, pf.caller_requests(setup), read)
        except Denied as exc:
            self.add(pf.missing_permission(pf.CALLER_PERMISSIONS, exc.action, "your policies"))
            return
        except (Missing, Unsupported) as exc:
            self.add(pf.not_checked(pf.CALLER_PERMISSIONS, str(exc)))
            return
        self.add(pf.judge_caller_permissions(setup, arn, decisions, method))
