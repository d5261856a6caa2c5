"""The watch list's commands: add, remove and list, and the job table they (and status) print.

Also the pieces other commands share about watched jobs: who a mailbox is (names), and folding
jobs just read into the job cache.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from wmtui.cli.arguments import keys_from_args
from wmtui.cli.errors import EXIT_OK
from wmtui.cli.output import (
    PROG,
    job_record,
    json_dump,
    note,
    plain,
    say,
    table_lines,
)
from wmtui.core.display import (
    compact_timestamp,
    has_been_read,
    mailbox_name,
    progress_percent,
    state_word,
)
from wmtui.core.models import ExportJob, JobKey, Mailbox
from wmtui.core.service import ServiceError
from wmtui.factory import Backend

NameOf = Callable[[JobKey, "ExportJob | None"], "Mailbox | None"]
# What a group of jobs belongs to, said after its organization: "profile a, account 1234...".
OwnerOf = Callable[[str, str], str]


def several_profiles(backend: Backend, watched: Iterable[JobKey]) -> bool:
    """True when the watched jobs belong to more than one profile (after a watch-list load)."""
    router = backend.router
    return router is not None and len(router.labels_in(watched)) > 1


def owner_lookup(backend: Backend, watched: Sequence[JobKey], *, ask: bool) -> OwnerOf | None:
    """Each organization's profile (and account, once STS has said it, asked when `ask`);
    None when every job belongs to one profile, so single-account output stays as it was."""
    router = backend.router
    if router is None or not several_profiles(backend, watched):
        return None
    if ask:
        router.learn_accounts(watched)

    def owner(region: str, organization_id: str) -> str:
        label = router.label_of(region, organization_id)
        account = router.account_label(region, organization_id)
        return f"profile {label}" + (f", account {account}" if account != label else "")

    return owner


def profile_fields(backend: Backend, key: JobKey) -> dict[str, str | None]:
    """The JSON record's Profile (null: the default chain) and Account (null until known)."""
    router = backend.router
    if router is None:
        return {"Profile": None, "Account": None}
    profile = router.profile_of(key.region, key.organization_id)
    label = router.label(profile)
    account = router.account_label(key.region, key.organization_id)
    return {"Profile": profile, "Account": account if account != label else None}


def name_lookup(backend: Backend) -> NameOf:
    """Who a job's mailbox is, from the names cache only (never a call)."""
    names = backend.names

    def lookup(key: JobKey, job: ExportJob | None) -> Mailbox | None:
        if job is None or not job.entity_id:
            return None
        return names.lookup(key.region, key.organization_id, job.entity_id)

    return lookup


def warn_names_problem(backend: Backend) -> None:
    problem = backend.names.last_problem
    if problem:
        note(f"{PROG}: warning: {plain(problem)}")


def learn_names(
    backend: Backend,
    entity_ids: Mapping[tuple[str, str], Iterable[str]],
    *,
    skip: Iterable[tuple[str, str]] = (),
) -> None:
    """List each organization's mailboxes when the names cache is stale, and Describe the
    entities it does not know. Names are a nicety: a failure is a warning, never an exit code."""
    names = backend.names
    skipped = set(skip)
    router = backend.router
    # A problem with a profile's credentials is said once; its other organizations are skipped.
    failed_profiles: set[str] = set()
    for (region, organization), wanted in entity_ids.items():
        if (region, organization) in skipped:
            continue
        label = router.label_of(region, organization) if router is not None else ""
        if label in failed_profiles:
            continue
        try:
            names.refresh_org(backend.service, region, organization)
            names.resolve_missing(backend.service, region, organization, sorted(set(wanted)))
        except ServiceError as exc:
            note(
                f"{PROG}: warning: mailbox names of {organization} ({region}) could not be "
                f"read, showing IDs: {plain(exc.message)}"
            )
            if exc.kind.affects_all:
                failed_profiles.add(label)
    warn_names_problem(backend)


def remember_jobs(
    backend: Backend, jobs: Iterable[ExportJob], watched: Collection[JobKey]
) -> str | None:
    """Fold jobs a command has just read into the job cache (the watched ones, each over
    what the cache knew of it), so `list` and the app's first paint show them without a
    call. Returns the problem if the cache could not be saved."""
    read = [job for job in jobs if job.key in watched]
    if not read:
        return None
    known = backend.cache.load()
    merged = dict(known)
    for job in read:
        old = known.get(job.key)
        merged[job.key] = old.merged_with(job) if old is not None else job
    if backend.cache.save(merged):
        return None
    return backend.cache.last_problem


