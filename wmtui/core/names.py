"""Who a mailbox is: EntityId -> Mailbox (display name, email), cached per organization.

ListUsers and ListResources (`ExportService.list_mailboxes`) are called once per organization
and kept in one JSON file in the cache dir with the time they were fetched; the map is read
again when it is older than `max_age` or when asked (`force=True`). An EntityId the map does
not know is asked for with DescribeUser/DescribeResource (`describe_mailbox`); one the service
does not know either is remembered as missing, so a refresh tick does not ask again every time.

Usage, from a worker thread (every method takes the directory's lock):

    names = NameDirectory(cache_dir / "names.json")
    names.refresh_org(service, region, org)                 # no call if the cache is fresh
    names.resolve_missing(service, region, org, entity_ids)  # Describe* for the unknown ones
    mailbox = names.lookup(region, org, entity_id)           # memory only, never a call

The cache is disposable: a file that cannot be read is moved aside (`names.json.corrupt-<ts>`)
and rebuilt; a cache that cannot be written is kept in memory only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wmtui.core.locations import JSONProblem, move_aside, parse_json, write_private_file
from wmtui.core.models import Mailbox, now_utc, utc
from wmtui.core.service import ErrorKind, ExportService, ServiceError

FORMAT_VERSION = 1
DEFAULT_MAX_AGE = timedelta(hours=12)
# Far above any organization's directory (100,000 mailboxes is ~20 MB).
_MAX_FILE_BYTES = 64 * 1024 * 1024
_MAILBOX_FIELDS = ("entity_id", "name", "email", "display_name", "kind", "state")


def mailbox_to_json(mailbox: Mailbox) -> dict[str, Any]:
    return {name: getattr(mailbox, name) for name in _MAILBOX_FIELDS}


def mailbox_from_json(data: object) -> Mailbox:
    """Inverse of mailbox_to_json; ValueError on anything but a well-formed record."""
    if not isinstance(data, dict):
        raise ValueError("a mailbox record is not an object")
    entity_id = data.get("entity_id")
    if not isinstance(entity_id, str) or not entity_id:
        raise ValueError("a mailbox record has no entity_id")
    values: dict[str, str | None] = {}
    for name in ("name", "email", "display_name", "state"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"a mailbox record's {name} is not a string")
        values[name] = value
    kind = data.get("kind", "USER")
    if not isinstance(kind, str):
        raise ValueError("a mailbox record's kind is not a string")
    return Mailbox(entity_id=entity_id, kind=kind, **values)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("a time is not a string")
    parsed = utc(datetime.fromisoformat(value))
    assert parsed is not None
    return parsed


@dataclass
class _OrgNames:
    """What is known about one organization's mailboxes."""

    fetched: datetime | None = None  # when list_mailboxes last answered; None: never
    by_id: dict[str, Mailbox] = field(default_factory=dict)
    # EntityIds the service said do not exist, with when it said so.
    missing: dict[str, datetime] = field(default_factory=dict)
    # Lower-cased email and name -> entity id: a job's EntityId may be either (the API allows it).
    aliases: dict[str, str] = field(default_factory=dict)

    def put(self, mailbox: Mailbox) -> None:
        self.by_id[mailbox.entity_id] = mailbox
        self.missing.pop(mailbox.entity_id, None)
        for alias in (mailbox.email, mailbox.name):
            if alias:
                self.aliases.setdefault(alias.lower(), mailbox.entity_id)

    def find(self, entity_id: str) -> Mailbox | None:
        found = self.by_id.get(entity_id)
        if found is not None:
            return found
        alias = self.aliases.get(entity_id.lower())
        return self.by_id.get(alias) if alias is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "fetched": _iso(self.fetched) if self.fetched else None,
            "mailboxes": [mailbox_to_json(m) for m in self.by_id.values()],
            "missing": {entity: _iso(when) for entity, when in sorted(self.missing.items())},
        }

    @classmethod
    def from_json(cls, data: object) -> _OrgNames:
        if not isinstance(data, dict):
            raise ValueError("an organization record is not an object")
        org = cls()
        fetched = data.get("fetched")
        org.fetched = _parse_time(fetched) if fetched is not None else None
        mailboxes = data.get("mailboxes", [])
        if not isinstance(mailboxes, list):
            raise ValueError("'mailboxes' is not a list")
        for item in mailboxes:
            org.put(mailbox_from_json(item))
        missing = data.get("missing", {})
        if not isinstance(missing, dict):
            raise ValueError("'missing' is not an object")
        for entity_id, when in missing.items():
            org.missing[str(entity_id)] = _parse_time(when)
        return org


def _org_key(region: str, organization_id: str) -> str:
    return f"{region}/{organization_id}"


