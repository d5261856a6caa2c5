"""Typed messages from worker threads to the UI thread.

Workers never touch widgets: they post one of these (`post_message` is thread-safe) and the
handler, on the UI thread, updates the screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from textual.message import Message

from wmtui.core.models import ExportJob, JobKey, Organization
from wmtui.core.refresh import RefreshResult
from wmtui.core.service import ServiceError
from wmtui.ui.clipboard import YankReport


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
