"""Last-known job states, kept in `<cache dir>/jobs.json`.

So the next start shows every job (with the time it was last seen) before the first call
returns. The cache is disposable: a file that cannot be read is moved aside to
`jobs.json.corrupt-<UTC time>` and wmtui starts from nothing. It never touches the watch list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wmtui.core.locations import (
    JSONProblem,
    NotAFileProblem,
    move_aside,
    parse_json,
    read_file,
    write_private_file,
)
from wmtui.core.models import (
    REGION_PATTERN,
    ExportJob,
    JobKey,
    ValidationError,
    validate_job_id,
    validate_organization_id,
)

FORMAT_VERSION = 1
MAX_FILE_BYTES = 256 * 1024 * 1024


class _Unusable(Exception):
    """The cache file cannot be used; str() says why."""


class JobCache:
    """Load and save the last-known ExportJob of each key. Never raises for a bad file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # What went wrong at the last load or save, for a notice; None if nothing did.
        self.last_problem: str | None = None

    def __repr__(self) -> str:
        return f"JobCache({str(self.path)!r})"

    def load(self) -> dict[JobKey, ExportJob]:
        """The cached jobs; {} if there is no cache or it is unusable (then moved aside)."""
        self.last_problem = None
        try:
            data = read_file(self.path, MAX_FILE_BYTES)
        except NotAFileProblem as exc:
            return self._set_aside(str(exc))
        except OSError as exc:
            # Unreadable (permissions, I/O): leave it; the next save replaces it if it can.
            self.last_problem = (
                f"{self.path}: could not read the job cache ({exc.strerror or exc}); "
                "starting without it"
            )
            return {}
        if data is None:
            return {}
        try:
            return self._parse(data)
        except _Unusable as exc:
            return self._set_aside(str(exc))

    def save(self, jobs: Mapping[JobKey, ExportJob]) -> bool:
        """Write every job atomically (file 0600, folder 0700); False if it could not be.

        A failed save leaves the previous cache as it was and sets `last_problem`: losing
        the cache costs a slower first paint, never a crash.
        """
        document = {
            "version": FORMAT_VERSION,
            "jobs": [jobs[key].to_dict() for key in sorted(jobs)],
        }
        # "replace": a lone surrogate from the service must not cost every other job's state.
        data = (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode(
            "utf-8", "replace"
        )
        try:
            write_private_file(self.path, data)
        except OSError as exc:
            self.last_problem = (
                f"{self.path}: could not save the job cache ({exc.strerror or exc}); "
                "the previous one was left as it was"
            )
            return False
        self.last_problem = None
        return True

    def _parse(self, data: bytes) -> dict[JobKey, ExportJob]:
        if not data.strip():
            raise _Unusable("it is empty")
        try:
            document = parse_json(data)
        except JSONProblem as exc:
            raise _Unusable(str(exc)) from None
        if not isinstance(document, dict):
            raise _Unusable("it is not a JSON object")
        version = document.get("version")
        if version != FORMAT_VERSION or isinstance(version, bool):
            raise _Unusable(f"it has format version {version!r}, not {FORMAT_VERSION}")
        records = document.get("jobs")
        if not isinstance(records, list):
            raise _Unusable('"jobs" is not a list')
        jobs: dict[JobKey, ExportJob] = {}
        for index, record in enumerate(records):
            job = self._parse_record(index, record)
            jobs[job.key] = job
        return jobs

    @staticmethod
    def _parse_record(index: int, record: Any) -> ExportJob:
        try:
            if not isinstance(record, dict) or not isinstance(record.get("key"), dict):
                raise TypeError("not a job record")
            for name in ("region", "organization_id", "job_id"):
                if not isinstance(record["key"].get(name), str):
                    raise TypeError(f"its key has no {name}")
            job = ExportJob.from_dict(record)
            if not REGION_PATTERN.fullmatch(job.key.region):
                raise ValidationError("region", job.key.region, "is not a region name")
            validate_organization_id(job.key.organization_id)
            validate_job_id(job.key.job_id)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise _Unusable(f"jobs[{index}]: {exc}") from None
        return job

    def _set_aside(self, problem: str) -> dict[JobKey, ExportJob]:
        try:
            backup = move_aside(self.path)
        except OSError as exc:
            self.last_problem = (
                f"{self.path}: the job cache is unusable ({problem}) and could not be moved "
                f"aside ({exc.strerror or exc}); starting without it"
            )
        else:
            self.last_problem = (
                f"{self.path}: the job cache was unusable ({problem}); moved it to {backup} "
                "and started without it"
            )
        return {}
