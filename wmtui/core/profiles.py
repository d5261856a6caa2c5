"""Several AWS accounts at once: which profile each organization belongs to, and a service
that sends every call to the profile of the organization it is about.

An organization lives in exactly one account, so the profile travels beside a JobKey rather
than in it: a watch-list entry may name its profile (none means the default chain, as before),
and a `ProfileBook` learns "this organization belongs to that profile" from the watch list and
from what the user picked (the add and import dialogs, `wmtui add --profile`). A
`ProfileRouter` is an ExportService over one service per profile, made when first needed, so
refresh, start, cancel, presign and the names all act with the right credentials unchanged.

No boto3 here: the factory gives the router a function that makes a profile's service.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from wmtui.core.models import ExportJob, JobKey, Mailbox, Organization, StartRequest
from wmtui.core.service import ExportService

OrgKey = tuple[str, str]
# What the default chain (no profile named anywhere) is called on screen and in reports.
DEFAULT_PROFILE_LABEL = "default"
# The filter word that keeps one profile's jobs: `profile:NAME`.
PROFILE_FILTER_PREFIX = "profile:"


def account_of_arn(arn: str | None) -> str | None:
    """The 12-digit account ID in an ARN (arn:aws:sts::123456789012:assumed-role/...)."""
    if not arn:
        return None
    parts = arn.split(":")
    if len(parts) >= 5 and len(parts[4]) == 12 and parts[4].isdigit():
        return parts[4]
    return None


class ProfileBook:
    """Which profile each organization belongs to. Safe to share between threads.

    The watch list is the truth for the organizations it holds (`learn` replaces what it said
    before); a pick not yet saved (`assign`) counts for organizations the file does not name.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._from_file: dict[OrgKey, str] = {}
        self._assigned: dict[OrgKey, str | None] = {}
        # Whether the watch list holds an organization with no profile (the default chain's).
        self._unowned = False

    def learn(self, owners: Mapping[OrgKey, str], organizations: Iterable[OrgKey] = ()) -> None:
        """What the watch list says now: organization -> profile, and every organization."""
        with self._lock:
            self._from_file = dict(owners)
            self._unowned = any(org not in owners for org in organizations)

    @property
    def has_default(self) -> bool:
        """True when some watched organization uses the default chain."""
        with self._lock:
            return self._unowned

    def assign(self, region: str, organization_id: str, profile: str | None) -> None:
        """The user chose `profile` for this organization (None: the default chain)."""
        with self._lock:
            self._assigned[(region, organization_id)] = profile or None

    def owner(self, region: str, organization_id: str) -> str | None:
        """The organization's profile; None when it uses the default chain."""
        org = (region, organization_id)
        with self._lock:
            named = self._from_file.get(org)
            if named is not None:
                return named
            return self._assigned.get(org)

    def profiles(self) -> list[str]:
        """Every profile named, sorted."""
        with self._lock:
            named = set(self._from_file.values())
            named.update(p for p in self._assigned.values() if p)
        return sorted(named)


_T = TypeVar("_T")


class PerProfile(Generic[_T]):
    """One `make(profile)` per profile, made on first use and kept; the default's own for
    organizations with no profile (or the default one)."""

    def __init__(
        self,
        default: _T,
        book: ProfileBook,
        make: Callable[[str], _T] | None,
        default_profile: str | None = None,
    ) -> None:
        self.default = default
        self.book = book
        self.default_profile = default_profile or None
        self._make = make
        self._lock = threading.Lock()
        self._made: dict[str, _T] = {}

    def for_profile(self, profile: str | None) -> _T:
        if not profile or profile == self.default_profile or self._make is None:
            return self.default
        with self._lock:
            made = self._made.get(profile)
            if made is None:
                made = self._made[profile] = self._make(profile)
            return made

    def for_org(self, region: str, organization_id: str) -> _T:
        return self.for_profile(self.book.owner(region, organization_id))