def _state_text(job: ExportJob | None) -> str:
    if job is None or not has_been_read(job):
        return "never seen"
    return plain(state_word(job))


def _progress_text(job: ExportJob | None) -> str:
    if job is None or job.progress is None:
        return "-"
    return progress_percent(job.progress)


def _mailbox_text(job: ExportJob | None, mailbox: Mailbox | None) -> str:
    name = mailbox_name(job, mailbox)
    return plain(name) if name is not None else "-"


def print_jobs_table(
    watched: Sequence[JobKey],
    jobs: Mapping[JobKey, ExportJob],
    *,
    name_of: NameOf,
    fresh: Iterable[JobKey] = (),
    failed: Iterable[JobKey] = (),
    owner_of: OwnerOf | None = None,
) -> None:
    """One table per (region, organization): a cron mail a person can read. With several
    profiles, each organization's heading says its profile (and account)."""
    fresh_keys = set(fresh)
    failed_keys = set(failed)
    groups: dict[tuple[str, str], list[JobKey]] = {}
    for key in watched:
        groups.setdefault((key.region, key.organization_id), []).append(key)
    first = True
    for (region, organization), keys in groups.items():
        if not first:
            say()
        first = False
        owner = f" · {plain(owner_of(region, organization))}" if owner_of is not None else ""
        say(f"{organization} ({region}){owner}")
        rows = []
        details: list[str] = []
        for key in keys:
            job = jobs.get(key)
            seen = compact_timestamp(job.last_seen) if job and job.last_seen else "never"
            if job and job.last_seen and key not in fresh_keys:
                seen += " (cached)"
            state = _state_text(job)
            if key in failed_keys:
                state += " !"
            rows.append(
                [
                    plain(key.job_id),
                    _mailbox_text(job, name_of(key, job)),
                    state,
                    _progress_text(job),
                    compact_timestamp(job.start_time) if job else "-",
                    seen,
                    (job.s3_uri if job else None) or "-",
                ]
            )
            if job and job.error_info:
                details.append(f"  {plain(key.job_id)}: {plain(job.error_info)}")
        for line in table_lines(
            ["  JOB", "MAILBOX", "STATE", "PROGRESS", "STARTED", "LAST SEEN", "S3 URI"],
            ([f"  {row[0]}", *row[1:]] for row in rows),
        ):
            say(line)
        if details:
            say("  Why jobs failed (ErrorInfo):")
            for line in details:
                say("  " + line)


def cmd_add(args: argparse.Namespace, backend: Backend) -> int:
    keys = keys_from_args(backend, args.organization_id, args.job_ids)
    # `--profile P` on the command line: the jobs belong to P (their organization's account).
    added = backend.watchlist.add(keys, profile=getattr(args, "profile", None) or None)
    new = set(added)
    for key in keys:
        say(f"{'added' if key in new else 'already watched'}: {plain(key)}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, backend: Backend) -> int:
    keys = keys_from_args(backend, args.organization_id, args.job_ids)
    removed = set(backend.watchlist.remove(keys))
    for key in keys:
        say(f"{'removed' if key in removed else 'not watched'}: {plain(key)}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace, backend: Backend) -> int:
    watched = backend.watchlist.load()
    known = backend.cache.load()
    # Names from the cache only: `list` makes no call.
    name_of = name_lookup(backend)
    if args.json:
        records = [
            {
                **job_record(key, known.get(key), name_of(key, known.get(key))),
                **profile_fields(backend, key),
            }
            for key in watched
        ]
        warn_names_problem(backend)
        say(json_dump({"jobs": records}))
        return EXIT_OK
    if not watched:
        note("No jobs are watched. Add one with: wmtui add ORG_ID JOB_ID")
        return EXIT_OK
    owner_of = owner_lookup(backend, watched, ask=False)
    print_jobs_table(watched, known, name_of=name_of, owner_of=owner_of)
    warn_names_problem(backend)
    say()
    say(f"{len(watched)} watched; last-known states from the cache. `wmtui status` reads them now.")
    return EXIT_OK
