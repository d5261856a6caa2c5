"""Editing the watch list from the app: add, import, remove, and moving an unreadable one aside.

The file is the truth: each change goes through `WatchList` (which merges with what other
sessions saved) before the screen shows it; a watched job is never dropped by a failed write.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from wmtui.core.cache import JobCache, file_stamp
from wmtui.core.models import ExportJob, JobKey
from wmtui.core.profiles import ProfileRouter
from wmtui.core.watchlist import WatchList, WatchListError, outside_change
from wmtui.ui import announce
from wmtui.ui.safe_text import safe_text, sanitize
from wmtui.ui.screens.add import AddJobsScreen
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.import_jobs import ImportScreen
from wmtui.ui.widgets.job_table import JobTable

if TYPE_CHECKING:
    from wmtui.ui.screens.jobs import JobsScreen

DEFAULT_REGION = "us-east-1"
# How often (seconds) the app looks whether another process changed the watch list file.
OUTSIDE_CHANGE_LOOK = 1.0


class WatchingFlow:
    def __init__(self, screen: JobsScreen) -> None:
        self.screen = screen
        # Several AWS profiles: the rows learn each organization's profile (and account).
        router = screen.service
        self.profiles = router if isinstance(router, ProfileRouter) else None
        screen.rows.profiles = self.profiles
        # The file as this session last read or wrote it: another process's save changes it.
        self._stamp: tuple[int, int, int] | None = None
        self._looking = False
        # The job cache as last read for another process's states (see notice_cache_changes).
        self._cache_seen: tuple[int, int, int] | None = None
        self._cache_reading = False

    @property
    def _watchlist(self) -> WatchList:
        return self.screen.context.watchlist

    def load(self) -> list[JobKey]:
        """The watch list's keys; [] (and the banner's error set) when it cannot be read."""
        screen = self.screen
        try:
            keys = self._watchlist.load()
        except WatchListError as exc:
            screen.watchlist_error = exc
            screen.refresh_bindings()
            return []
        screen.watchlist_error = None
        self._stamp = self._watchlist.stamp()
        if not self._looking:
            # From the first read on, one stat a second: `wmtui add` elsewhere shows at once.
            self._looking = True
            screen.set_interval(OUTSIDE_CHANGE_LOOK, self._look)
        return list(keys)

    def _look(self) -> None:
        if self.screen.widgets_alive():
            self.notice_outside_changes()
            self.notice_cache_changes()

    def notice_cache_changes(self) -> None:
        """Newer states another process read (export-org, `wmtui status`, another app) and
        saved in the job cache this app shares: read off the UI thread, folded in."""
        cache = self.screen.context.cache
        stamp = file_stamp(cache.path)
        if stamp is None or stamp in (cache.stamp, self._cache_seen) or self._cache_reading:
            return  # unchanged, this app's own save, or already being read
        self._cache_seen = stamp
        self._cache_reading = True
        self.screen.run_worker(
            partial(self._read_cache, cache.path),
            thread=True,
            group="outside-cache",
            exit_on_error=False,
            description="read the job cache another wmtui saved",
        )

    def _read_cache(self, path: Path) -> None:
        try:
            # An instance of its own: the app's keeps the lines of what it saved.
            records = JobCache(path).load()
        finally:
            self._cache_reading = False
        with contextlib.suppress(Exception):  # the app is ending: nothing to show it on
            self.screen.app.call_from_thread(self._fold_newer, records)

    def _fold_newer(self, records: dict[JobKey, ExportJob]) -> None:
        screen = self.screen
        if not screen.widgets_alive():
            return
        board = screen.board
        changed: list[JobKey] = []
        ended: list[ExportJob] = []
        for key in board.watched:
            record = records.get(key)
            if record is None or record.last_seen is None:
                continue
            known = board.jobs.get(key)
            seen = known.last_seen if known is not None else None
            if seen is not None and record.last_seen <= seen:
                continue  # this app's own reading is as new
            updated, finished = board.apply_described(record)
            if updated:
                changed.append(key)
            if finished is not None:
                ended.append(finished)
        # One notice per job, or one summary for many (an export-org round ends ten at once).
        announce.finished_jobs(screen, ended, screen.export_flow.started_keys)
        if changed:
            screen.sync_table(changed)
            screen.update_status()

    def notice_outside_changes(self, *, force: bool = False) -> None:
        """Show what other processes (`wmtui add`, export-org, another app) changed in the
        file since this session last read it; the cursor stays on its job. `force` reads the
        file even if it looks unchanged (right after this session's own write: a save by
        another process in between would carry the same kind of stamp)."""
        screen = self.screen
        stamp = self._watchlist.stamp()
        if not force and stamp == self._stamp:
            return
        if screen.watchlist_error is not None:
            return  # the banner says what is wrong with it; m moves it aside
        try:
            keys = self._watchlist.load()
        except WatchListError:
            return  # a save in progress elsewhere, or broken: the next look says
        self._stamp = stamp
        change = outside_change(screen.board.watched, keys)
        if not change:
            return
        selected = screen.selected_key()
        screen.set_watched(change.keys)
        screen.sync_table(change.added or ())
        if selected is not None:
            screen.query_one(JobTable).select_key(str(selected))
        screen.update_status()
        screen.update_detail()
        screen.notify(change.summary() + ".", markup=False)
        screen.cache_writer.save()
        if change.added:
            screen.start_refresh(set(change.added))

    def _region(self) -> str:
        selected = self.screen.selected_key()
        if selected is not None:
            return selected.region
        return self.screen.settings.region or DEFAULT_REGION

    def picker(self) -> tuple[list[str], str | None, str]:
        """The dialogs' profile picker: the AWS config file's profiles (none: no picker, as
        before), the selected job's profile preselected, and what the default chain is."""
        router = self.profiles
        if router is None:
            return [], None, "default"
        selected = self.screen.selected_key()
        chosen = router.profile_of(selected.region, selected.organization_id) if selected else None
        return router.available_profiles(), chosen, router.label(None)

    def add(self) -> None:
        screen = self.screen
        selected = screen.selected_key()
        profiles, profile, default_profile = self.picker()
        dialog = AddJobsScreen(
            region=self._region(),
            organization_id=selected.organization_id if selected else "",
            endpoint_url=screen.settings.endpoint_url,
            watched=set(screen.board.watched),
            cursor_blink=screen.context.cursor_blink,
            profiles=profiles,
            profile=profile,
            default_profile=default_profile,
        )
        screen.app.push_screen(dialog, partial(self._added, dialog))

    def _added(self, dialog: AddJobsScreen, keys: tuple[JobKey, ...] | None) -> None:
        if keys:
            self.watch(keys, profile=dialog.profile)

    def import_jobs(self) -> None:
        screen = self.screen
        profiles, profile, default_profile = self.picker()
        router = self.profiles
        dialog = ImportScreen(
            screen.service,
            region=self._region(),
            watched=set(screen.board.watched),
            endpoint_url=screen.settings.endpoint_url,
            clock=screen.clock,
            palette=screen.palette,
            cursor_blink=screen.context.cursor_blink,
            profiles=profiles,
            profile=profile,
            default_profile=default_profile,
            profile_service=router.service_for_profile if router is not None else None,
        )
        screen.app.push_screen(dialog, partial(self._imported, dialog))

    def _imported(self, dialog: ImportScreen, jobs: tuple[ExportJob, ...] | None) -> None:
        if jobs:
            self.watch([job.key for job in jobs], records=jobs, profile=dialog.profile)

    def watch(
        self,
        keys: Sequence[JobKey],
        records: Sequence[ExportJob] = (),
        *,
        announce: bool = True,
        profile: str | None = None,
    ) -> None:
        """Add to the watch list file and show at once; the next refresh reads them.

        `announce` False (jobs this app started): no "watching" notice, the cursor stays.
        `profile`: the AWS profile the jobs belong to (kept in the file)."""
        screen = self.screen
        try:
            added = self._watchlist.add(keys, profile=profile)
        except WatchListError as exc:
            screen.notify(
                f"Nothing added: {sanitize(str(exc))}", severity="error", markup=False, timeout=12
            )
            return
        already = len(set(keys)) - len(added)
        if not added:
            if announce:
                screen.notify("Those jobs are already watched.", markup=False)
            return
        board = screen.board
        board.add_records(records, set(added))
        screen.set_watched([*board.watched, *added])
        screen.sync_table(added)
        screen.update_status()
        if announce or len(board.watched) == len(added):
            screen.query_one(JobTable).select_key(str(added[0]))
        screen.update_detail()
        if announce:
            count = len(added)
            message = f"Watching {count} more job{'s' if count != 1 else ''}"
            if already:
                message += f" ({already} already watched)"
            screen.notify(message + ".", markup=False)
        screen.cache_writer.save()
        screen.start_refresh(set(added))
        # What another process saved while this one edited (a dialog open) is merged in the
        # file by the write: shown and told now.
        self.notice_outside_changes(force=True)

    def remove(self) -> None:
        screen = self.screen
        key = screen.selected_key()
        if key is None:
            screen.notify("No job selected.", severity="warning", markup=False)
            return
        job = screen.board.jobs.get(key)
        question = Text("Stop watching job ")
        question.append(safe_text(key.job_id, style="bold"))
        if job is not None and job.entity_id:
            question.append(" (mailbox ")
            question.append(safe_text(screen.name_for(key, job) or job.entity_id, limit=60))
            question.append(")")
        question.append("?\n\nThe export itself is not touched: it only leaves ")
        question.append(safe_text(str(self._watchlist.path), style="dim"))
        question.append(".")
        screen.app.push_screen(
            ConfirmScreen("Remove from the watch list", question, yes_label="Remove"),
            partial(self._remove_confirmed, key),
        )

    def _remove_confirmed(self, key: JobKey, yes: bool | None) -> None:
        if not yes:
            return
        screen = self.screen
        try:
            self._watchlist.remove([key])
        except WatchListError as exc:
            screen.notify(
                f"Not removed: {sanitize(str(exc))}", severity="error", markup=False, timeout=12
            )
            return
        screen.set_watched([k for k in screen.board.watched if k != key])
        screen.sync_table(())
        screen.update_status()
        screen.cache_writer.save()
        screen.notify(f"Stopped watching job {sanitize(key.job_id)}.", markup=False)
        self.notice_outside_changes(force=True)

    def move_aside(self) -> None:
        screen = self.screen
        if screen.watchlist_error is None:
            return
        try:
            moved_to: Path = self._watchlist.move_aside()
        except WatchListError as exc:
            screen.notify(sanitize(str(exc)), severity="error", markup=False, timeout=12)
            return
        screen.watchlist_error = None
        shown = list(screen.board.watched)
        kept: list[JobKey] = []
        if shown:
            try:
                kept = self._watchlist.add(shown)
            except WatchListError as exc:
                screen.notify(sanitize(str(exc)), severity="error", markup=False, timeout=12)
        screen.set_watched(self.load() or kept)
        screen.sync_table(None)
        screen.update_banner()
        screen.update_status()
        screen.refresh_bindings()
        screen.notify(
            f"Moved the unreadable watch list to {sanitize(str(moved_to))}; the new one holds"
            f" the {len(kept)} job(s) from the cache.",
            markup=False,
            timeout=12,
        )
