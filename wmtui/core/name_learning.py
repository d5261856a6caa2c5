"""Learning who the watched mailboxes are: one service for the app and the CLI alike.

For each organization, in parallel: list its mailboxes when the directory is stale (or asked),
then Describe the entities it still does not know. Names are a nicety: nothing here raises, a
failure is handed back per organization for the caller to word, and an organization that failed
is left alone for a while (5 minutes after throttling or network trouble, an hour otherwise).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wmtui.core.models import Mailbox, now_utc
from wmtui.core.names import NameDirectory
from wmtui.core.service import ExportService, ServiceError

OrgKey = tuple[str, str]
NameKey = tuple[str, str, str]

# After mailbox names could not be read for an organization, wait this long to try again by
# itself (asking for the organization by name, `force`, tries at once).
NAMES_RETRY_AFTER = timedelta(hours=1)
TRANSIENT_RETRY_AFTER = timedelta(minutes=5)
# Organizations read at once; each listing is a few pages, each Describe one call.
MAX_PARALLEL_ORGS = 8


@dataclass
class NamesOutcome:
    """What one round learned: names for the wanted entities, and what failed where."""

    names: dict[NameKey, Mailbox] = field(default_factory=dict)
    failures: dict[OrgKey, Exception] = field(default_factory=dict)
    # The directory's own trouble (its cache file unreadable or unwritable), if any.
    cache_problem: str | None = None
    cancelled: bool = False


def in_daemon_threads(
    function: Callable[[OrgKey], Exception | None], items: Sequence[OrgKey], workers: int
) -> list[Exception | None]:
    """`function` of each item on `workers` threads, in the items' order.

    Daemon threads, unlike ThreadPoolExecutor's: one call hung on a dead network must not hold
    up the interpreter's exit after Ctrl+C (`wmtui status` reads names this way)."""
    results: list[Exception | None] = [None] * len(items)
    todo = iter(enumerate(items))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                step = next(todo, None)
            if step is None:
                return
            index, item = step
            results[index] = function(item)

    threads = [
        threading.Thread(target=work, name=f"wmtui-names_{n}", daemon=True) for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class NameLearner:
    """Learns mailbox names into a `NameDirectory`. Thread-safe; call it from workers."""

    def __init__(
        self,
        names: NameDirectory,
        *,
        clock: Callable[[], datetime] = now_utc,
        max_parallel: int = MAX_PARALLEL_ORGS,
    ) -> None:
        self.names = names
        self._clock = clock
        self._max_parallel = max_parallel
        self._lock = threading.Lock()
        self._retry_at: dict[OrgKey, datetime] = {}
        # What callers were already handed (see `news`).
        self._sent: dict[NameKey, Mailbox] = {}

    def learn(
        self,
        service: ExportService,
        wanted: Mapping[OrgKey, Collection[str]],
        *,
        skip: Collection[OrgKey] = (),
        force: OrgKey | None = None,
        is_cancelled: Callable[[], bool] = lambda: False,
    ) -> NamesOutcome:
        """Read each organization of `wanted` (in parallel) and say who its entities are.

        `skip`: organizations not to ask now (their jobs could not be read either). `force`:
        list that organization again even if its directory is fresh or it failed lately.
        """
        now = self._clock()
        with self._lock:
            orgs = [
                org
                for org in wanted
                if org == force
                or (org not in skip and not (org in self._retry_at and now < self._retry_at[org]))
            ]
        outcome = NamesOutcome()
        if orgs and not is_cancelled():
            self._read_all(service, orgs, wanted, force, is_cancelled, outcome)
        outcome.cancelled = is_cancelled()
        outcome.names = self.known(wanted)
        outcome.cache_problem = self.names.last_problem
        return outcome

    def _read_all(
        self,
        service: ExportService,
        orgs: list[OrgKey],
        wanted: Mapping[OrgKey, Collection[str]],
        force: OrgKey | None,
        is_cancelled: Callable[[], bool],
        outcome: NamesOutcome,
    ) -> None:
        def read(org: OrgKey) -> Exception | None:
            if is_cancelled():
                return None
            try:
                self._read_org(service, org, wanted[org], force=org == force)
            except Exception as exc:  # names are a nicety: they never fail a refresh
                return exc
            return None

        if len(orgs) == 1:
            results = [read(orgs[0])]
        else:
            results = in_daemon_threads(read, orgs, min(self._max_parallel, len(orgs)))
        now = self._clock()
        with self._lock:
            for org, error in zip(orgs, results, strict=True):
                if error is None:
                    self._retry_at.pop(org, None)
                    continue
                outcome.failures[org] = error
                transient = isinstance(error, ServiceError) and error.kind.is_transient
                wait = TRANSIENT_RETRY_AFTER if transient else NAMES_RETRY_AFTER
                self._retry_at[org] = now + wait

    def _read_org(
        self, service: ExportService, org: OrgKey, entity_ids: Collection[str], *, force: bool
    ) -> None:
        region, organization_id = org
        names = self.names
        if force or not names.is_fresh(region, organization_id):
            names.refresh_org(service, region, organization_id, force=force)
        missing = [e for e in entity_ids if names.lookup(region, organization_id, e) is None]
        if missing:
            names.resolve_missing(service, region, organization_id, sorted(missing))

    def known(self, wanted: Mapping[OrgKey, Collection[str]]) -> dict[NameKey, Mailbox]:
        """Who the wanted entities are, from memory (the directory and its cache file)."""
        found: dict[NameKey, Mailbox] = {}
        for (region, organization_id), entity_ids in wanted.items():
            for entity_id in entity_ids:
                mailbox = self.names.lookup(region, organization_id, entity_id)
                if mailbox is not None:
                    found[(region, organization_id, entity_id)] = mailbox
        return found

    def news(self, found: Mapping[NameKey, Mailbox]) -> dict[NameKey, Mailbox]:
        """What of `found` was not handed out before (and is marked as handed out now)."""
        with self._lock:
            news = {k: m for k, m in found.items() if self._sent.get(k) != m}
            self._sent.update(news)
        return news
