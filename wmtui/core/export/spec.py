"""What an organization export is: its spec (destination, limits, selection), ids and tokens."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wmtui.core.models import (
    Mailbox,
    ValidationError,
    validate_kms_key_arn,
    validate_organization_id,
    validate_region,
    validate_role_arn,
    validate_s3_bucket,
    validate_s3_prefix,
)

# The service's own cap: 10 export jobs running per organization.
SERVICE_MAX_RUNNING = 10


def export_id_for(region: str, organization_id: str, bucket: str, prefix: str) -> str:
    """A short, stable name for the export: the same destination is the same export."""
    digest = hashlib.sha256(f"{region}\n{organization_id}\n{bucket}\n{prefix}".encode()).hexdigest()
    return f"{organization_id[-8:]}-{digest[:16]}"


def client_token(export_id: str, entity_id: str, attempt: int) -> str:
    """The ClientToken of one start attempt: 64 hex digits (the API allows [\\x21-\\x7e]{1,128})."""
    raw = f"wmtui-export\n{export_id}\n{entity_id}\n{attempt}".encode()
    return hashlib.sha256(raw).hexdigest()


def read_selector_file(path: Path) -> frozenset[str]:
    """Mailboxes named one per line (entity ID, user name or email); blank lines and # comments
    ignored. Raises OSError or UnicodeDecodeError for the caller to report."""
    selectors: set[str] = set()
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            selectors.add(text)
    return frozenset(selectors)


@dataclass(frozen=True)
class ExportSpec:
    """What to export and where: the input of every StartMailboxExportJob of the export."""

    region: str
    organization_id: str
    bucket: str
    prefix: str
    role_arn: str
    kms_key_arn: str
    max_running: int = SERVICE_MAX_RUNNING
    # Entity IDs, user names or emails (case-insensitive for the last two). None: every mailbox.
    only: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    # Sent as each job's Description; empty: "wmtui export-org <export id>".
    description: str = ""

    @property
    def export_id(self) -> str:
        return export_id_for(self.region, self.organization_id, self.bucket, self.prefix)

    @property
    def job_description(self) -> str:
        return self.description or f"wmtui export-org {self.export_id}"

    @property
    def running_limit(self) -> int:
        return max(1, min(self.max_running, SERVICE_MAX_RUNNING))

    def validate(self, *, endpoint_url: str | None = None) -> ExportSpec:
        """Check every field against the API's rules before any call; raises ValidationError."""
        validate_region(self.region, endpoint_url=endpoint_url)
        validate_organization_id(self.organization_id)
        validate_s3_bucket(self.bucket)
        validate_s3_prefix(self.prefix)
        validate_role_arn(self.role_arn)
        validate_kms_key_arn(self.kms_key_arn)
        if len(self.job_description) > 1023:
            raise ValidationError(
                "description", self.description, "must be at most 1023 characters"
            )
        if not 1 <= self.max_running <= SERVICE_MAX_RUNNING:
            raise ValidationError(
                "maximum running", self.max_running, f"must be 1 to {SERVICE_MAX_RUNNING}"
            )
        return self

    def selects(self, mailbox: Mailbox) -> bool:
        names = mailbox_names(mailbox)
        if self.only is not None and not names & _folded(self.only):
            return False
        return not names & _folded(self.exclude)

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "organization_id": self.organization_id,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "role_arn": self.role_arn,
            "kms_key_arn": self.kms_key_arn,
            "max_running": self.max_running,
            "only": sorted(self.only) if self.only is not None else None,
            "exclude": sorted(self.exclude),
            "description": self.description,
        }

    @classmethod
    def from_json(cls, data: object) -> ExportSpec:
        if not isinstance(data, dict):
            raise ValueError("'spec' is not an object")
        text: dict[str, str] = {}
        for name in (
            "region",
            "organization_id",
            "bucket",
            "prefix",
            "role_arn",
            "kms_key_arn",
            "description",
        ):
            value = data.get(name, "")
            if not isinstance(value, str):
                raise ValueError(f"spec.{name} is not a string")
            text[name] = value
        max_running = data.get("max_running", SERVICE_MAX_RUNNING)
        if not isinstance(max_running, int) or isinstance(max_running, bool):
            raise ValueError("spec.max_running is not a number")
        only = data.get("only")
        exclude = data.get("exclude", [])
        if only is not None and not is_str_list(only):
            raise ValueError("spec.only is not a list of strings")
        if not is_str_list(exclude):
            raise ValueError("spec.exclude is not a list of strings")
        return cls(
            max_running=max_running,
            only=frozenset(only) if only is not None else None,
            exclude=frozenset(exclude),
            **text,
        )


def is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _folded(selectors: Iterable[str]) -> set[str]:
    return {s.casefold() for s in selectors}


def mailbox_names(mailbox: Mailbox) -> set[str]:
    """Every spelling a person or a job may use for the mailbox, case-folded."""
    return {n.casefold() for n in (mailbox.entity_id, mailbox.email, mailbox.name) if n}