class ProfileRouter:
    """An ExportService that sends each call to the service of the organization's profile.

    `default` serves organizations with no profile (and everything not about one organization,
    such as listing organizations); `make(profile)` builds another profile's service the first
    time it is needed. Anything else (target, default_region, caller_arn ...) is the default's.
    """

    def __init__(
        self,
        default: ExportService,
        book: ProfileBook | None = None,
        make: Callable[[str], ExportService] | None = None,
        *,
        default_profile: str | None = None,
    ) -> None:
        self.default = default
        self.book = book if book is not None else ProfileBook()
        self.default_profile = default_profile or None
        self._services = PerProfile(default, self.book, make, default_profile)
        self._lock = threading.Lock()
        # Account IDs (STS) by profile label, asked once per session.
        self._accounts: dict[str, str | None] = {}
        # The profiles in the AWS config files (the factory's; for the dialogs' pickers).
        self.profile_lister: Callable[[], list[str]] | None = None
        self._available: list[str] | None = None

    def __getattr__(self, name: str) -> Any:
        # default_region, endpoint_url, wrapped, caller_arn ...: the default service's.
        if name.startswith("_") or name == "default":
            raise AttributeError(name)  # not built yet (copy, pickle): never recurse
        return getattr(self.default, name)

    # ---- which profile -----------------------------------------------------------------------

    def profile_of(self, region: str, organization_id: str) -> str | None:
        """The profile acting for this organization (None: the default chain)."""
        return self.book.owner(region, organization_id) or self.default_profile

    def label(self, profile: str | None) -> str:
        """A profile as people read it: its name, or "default"."""
        return profile or self.default_profile or DEFAULT_PROFILE_LABEL

    def label_of(self, region: str, organization_id: str) -> str:
        return self.label(self.profile_of(region, organization_id))

    def service_for_profile(self, profile: str | None) -> ExportService:
        """The service acting as `profile` (made on first use)."""
        return self._services.for_profile(profile)

    def service_for(self, region: str, organization_id: str) -> ExportService:
        return self.service_for_profile(self.profile_of(region, organization_id))

    def split_by_profile(
        self, keys: Iterable[JobKey]
    ) -> list[tuple[str, ExportService, list[JobKey]]]:
        """The keys by profile (label, its service, its keys in their order), default first."""
        groups: dict[str | None, list[JobKey]] = {}
        owners: dict[OrgKey, str | None] = {}
        for key in keys:
            org = (key.region, key.organization_id)
            if org not in owners:
                owners[org] = self.profile_of(*org)
            groups.setdefault(owners[org], []).append(key)
        ordered = sorted(groups, key=lambda p: (p is not None, p or ""))
        return [(self.label(p), self.service_for_profile(p), groups[p]) for p in ordered]

    def labels_in(self, keys: Iterable[JobKey]) -> list[str]:
        """The profiles these jobs belong to, as labels, sorted."""
        orgs = {(key.region, key.organization_id) for key in keys}
        return sorted({self.label_of(*org) for org in orgs})

    def available_profiles(self) -> list[str]:
        """The profiles to pick from: the AWS config files' and those the watch list names,
        sorted (the files are read once; botocore loads on the first call)."""
        with self._lock:
            known = self._available
        if known is None:
            listed: list[str] = []
            if self.profile_lister is not None:
                try:
                    listed = list(self.profile_lister())
                except Exception:
                    listed = []  # a broken config file: the calls say why
            with self._lock:
                known = self._available = listed
        return sorted({*known, *self.book.profiles()})

    # ---- accounts ----------------------------------------------------------------------------

    def account_label(self, region: str, organization_id: str) -> str:
        """The account ID when STS has told it, else the profile's name (never a call)."""
        label = self.label_of(region, organization_id)
        with self._lock:
            account = self._accounts.get(label)
        return account or label

    def learn_accounts(self, keys: Iterable[JobKey]) -> bool:
        """Ask STS who each profile of `keys` is, once per profile; True when one is new.

        Blocking (a call per profile not asked yet): run it off the UI thread."""
        learned = False
        seen: set[str | None] = set()
        for key in keys:
            profile = self.profile_of(key.region, key.organization_id)
            if profile in seen:
                continue
            seen.add(profile)
            with self._lock:
                if self.label(profile) in self._accounts:
                    continue
            learned = self.learn_account(profile) is not None or learned
        return learned

    def learn_account(self, profile: str | None) -> str | None:
        """The profile's account ID (STS, asked once; None when it cannot be known)."""
        label = self.label(profile)
        with self._lock:
            if label in self._accounts:
                return self._accounts[label]
        ask = getattr(self.service_for_profile(profile), "caller_arn", None)
        arn: object = None
        if callable(ask):
            try:
                arn = ask()
            except Exception:
                arn = None  # the profile's name stands in
        account = account_of_arn(arn if isinstance(arn, str) else None)
        with self._lock:
            self._accounts[label] = account
        return account

    # ---- the ExportService calls -------------------------------------------------------------

    @property
    def target(self) -> str:
        named = self.book.profiles()
        if not named or named == [self.default_profile]:
            return self.default.target
        labels = {*named, self.label(None)} if self.book.has_default else set(named)
        return "profiles " + ", ".join(sorted(labels))

    def describe_job(self, key: JobKey) -> ExportJob:
        return self.service_for(key.region, key.organization_id).describe_job(key)

    def list_jobs(self, region: str, organization_id: str) -> list[ExportJob]:
        return self.service_for(region, organization_id).list_jobs(region, organization_id)

    def start_job(self, region: str, organization_id: str, request: StartRequest) -> JobKey:
        service = self.service_for(region, organization_id)
        return service.start_job(region, organization_id, request)

    def cancel_job(self, key: JobKey, client_token: str | None = None) -> None:
        self.service_for(key.region, key.organization_id).cancel_job(key, client_token)

    def list_organizations(self, region: str) -> list[Organization]:
        return self.default.list_organizations(region)

    def list_mailboxes(self, region: str, organization_id: str) -> list[Mailbox]:
        return self.service_for(region, organization_id).list_mailboxes(region, organization_id)

    def describe_mailbox(self, region: str, organization_id: str, entity_id: str) -> Mailbox:
        service = self.service_for(region, organization_id)
        return service.describe_mailbox(region, organization_id, entity_id)

    def presign_url(self, job: ExportJob, expires_in: int) -> str:
        key = job.key
        return self.service_for(key.region, key.organization_id).presign_url(job, expires_in)


def profile_filter(words: Iterable[str]) -> tuple[list[str], list[str]]:
    """A filter's words split into profile names (`profile:NAME`) and the other words."""
    profiles: list[str] = []
    rest: list[str] = []
    for word in words:
        if word.startswith(PROFILE_FILTER_PREFIX) and len(word) > len(PROFILE_FILTER_PREFIX):
            profiles.append(word[len(PROFILE_FILTER_PREFIX) :])
        else:
            rest.append(word)
    return profiles, rest
