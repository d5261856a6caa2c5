"""Mailbox sizes (GetMailboxDetails' MailboxSize, MB), cached beside the names and the jobs.

A size flags an export far smaller than its mailbox (SUSPICIOUS) and goes into the report and
the coverage projection. One call per mailbox, so sizes are kept a day in
`<cache dir>/mailbox-sizes.json`; a file that cannot be read is started over (sizes are a
nicety, never a reason to fail).

    sizes = MailboxSizes(path).lookup(reader, region, organization_id, entity_ids)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wmtui.core.locations import write_private_file
from wmtui.core.service import ServiceError

__all__ = ["MAX_AGE", "MailboxSizes", "SizeReader"]

MAX_AGE = timedelta(days=1)
_MAX_FILE_BYTES = 32 * 1024 * 1024
_WORKERS = 16

# GetMailboxDetails: (region, organization, entity) -> MB, or None when the service has none.
SizeReader = Callable[[str, str, str], "float | None"]


class MailboxSizes:
    """Sizes by (region, organization, entity ID), each with when it was read."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], datetime] | None = None,
        create_folder: bool = True,
    ) -> None:
        self.path = Path(path)
        # False: save only into a folder that exists (the app's, made at its start): a worker
        # finishing after the app ended must not bring back a folder the exit removed.
        self._create_folder = create_folder
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._sizes: dict[str, list[object]] | None = None
        # The last call that failed, for a warning; None if none did.
        self.last_problem: str | None = None

    def _load(self) -> dict[str, list[object]]:
        if self._sizes is None:
            sizes: dict[str, list[object]] = {}
            try:
                if self.path.is_file() and self.path.stat().st_size <= _MAX_FILE_BYTES:
                    document = json.loads(self.path.read_text(encoding="utf-8"))
                    if isinstance(document, dict):
                        sizes = {
                            k: v for k, v in document.items() if isinstance(v, list) and len(v) == 2
                        }
            except (OSError, ValueError):
                sizes = {}
            self._sizes = sizes
        return self._sizes

    @staticmethod
    def _key(region: str, organization_id: str, entity_id: str) -> str:
        return f"{region}/{organization_id}/{entity_id}"

    def known(self, region: str, organization_id: str, entity_id: str) -> float | None:
        """The cached size if it is less than a day old."""
        with self._lock:
            entry = self._load().get(self._key(region, organization_id, entity_id))
        if entry is None:
            return None
        size, read_at = entry
        try:
            when = datetime.fromisoformat(str(read_at))
        except ValueError:
            return None
        if self._clock() - when > MAX_AGE or not isinstance(size, int | float):
            return None
        return float(size)

    def lookup(
        self, reader: SizeReader, region: str, organization_id: str, entity_ids: Iterable[str]
    ) -> dict[str, float]:
        """Every size known or readable now, by entity ID; those not cached are read in
        parallel and saved. A failed read leaves that mailbox out (and sets last_problem)."""
        found: dict[str, float] = {}
        missing: list[str] = []
        for entity_id in dict.fromkeys(entity_ids):
            size = self.known(region, organization_id, entity_id)
            if size is not None:
                found[entity_id] = size
            else:
                missing.append(entity_id)
        if not missing:
            return found
        now = self._clock().isoformat()

        stop = threading.Event()

        def read(entity_id: str) -> tuple[str, float | None, str | None]:
            if stop.is_set():
                return entity_id, None, None
            try:
                return entity_id, reader(region, organization_id, entity_id), None
            except ServiceError as exc:
                if exc.kind.affects_all:
                    stop.set()  # denied or offline: the other mailboxes would fail the same way
                return entity_id, None, f"{exc.message} ({exc.fix})" if exc.fix else exc.message

        with ThreadPoolExecutor(
            min(_WORKERS, len(missing)), thread_name_prefix="wmtui-size"
        ) as pool:
            answers = list(pool.map(read, missing))
        with self._lock:
            sizes = self._load()
            for entity_id, size, problem in answers:
                if problem is not None:
                    self.last_problem = problem
                    continue
                if size is not None:
                    found[entity_id] = size
                    sizes[self._key(region, organization_id, entity_id)] = [size, now]
            data = json.dumps(sizes, separators=(",", ":")).encode("utf-8")
        if not self._create_folder and not self.path.parent.is_dir():
            return found
        try:
            write_private_file(self.path, data)
        except OSError as exc:
            self.last_problem = f"{self.path}: could not save mailbox sizes ({exc.strerror or exc})"
        return found
