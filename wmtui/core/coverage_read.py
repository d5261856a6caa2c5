"""Reading what coverage needs: the organization's mailboxes and every job known for them.

The jobs come from four places, freshest last (a later record of a job wins): the saved state of
organization exports (`wmtui export-org`, `E`), the job cache (watched jobs, any age), and a
fresh ListMailboxExportJobs (the last seven days). No textual, no boto3: the service is given.

    data = read_coverage(service, names, region, org, known=cache.load().values(),
                         snapshots=find_exports(data_dir, region=region, organization_id=org))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from wmtui.core.destinations import STATE_KEY
from wmtui.core.export import ExportSnapshot, MailboxStatus
from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox
from wmtui.core.names import NameDirectory
from wmtui.core.service import ExportService, ServiceError
from wmtui.core.settings import load_ui_state, save_ui_state


@dataclass
class CoverageData:
    """What one read found; `jobs_error` says why the jobs are only the saved ones."""

    region: str
    organization_id: str
    mailboxes: list[Mailbox] = field(default_factory=list)
    jobs: list[ExportJob] = field(default_factory=list)
    jobs_error: ServiceError | None = None


def jobs_from_exports(snapshots: Iterable[ExportSnapshot]) -> list[ExportJob]:
    """The jobs organization exports started, as their state files last saw them."""
    found: list[ExportJob] = []
    for snapshot in snapshots:
        region, organization_id = snapshot.spec.region, snapshot.spec.organization_id
        for record in snapshot.records:
            if not record.job_id:
                continue
            state = JobState.parse(record.job_state)
            if state is JobState.UNKNOWN and record.status is MailboxStatus.RUNNING:
                state = JobState.RUNNING
            found.append(
                ExportJob(
                    key=JobKey(region, organization_id, record.job_id),
                    state=state,
                    raw_state=record.job_state,
                    entity_id=record.entity_id,
                    s3_bucket_name=record.s3_bucket_name,
                    s3_path=record.s3_path,
                    estimated_progress=record.progress,
                    error_info=record.error_info,
                    start_time=record.start_time,
                    end_time=record.end_time,
                )
            )
    return found


def read_coverage(
    service: ExportService,
    names: NameDirectory,
    region: str,
    organization_id: str,
    *,
    known: Iterable[ExportJob] = (),
    snapshots: Sequence[ExportSnapshot] = (),
    force_names: bool = False,
) -> CoverageData:
    """The mailboxes (the names cache, listed again when stale) and the jobs of the organization.

    Raises ServiceError when the mailboxes cannot be listed and none are cached; a failed
    job listing is kept in `jobs_error` (the saved jobs still count)."""
    data = CoverageData(region, organization_id)
    try:
        mailboxes = names.refresh_org(service, region, organization_id, force=force_names)
    except ServiceError:
        mailboxes = names.mailboxes(region, organization_id)
        if not mailboxes:
            raise
    data.mailboxes = list(mailboxes.values())
    jobs = jobs_from_exports(snapshots)
    jobs += [
        job
        for job in known
        if (job.key.region, job.key.organization_id) == (region, organization_id)
    ]
    try:
        jobs += service.list_jobs(region, organization_id)
    except ServiceError as exc:
        data.jobs_error = exc
    data.jobs = jobs
    return data


@dataclass
class KnownOrganization:
    """An organization wmtui has met, and where: to pick one for the mailboxes screen."""

    region: str
    organization_id: str
    sources: list[str] = field(default_factory=list)  # "watch list", "names cache", ...
    mailboxes: int = 0  # as many as the names cache knows


def known_organizations(
    *,
    watched: Iterable[JobKey],
    names: NameDirectory,
    config_dir: Path,
    exports: Iterable[ExportSnapshot] = (),
) -> list[KnownOrganization]:
    """Every organization of the watch list, the names cache, the remembered destinations and
    the saved organization exports, once each, the watch list's first."""
    found: dict[tuple[str, str], KnownOrganization] = {}

    def add(region: str, organization_id: str, source: str) -> None:
        if not region or not organization_id:
            return
        known = found.setdefault(
            (region, organization_id), KnownOrganization(region, organization_id)
        )
        if source not in known.sources:
            known.sources.append(source)

    for key in watched:
        add(key.region, key.organization_id, "watch list")
    for region, organization_id in names.organizations():
        add(region, organization_id, "names cache")
    remembered = load_ui_state(config_dir).get(STATE_KEY)
    if isinstance(remembered, dict):
        for organization_id, data in reversed(list(remembered.items())):
            if isinstance(data, dict) and isinstance(data.get("region"), str):
                add(data["region"], str(organization_id), "destination")
    for snapshot in exports:
        add(snapshot.spec.region, snapshot.spec.organization_id, "organization export")
    for known in found.values():
        known.mailboxes = len(names.mailboxes(known.region, known.organization_id))
    return list(found.values())


# ui-state.json's key for the cut-off dates set on the mailboxes screen, by "region/organization".
CUTOFFS_KEY = "coverage_cutoffs"


def remembered_cutoff(config_dir: Path, region: str, organization_id: str) -> date | None:
    """The cut-off date last set on the mailboxes screen for the organization, if any."""
    found = load_ui_state(config_dir).get(CUTOFFS_KEY)
    text = found.get(f"{region}/{organization_id}") if isinstance(found, dict) else None
    try:
        return date.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def remember_cutoff(config_dir: Path, region: str, organization_id: str, day: date | None) -> bool:
    """Keep (or, with None, forget) the organization's cut-off; False if it could not be saved."""
    state = load_ui_state(config_dir)
    found = state.get(CUTOFFS_KEY)
    cutoffs = dict(found) if isinstance(found, dict) else {}
    key = f"{region}/{organization_id}"
    if day is None:
        cutoffs.pop(key, None)
    else:
        cutoffs[key] = day.isoformat()
    state[CUTOFFS_KEY] = cutoffs
    return save_ui_state(config_dir, state)
