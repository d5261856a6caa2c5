"""The emulated WorkMail's directory: organizations and their users and resources.

`EmulatedDirectory` builds the world a test or the demo wants and answers the directory's
operations (ListOrganizations, DescribeUser and the like). `EmulatorState` adds the export jobs.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from wmtui.emulator.clock import EmulatorClock
from wmtui.emulator.wire import (
    ACCOUNT_ID,
    DEFAULT_PAGE_SIZE,
    ApiError,
    decode_token,
    encode_token,
    without_none,
)

__all__ = ["ENTITY_STATES", "EmulatedDirectory", "EmulatedMailbox", "EmulatedOrganization"]

ENTITY_STATES = ("ENABLED", "DISABLED", "DELETED")


@dataclass(frozen=True)
class EmulatedOrganization:
    organization_id: str
    alias: str
    region: str
    state: str
    default_mail_domain: str
    directory_id: str
    created: datetime
    sequence: int


@dataclass(frozen=True)
class EmulatedMailbox:
    entity_id: str
    organization_id: str
    kind: str  # USER, ROOM or EQUIPMENT
    name: str
    email: str | None
    display_name: str | None
    state: str
    enabled_date: datetime
    description: str | None
    sequence: int

    @property
    def is_resource(self) -> bool:
        return self.kind != "USER"


class EmulatedDirectory:
    """Organizations and mailboxes, the random source for their IDs, and the one lock.

    The lock is re-entrant and guards everything a subclass adds too; the operations here are
    called by `handle`, which already holds it.
    """

    def __init__(self, *, clock: EmulatorClock | None = None, seed: int = 0) -> None:
        self.clock = clock or EmulatorClock()
        self._lock = threading.RLock()
        self._random = random.Random(seed)
        self._organizations: dict[str, EmulatedOrganization] = {}
        self._mailboxes: dict[str, dict[str, EmulatedMailbox]] = {}
        self._sequence = 0

    def _organization_added(self, organization_id: str) -> None:
        """Called under the lock when an organization is added; a subclass sets up its data."""

    # ----------------------------------------------------------------- ids and bookkeeping

    def _hex(self, digits: int) -> str:
        return f"{self._random.getrandbits(4 * digits):0{digits}x}"

    def _uuid_like(self) -> str:
        h = self._hex(32)
        variant = "89ab"[int(h[16], 16) % 4]
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    # ----------------------------------------------------------------- building the world

    def add_organization(
        self,
        alias: str,
        organization_id: str | None = None,
        state: str = "Active",
        *,
        region: str = "us-east-1",
        default_mail_domain: str | None = None,
    ) -> str:
        with self._lock:
            org_id = organization_id or f"m-{self._hex(32)}"
            if org_id in self._organizations:
                raise ValueError(f"organization {org_id} exists")
            self._organizations[org_id] = EmulatedOrganization(
                organization_id=org_id,
                alias=alias,
                region=region,
                state=state,
                default_mail_domain=default_mail_domain or f"{alias}.awsapps.com",
                directory_id=f"d-{self._hex(10)}",
                created=self.clock.now() - timedelta(days=900),
                sequence=self._next_sequence(),
            )
            self._mailboxes[org_id] = {}
            self._organization_added(org_id)
            return org_id

    def set_organization_state(self, organization_id: str, state: str) -> None:
        with self._lock:
            org = self._organizations[organization_id]
            self._organizations[organization_id] = replace(org, state=state)

    def add_mailbox(
        self,
        organization_id: str,
        name: str,
        *,
        kind: str = "USER",
        display_name: str | None = None,
        email: str | None = None,
        state: str = "ENABLED",
        description: str | None = None,
        entity_id: str | None = None,
    ) -> str:
        """A user (kind USER) or resource (RESOURCE/ROOM or EQUIPMENT); returns its entity ID."""
        kind = "ROOM" if kind == "RESOURCE" else kind
        if kind not in ("USER", "ROOM", "EQUIPMENT"):
            raise ValueError(f"unknown mailbox kind {kind!r}")
        if state not in ENTITY_STATES:
            raise ValueError(f"unknown entity state {state!r}")
        with self._lock:
            org = self._organizations[organization_id]
            if entity_id is None:
                entity_id = f"r-{self._hex(32)}" if kind != "USER" else self._uuid_like()
            self._mailboxes[organization_id][entity_id] = EmulatedMailbox(
                entity_id=entity_id,
                organization_id=organization_id,
                kind=kind,
                name=name,
                email=email or f"{name}@{org.default_mail_domain}",
                display_name=display_name,
                state=state,
                enabled_date=self.clock.now() - timedelta(days=30 + self._random.randrange(900)),
                description=description,
                sequence=self._next_sequence(),
            )
            return entity_id

    # ----------------------------------------------------------------- reading it back

    @property
    def organization_ids(self) -> list[str]:
        with self._lock:
            return list(self._organizations)

    def organization(self, organization_id: str) -> EmulatedOrganization:
        with self._lock:
            return self._organizations[organization_id]

    def mailboxes(self, organization_id: str) -> list[EmulatedMailbox]:
        with self._lock:
            return list(self._mailboxes[organization_id].values())

    # ----------------------------------------------------------------- checks of a call

    def _resolve_mailbox(self, organization_id: str, identifier: str) -> EmulatedMailbox | None:
        """The API accepts an entity ID, a user name or an email address."""
        mailboxes = self._mailboxes[organization_id]
        found = mailboxes.get(identifier)
        if found is None:
            wanted = identifier.lower()
            for mailbox in mailboxes.values():
                if mailbox.name.lower() == wanted or (mailbox.email or "").lower() == wanted:
                    found = mailbox
                    break
        if found is None or found.state == "DELETED":
            return None
        return found

    def _organization_for_call(self, region: str, organization_id: str) -> EmulatedOrganization:
        org = self._organizations.get(organization_id)
        # Organizations are regional: one in another region does not exist from here.
        if org is None or org.region != region:
            raise ApiError(
                "OrganizationNotFoundException",
                f"Organization {organization_id} does not exist in region {region}.",
            )
        return org

    def _active_organization(self, region: str, organization_id: str) -> EmulatedOrganization:
        org = self._organization_for_call(region, organization_id)
        if org.state != "Active":
            raise ApiError(
                "OrganizationStateException",
                f"The organization {organization_id} is not in a valid state: {org.state}.",
            )
        return org

    # ----------------------------------------------------------------- the operations

    def list_organizations(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        cursor = decode_token("orgs", region, params.get("NextToken"))
        orgs = [o for o in self._organizations.values() if o.region == region]
        if cursor is not None:
            orgs = [o for o in orgs if o.sequence > int(cursor)]
        size = int(params.get("MaxResults") or DEFAULT_PAGE_SIZE)
        page, rest = orgs[:size], orgs[size:]
        out: dict[str, Any] = {
            "OrganizationSummaries": [
                {
                    "OrganizationId": o.organization_id,
                    "Alias": o.alias,
                    "DefaultMailDomain": o.default_mail_domain,
                    "State": o.state,
                }
                for o in page
            ]
        }
        if rest:
            out["NextToken"] = encode_token("orgs", region, page[-1].sequence)
        return out

    def describe_organization(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        org = self._organization_for_call(region, params["OrganizationId"])
        return {
            "OrganizationId": org.organization_id,
            "Alias": org.alias,
            "State": org.state,
            "DirectoryId": org.directory_id,
            "DirectoryType": "WorkMailDirectory",
            "DefaultMailDomain": org.default_mail_domain,
            "CompletedDate": org.created,
            "ARN": f"arn:aws:workmail:{org.region}:{ACCOUNT_ID}:organization/{org.organization_id}",
            "InteroperabilityEnabled": False,
        }

    def _list_entities(
        self, params: Mapping[str, Any], region: str, *, resources: bool
    ) -> tuple[list[EmulatedMailbox], str | None]:
        org_id = params["OrganizationId"]
        self._active_organization(region, org_id)
        kind = "resources" if resources else "users"
        cursor = decode_token(kind, org_id, params.get("NextToken"))
        filters: Mapping[str, Any] = params.get("Filters") or {}
        name_prefix = (
            filters.get("NamePrefix") if resources else filters.get("UsernamePrefix")
        ) or ""
        display_prefix = ("" if resources else filters.get("DisplayNamePrefix")) or ""
        email_prefix = filters.get("PrimaryEmailPrefix") or ""
        wanted_state = filters.get("State")
        matches = [
            m
            for m in self._mailboxes[org_id].values()
            if m.is_resource == resources
            and (m.state != "DELETED" or wanted_state == "DELETED")
            and (wanted_state is None or m.state == wanted_state)
            and m.name.lower().startswith(name_prefix.lower())
            and (m.display_name or "").lower().startswith(display_prefix.lower())
            and (m.email or "").lower().startswith(email_prefix.lower())
        ]
        if cursor is not None:
            matches = [m for m in matches if m.sequence > int(cursor)]
        size = int(params.get("MaxResults") or DEFAULT_PAGE_SIZE)
        page, rest = matches[:size], matches[size:]
        token = encode_token(kind, org_id, page[-1].sequence) if rest else None
        return page, token

    def list_users(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        page, token = self._list_entities(params, region, resources=False)
        out: dict[str, Any] = {"Users": [_user_summary(m) for m in page]}
        if token:
            out["NextToken"] = token
        return out

    def list_resources(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        page, token = self._list_entities(params, region, resources=True)
        out: dict[str, Any] = {"Resources": [_resource_summary(m) for m in page]}
        if token:
            out["NextToken"] = token
        return out

    def _described_entity(
        self, params: Mapping[str, Any], region: str, key: str, *, resource: bool
    ) -> EmulatedMailbox:
        org_id = params["OrganizationId"]
        self._active_organization(region, org_id)
        mailbox = self._resolve_mailbox(org_id, params[key])
        if mailbox is None or mailbox.is_resource != resource:
            what = "resource" if resource else "user"
            raise ApiError(
                "EntityNotFoundException",
                f"The {what} {params[key]} was not found in organization {org_id}.",
            )
        return mailbox

    def describe_user(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        m = self._described_entity(params, region, "UserId", resource=False)
        # People have a first and last name; shared mailboxes (no dot in the name) do not.
        first, _, last = (m.display_name or "").partition(" ") if "." in m.name else ("", "", "")
        out: dict[str, Any] = {
            "UserId": m.entity_id,
            "Name": m.name,
            "Email": m.email,
            "DisplayName": m.display_name,
            "State": m.state,
            "UserRole": "USER",
            "EnabledDate": m.enabled_date,
            "MailboxProvisionedDate": m.enabled_date,
            "FirstName": first or None,
            "LastName": last or None,
            "HiddenFromGlobalAddressList": False,
        }
        return without_none(out)

    def describe_resource(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        m = self._described_entity(params, region, "ResourceId", resource=True)
        out: dict[str, Any] = {
            "ResourceId": m.entity_id,
            "Email": m.email,
            "Name": m.name,
            "Type": m.kind,
            "BookingOptions": {
                "AutoAcceptRequests": True,
                "AutoDeclineRecurringRequests": False,
                "AutoDeclineConflictingRequests": True,
            },
            "State": m.state,
            "EnabledDate": m.enabled_date,
            "Description": m.description,
            "HiddenFromGlobalAddressList": False,
        }
        return without_none(out)


def _user_summary(m: EmulatedMailbox) -> dict[str, Any]:
    return without_none(
        {
            "Id": m.entity_id,
            "Email": m.email,
            "Name": m.name,
            "DisplayName": m.display_name,
            "State": m.state,
            "UserRole": "USER",
            "EnabledDate": m.enabled_date,
        }
    )


def _resource_summary(m: EmulatedMailbox) -> dict[str, Any]:
    return without_none(
        {
            "Id": m.entity_id,
            "Email": m.email,
            "Name": m.name,
            "Type": m.kind,
            "State": m.state,
            "EnabledDate": m.enabled_date,
            "Description": m.description,
        }
    )
