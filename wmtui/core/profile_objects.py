"""The export files in S3 and the doctor's checks for jobs of several profiles: each with its
organization's profile's credentials (an account's bucket is rarely readable from another)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wmtui.core.models import ExportJob, JobKey, now_utc
from wmtui.core.profiles import PerProfile, ProfileBook
from wmtui.core.service import ExportObjects

if TYPE_CHECKING:
    from wmtui.core.fetching import FetchResult
    from wmtui.core.preflight import DoctorReport, Preflight, PreflightTarget
    from wmtui.core.verification import ObjectFacts, Verification


class ProfileObjects:
    """An ExportObjects sending each job to its organization's profile's ExportObjects."""

    def __init__(
        self,
        default: ExportObjects,
        book: ProfileBook,
        make: Callable[[str], ExportObjects],
        *,
        default_profile: str | None = None,
    ) -> None:
        self.default = default
        self._made = PerProfile(default, book, make, default_profile)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "default":
            raise AttributeError(name)
        return getattr(self.default, name)

    def for_org(self, region: str, organization_id: str) -> ExportObjects:
        return self._made.for_org(region, organization_id)

    def _for(self, job: ExportJob) -> ExportObjects:
        return self.for_org(job.key.region, job.key.organization_id)

    def check(
        self,
        job: ExportJob,
        *,
        mailbox_size_mb: float | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> Verification:
        return self._for(job).check(job, mailbox_size_mb=mailbox_size_mb, clock=clock)

    def check_many(
        self,
        jobs: Iterable[ExportJob],
        *,
        mailbox_sizes: Mapping[JobKey, float] | None = None,
        clock: Callable[[], datetime] = now_utc,
        on_result: Callable[[ExportJob, Verification], None] | None = None,
    ) -> dict[JobKey, Verification]:
        groups: dict[int, tuple[ExportObjects, list[ExportJob]]] = {}
        for job in jobs:
            objects = self._for(job)
            groups.setdefault(id(objects), (objects, []))[1].append(job)
        found: dict[JobKey, Verification] = {}
        for objects, group in groups.values():
            found.update(
                objects.check_many(
                    group, mailbox_sizes=mailbox_sizes, clock=clock, on_result=on_result
                )
            )
        return found

    def mailbox_size_mb(self, region: str, organization_id: str, entity_id: str) -> float | None:
        objects = self.for_org(region, organization_id)
        return objects.mailbox_size_mb(region, organization_id, entity_id)

    def head_object(self, job: ExportJob) -> ObjectFacts | None:
        return self._for(job).head_object(job)

    def download(
        self,
        job: ExportJob,
        folder: Path,
        facts: ObjectFacts,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> FetchResult:
        return self._for(job).download(job, folder, facts, progress=progress)


class ProfilePreflight:
    """The doctor's checks with the credentials of the profile the organization belongs to."""

    def __init__(
        self,
        default: Preflight,
        book: ProfileBook,
        make: Callable[[str], Preflight],
        *,
        default_profile: str | None = None,
    ) -> None:
        self.default = default
        self._made = PerProfile(default, book, make, default_profile)

    def run(self, target: PreflightTarget) -> DoctorReport:
        return self._made.for_org(target.region, target.organization_id).run(target)