class NameDirectory:
    """EntityId -> Mailbox for every organization wmtui has looked at. Thread-safe."""

    def __init__(
        self,
        cache_path: Path,
        *,
        max_age: timedelta = DEFAULT_MAX_AGE,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.cache_path = cache_path
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.RLock()
        self._orgs: dict[str, _OrgNames] = {}
        self._loaded = False
        # Set when the cache file could not be read or written: shown to the user, never raised.
        self.last_problem: str | None = None

    # ---- reading (memory only) -------------------------------------------------------------

    def lookup(self, region: str, organization_id: str, entity_id: str) -> Mailbox | None:
        """The mailbox behind `entity_id` (an ID, user name or email), from memory; no call."""
        with self._lock:
            self._ensure_loaded()
            org = self._orgs.get(_org_key(region, organization_id))
            return org.find(entity_id) if org is not None else None

    def mailboxes(self, region: str, organization_id: str) -> dict[str, Mailbox]:
        """Every mailbox known for the organization, by entity id (a copy)."""
        with self._lock:
            self._ensure_loaded()
            org = self._orgs.get(_org_key(region, organization_id))
            return dict(org.by_id) if org is not None else {}

    def organizations(self) -> list[tuple[str, str]]:
        """(region, organization) of every organization whose names are known."""
        with self._lock:
            self._ensure_loaded()
            return [(key.partition("/")[0], key.partition("/")[2]) for key in self._orgs]

    def fetched_at(self, region: str, organization_id: str) -> datetime | None:
        """When the organization's directory was last listed; None if never."""
        with self._lock:
            self._ensure_loaded()
            org = self._orgs.get(_org_key(region, organization_id))
            return org.fetched if org is not None else None

    def is_fresh(self, region: str, organization_id: str) -> bool:
        fetched = self.fetched_at(region, organization_id)
        return fetched is not None and self._clock() - fetched < self.max_age

    # ---- calls -------------------------------------------------------------------------------

    def refresh_org(
        self, service: ExportService, region: str, organization_id: str, *, force: bool = False
    ) -> dict[str, Mailbox]:
        """List the organization's users and resources unless the cached list is fresh.

        Returns every known mailbox by entity id. Raises ServiceError if the listing failed
        (the cached names, if any, stay in place).
        """
        if force or not self.is_fresh(region, organization_id):
            listed = service.list_mailboxes(region, organization_id)
            fetched = self._clock()
            with self._lock:
                org = _OrgNames(fetched=fetched)
                old = self._orgs.get(_org_key(region, organization_id))
                for mailbox in listed:
                    org.put(mailbox)
                if old is not None:
                    # Names Describe found since stay until they are seen missing; a miss is
                    # worth asking again after a fresh listing.
                    for entity_id, mailbox in old.by_id.items():
                        if entity_id not in org.by_id:
                            org.put(mailbox)
                self._orgs[_org_key(region, organization_id)] = org
                self._save()
        return self.mailboxes(region, organization_id)

    def resolve_missing(
        self,
        service: ExportService,
        region: str,
        organization_id: str,
        entity_ids: Iterable[str],
    ) -> dict[str, Mailbox]:
        """Describe each entity the directory does not know and has not recently seen missing.

        Returns what was newly found, by the entity id asked for. A "not found" answer is
        remembered for `max_age`; any other error for one entity is skipped (asked again next
        time). A problem for every call (credentials, access denied, throttling ...) stops the
        round and is raised as ServiceError, keeping what was already found.
        """
        now = self._clock()
        with self._lock:
            self._ensure_loaded()
            org = self._orgs.setdefault(_org_key(region, organization_id), _OrgNames())
            wanted: list[str] = []
            for entity_id in dict.fromkeys(entity_ids):
                if not entity_id or org.find(entity_id) is not None:
                    continue
                seen_missing = org.missing.get(entity_id)
                if seen_missing is not None and now - seen_missing < self.max_age:
                    continue
                wanted.append(entity_id)
        found: dict[str, Mailbox] = {}
        missing: list[str] = []
        stop: ServiceError | None = None
        for entity_id in wanted:
            try:
                found[entity_id] = service.describe_mailbox(region, organization_id, entity_id)
            except ServiceError as exc:
                if exc.kind is ErrorKind.JOB_NOT_FOUND:
                    missing.append(entity_id)
                elif exc.kind.affects_all or exc.kind in (
                    ErrorKind.ORGANIZATION_NOT_FOUND,
                    ErrorKind.ORGANIZATION_STATE,
                ):
                    stop = exc
                    break
        if found or missing:
            with self._lock:
                org = self._orgs.setdefault(_org_key(region, organization_id), _OrgNames())
                for entity_id, mailbox in found.items():
                    org.put(mailbox)
                    if mailbox.entity_id != entity_id:
                        # Asked by name or email: remember that spelling as well.
                        org.aliases.setdefault(entity_id.lower(), mailbox.entity_id)
                for entity_id in missing:
                    org.missing[entity_id] = now
                self._save()
        if stop is not None:
            raise stop
        return found

    # ---- the cache file ----------------------------------------------------------------------

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            with open(self.cache_path, "rb") as handle:
                data = handle.read(_MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return
        except OSError as exc:
            self.last_problem = f"{self.cache_path}: cannot be read ({exc.strerror or exc})"
            return
        try:
            if len(data) > _MAX_FILE_BYTES:
                raise ValueError("it is too large to be a names cache")
            self._orgs = self._parse(parse_json(data))
        except (JSONProblem, ValueError, TypeError) as exc:
            self._orgs = {}
            self._set_aside(str(exc))

    @staticmethod
    def _parse(document: object) -> dict[str, _OrgNames]:
        if not isinstance(document, dict):
            raise ValueError("it is not a JSON object")
        if document.get("version") != FORMAT_VERSION:
            raise ValueError(f"version {document.get('version')!r} is not {FORMAT_VERSION}")
        organizations = document.get("organizations", {})
        if not isinstance(organizations, Mapping):
            raise ValueError("'organizations' is not an object")
        return {str(key): _OrgNames.from_json(value) for key, value in organizations.items()}

    def _set_aside(self, problem: str) -> None:
        try:
            backup = move_aside(self.cache_path)
        except OSError:
            self.last_problem = f"{self.cache_path}: ignored ({problem})"
            return
        self.last_problem = f"{self.cache_path}: {problem}; moved aside to {backup.name}"

    def _save(self) -> None:
        document = {
            "version": FORMAT_VERSION,
            "organizations": {key: org.to_json() for key, org in sorted(self._orgs.items())},
        }
        data = (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            write_private_file(self.cache_path, data)
        except OSError as exc:
            # A cache that cannot be written costs a listing next start, nothing more.
            self.last_problem = f"{self.cache_path}: not saved ({exc.strerror or exc})"
