"""Typed messages from worker threads to the UI thread.

Workers never touch widgets: they post one of these (`post_message` is thread-safe) and the
handler, on the UI thread, updates the screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from textual.message import Message

from wmtui.core.export import ExportProgress
from wmtui.core.models import ExportJob, JobKey, Mailbox, Organization, StartRequest
from wmtui.core.refresh import RefreshResult
from wmtui.core.service import ServiceError
from wmtui.ui.clipboard import YankReport

# (region, organization id, entity id) -> who the mailbox is.
MailboxNames = Mapping[tuple[str, str, str], Mailbox]


@dataclass
class RefreshFinished(Message):
    """One refresh tick is over: `result` holds what it learned, errors included."""

    result: RefreshResult
    # The keys the user asked for with `r` (read even when final).
    forced: frozenset[JobKey] = field(default_factory=frozenset)


@dataclass
class YankFinished(Message):
    """The yank chain ran (it may call tmux or a clipboard tool, so it runs off the UI thread)."""

    report: YankReport
    key: JobKey


@dataclass
class DownloadUrlFailed(Message):
    """A presigned URL could not be made for the job (no credentials, no S3 path ...)."""

    key: JobKey
    problem: str


@dataclass
class OrganizationsListed(Message):
    """ListOrganizations answered (or failed) for the import screen."""

    region: str
    organizations: Sequence[Organization] = ()
    error: ServiceError | None = None


@dataclass
class JobsListed(Message):
    """ListMailboxExportJobs answered (or failed) for the import screen."""

    region: str
    organization_id: str
    jobs: Sequence[ExportJob] = ()
    error: ServiceError | None = None


@dataclass
class CacheProblem(Message):
    """The job cache could not be saved (the cache worker says so instead of dying silently)."""

    problem: str


@dataclass
class NamesLearned(Message):
    """Who the watched mailboxes are, from the name directory (its cache, or fresh calls)."""

    names: MailboxNames
    # Problems met on the way (a listing refused, a cache file unreadable): said once each.
    problems: Sequence[str] = ()
    # The organization `N` asked for, to say it is done; None for the automatic rounds.
    requested: tuple[str, str] | None = None


@dataclass
class MailboxesListed(Message):
    """An organization's mailboxes for the start form's picker (or why there are none)."""

    region: str
    organization_id: str
    mailboxes: Sequence[Mailbox] = ()
    error: str | None = None


@dataclass
class ExportStarted(Message):
    """StartMailboxExportJob answered: `key` is the new job, or `error` says why not."""

    region: str
    organization_id: str
    request: StartRequest
    label: str
    key: JobKey | None = None
    error: ServiceError | None = None


@dataclass
class ExportCancelled(Message):
    """CancelMailboxExportJob answered (error None) or failed."""

    key: JobKey
    error: ServiceError | None = None


@dataclass
class JobDescribed(Message):
    """A Describe for the job under the cursor came back (or failed quietly)."""

    key: JobKey
    job: ExportJob | None = None
    error: ServiceError | None = None


@dataclass
class ExportJobsStarted(Message):
    """The organization-wide export started jobs: the app watches them."""

    keys: Sequence[JobKey]
    records: Sequence[ExportJob] = ()


@dataclass
class ExportTicked(Message):
    """One round of the organization-wide export is done."""

    progress: ExportProgress
    # What happened in the round, for a person ("started Alice", "Bob failed: ...").
    events: Sequence[str] = ()


@dataclass
class ExportHalted(Message):
    """The organization-wide export's worker ended: finished, left, or stopped by an error."""

    problem: str | None = None
    fix: str | None = None
    finished: bool = False
