"""Last-known job states, kept in `<cache dir>/jobs.json`.

So the next start shows every job (with the time it was last seen) before the first call
returns. The cache is disposable: a file that cannot be read is moved aside to
`jobs.json.corrupt-<UTC time>` and wmtui starts from nothing. It never touches the watch list.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import UTC, datetime
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
    JobState,
    ValidationError,
    validate_job_id,
    validate_organization_id,
)
from wmtui.core.verification import Verification

FORMAT_VERSION = 1
MAX_FILE_BYTES = 256 * 1024 * 1024


def _time(value: object) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


def _verification(value: object) -> Verification | None:
    """A saved S3 check; one this version cannot read is dropped (checked again), never the
    whole cache."""
    try:
        return Verification.from_dict(value)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


# How each cached field is read back (what ExportJob.from_dict does, worked out once rather
# than once per record: loading 10,000 jobs is on the way to the first paint).
_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "start_time": _time,
    "end_time": _time,
    "last_seen": _time,
    "state": JobState.parse,
    "estimated_progress": int,
    "described": bool,
    # Absent from files written before verification existed: those still load as they were.
    "verification": _verification,
}
_FIELDS: tuple[tuple[str, Callable[[Any], Any]], ...] = tuple(
    (f.name, _CONVERTERS.get(f.name, str)) for f in fields(ExportJob) if f.name != "key"
)
_NEVER_NONE = frozenset({"state", "described"})


def _line(job: ExportJob) -> str:
    """One job's record, one line of JSON (json's C encoder: `indent` uses the Python one,
    several times slower, and a save runs beside the UI after every refresh that changed)."""
    return json.dumps(job.to_dict(), ensure_ascii=False)


def _sort_key(key: JobKey) -> tuple[str, str, str]:
    """JobKey's own order, compared as plain tuples (its __lt__ is Python code)."""
    return (key.region, key.organization_id, key.job_id)


class _Unusable(Exception):
    """The cache file cannot be used; str() says why."""


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """(modification time in ns, size, inode) of `path`, None if it is not there: one stat
    tells whether another process saved it (a save replaces the file)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)


class JobCache:
    """Load and save the last-known ExportJob of each key. Never raises for a bad file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # What went wrong at the last load or save, for a notice; None if nothing did.
        self.last_problem: str | None = None
        # The file as this process last read or wrote it (mtime ns, size, inode): another
        # process's save shows as a different stamp (the app then reads its newer states).
        self.stamp: tuple[int, int, int] | None = None
        # The last saved line of each job, by key: a job is immutable, so while the same
        # object is saved again its line is reused (a save after a refresh that changed
        # 1,000 of 10,000 jobs encodes 1,000). Updated in place, and the keys' order is kept
        # while the keys stay the same: a save makes no new objects for the jobs that did
        # not change, which the garbage collector would otherwise walk until the next one.
        self._lines: dict[JobKey, tuple[ExportJob, str]] = {}
        self._order: list[JobKey] = []

    def __repr__(self) -> str:
        return f"JobCache({str(self.path)!r})"

    def load(self) -> dict[JobKey, ExportJob]:
        """The cached jobs; {} if there is no cache or it is unusable (then moved aside)."""
        self.last_problem = None
        self.stamp = file_stamp(self.path)
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
            jobs = self._parse(data)
        except _Unusable as exc:
            return self._set_aside(str(exc))
        self._remember_lines(data, jobs)
        return jobs

    def _remember_lines(self, data: bytes, jobs: dict[JobKey, ExportJob]) -> None:
        """Keep the file's own line of each job, as a save keeps what it wrote: the next save
        encodes only the jobs that changed (`wmtui status` loads 1,000 and changes a few).

        Only for a file laid out as `save` writes it (a line per job, in order)."""
        body = data.decode("utf-8", "replace").split("\n")[1:-2]
        if len(body) != len(jobs):
            return
        lines: dict[JobKey, tuple[ExportJob, str]] = {}
        for (key, job), text in zip(jobs.items(), body, strict=True):
            line = text.strip().removesuffix(",")
            if not (line.startswith("{") and line.endswith("}")):
                return
            lines[key] = (job, line)
        self._lines = lines
        self._order = sorted(lines, key=_sort_key)

    def save(self, jobs: Mapping[JobKey, ExportJob]) -> bool:
        """Write every job atomically (file 0600, folder 0700); False if it could not be.

        A failed save leaves the previous cache as it was and sets `last_problem`: losing
        the cache costs a slower first paint, never a crash.
        """
        lines = self._lines
        if len(jobs) != len(lines) or any(key not in lines for key in jobs):
            self._order = sorted(jobs, key=_sort_key)
            lines = self._lines = {key: lines[key] for key in self._order if key in lines}
        for key, job in jobs.items():
            known = lines.get(key)
            if known is None or known[0] is not job:
                lines[key] = (job, _line(job))
        body = ",\n  ".join(lines[key][1] for key in self._order)
        text = (
            f'{{"version": {FORMAT_VERSION}, "jobs": [\n  {body}\n]}}\n'
            if lines
            else (f'{{"version": {FORMAT_VERSION}, "jobs": []}}\n')
        )
        # "replace": a lone surrogate from the service must not cost every other job's state.
        data = text.encode("utf-8", "replace")
        try:
            write_private_file(self.path, data)
        except OSError as exc:
            self.last_problem = (
                f"{self.path}: could not save the job cache ({exc.strerror or exc}); "
                "the previous one was left as it was"
            )
            return False
        self.last_problem = None
        self.stamp = file_stamp(self.path)
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
        # Organizations and regions repeat over thousands of jobs: checked once each, and one
        # string object each (less memory than one copy per record).
        known: dict[tuple[str, str], str] = {}
        for index, record in enumerate(records):
            job = self._parse_record(index, record, known)
            jobs[job.key] = job
        return jobs

    @staticmethod
    def _parse_record(index: int, record: Any, known: dict[tuple[str, str], str]) -> ExportJob:
        try:
            if not isinstance(record, dict) or not isinstance(record.get("key"), dict):
                raise TypeError("not a job record")
            key_data = record["key"]
            for name in ("region", "organization_id", "job_id"):
                if not isinstance(key_data.get(name), str):
                    raise TypeError(f"its key has no {name}")
            region: str = key_data["region"]
            organization_id: str = key_data["organization_id"]
            job_id: str = key_data["job_id"]
            if ("r", region) not in known:
                if not REGION_PATTERN.fullmatch(region):
                    raise ValidationError("region", region, "is not a region name")
                known[("r", region)] = region
            if ("o", organization_id) not in known:
                validate_organization_id(organization_id)
                known[("o", organization_id)] = organization_id
            validate_job_id(job_id)
            values: dict[str, Any] = {}
            for name, convert in _FIELDS:
                if name in record:
                    value = record[name]
                    if value is not None or name in _NEVER_NONE:
                        value = convert(value)
                    values[name] = value
            job = ExportJob(
                key=JobKey(
                    known[("r", region)],
                    known[("o", organization_id)],
                    job_id,
                ),
                **values,
            )
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
