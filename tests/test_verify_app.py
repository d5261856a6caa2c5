"""Verification in the app: marks in the table, the detail pane, `v`/`V`, background checks,
the status line's count, and what a credentials problem does."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from test_ui_fakes import FakeService, build_app, key, standard_jobs
from textual.pilot import Pilot
from textual.widgets import Static

from wmtui.core.cache import JobCache
from wmtui.core.models import ExportJob, JobKey, JobState
from wmtui.core.service import ErrorKind, ServiceError
from wmtui.core.verification import ObjectFacts, Outcome, Verification, judge
from wmtui.ui.app import WmtuiApp
from wmtui.ui.widgets.detail import DetailPane
from wmtui.ui.widgets.job_table import JobTable

SIZE = (140, 36)


class FakeObjects:
    """An S3 whose answer per job is set by the test; counts the checks."""

    def __init__(self) -> None:
        self.outcomes: dict[JobKey, Outcome] = {}
        self.checked: list[JobKey] = []
        self.fail_with: ServiceError | None = None
        self.lock = threading.Lock()

    def check(self, job: ExportJob, **_: Any) -> Verification:
        raise NotImplementedError

    def mailbox_size_mb(self, region: str, organization_id: str, entity_id: str) -> float | None:
        return 42.0

    def check_many(
        self,
        jobs: Iterable[ExportJob],
        *,
        mailbox_sizes: Mapping[JobKey, float] | None = None,
        clock: Callable[[], datetime] | None = None,
        on_result: Callable[[ExportJob, Verification], None] | None = None,
    ) -> dict[JobKey, Verification]:
        if self.fail_with is not None:
            raise self.fail_with
        assert clock is not None
        results = {}
        for job in jobs:
            with self.lock:
                self.checked.append(job.key)
            outcome = self.outcomes.get(job.key, Outcome.VERIFIED)
            facts = (
                None
                if outcome is Outcome.MISSING
                else ObjectFacts(
                    size=1234, etag='"e"', encryption="aws:kms", kms_key=job.kms_key_arn
                )
            )
            size = (mailbox_sizes or {}).get(job.key)
            result = judge(job, facts, checked_at=clock(), mailbox_size_mb=size)
            results[job.key] = result
            if on_result is not None:
                on_result(job, result)
        return results


async def settle(app: WmtuiApp, pilot: Pilot[Any]) -> None:
    for _ in range(6):
        await app.workers.wait_for_complete()
        await pilot.pause()


def detail(app: WmtuiApp) -> str:
    pane = app.screen.query_one(DetailPane)
    return " ".join(str(w.render()) for w in pane.query(Static))


def status(app: WmtuiApp) -> str:
    return str(app.screen.query_one("#status", Static).render())


def make(tmp_path: Path, objects: FakeObjects) -> WmtuiApp:
    jobs = standard_jobs()
    app = build_app(tmp_path, FakeService(jobs), [job.key for job in jobs])
    app._jobs_context.objects = objects
    return app


def cached_jobs(tmp_path: Path) -> dict[JobKey, ExportJob]:
    return JobCache(tmp_path / "cache" / "jobs.json").load()


async def test_completed_exports_are_verified_in_the_background(tmp_path: Path) -> None:
    objects = FakeObjects()
    objects.outcomes[key(7)] = Outcome.MISSING
    app = make(tmp_path, objects)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        # Only the COMPLETED ones (3, 7, 8), each once.
        assert sorted(objects.checked) == sorted([key(3), key(7), key(8)])
        jobs = app.screen.board.jobs  # type: ignore[attr-defined]
        assert jobs[key(3)].verification.outcome is Outcome.VERIFIED
        assert jobs[key(7)].verification.outcome is Outcome.MISSING
        assert "2 verified" in status(app) and "1 missing" in status(app)
        table = app.screen.query_one(JobTable)
        table.select_key(str(key(7)))
        await pilot.pause()
        assert "MISSING" in detail(app)
        table.select_key(str(key(3)))
        await pilot.pause()
        assert "VERIFIED" in detail(app) and "42 MB" in detail(app)
    # Kept in the job cache: the next start shows them without checking again.
    saved = cached_jobs(tmp_path)
    assert saved[key(3)].verification is not None


async def test_v_checks_the_selected_export_again_and_V_every_one_in_view(
    tmp_path: Path,
) -> None:
    objects = FakeObjects()
    app = make(tmp_path, objects)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        objects.checked.clear()
        table = app.screen.query_one(JobTable)
        table.select_key(str(key(3)))
        table.focus()
        await pilot.press("v")
        await settle(app, pilot)
        assert objects.checked == [key(3)]
        assert any("verified" in str(n.message) for n in app._notifications)
        # A job not COMPLETED has nothing to check.
        objects.checked.clear()
        table.select_key(str(key(1)))
        await pilot.press("v")
        await settle(app, pilot)
        assert objects.checked == []
        await pilot.press("V")
        await settle(app, pilot)
        assert sorted(objects.checked) == sorted([key(3), key(7), key(8)])


async def test_a_credentials_problem_stops_background_checks_with_one_message(
    tmp_path: Path,
) -> None:
    objects = FakeObjects()
    objects.fail_with = ServiceError(
        ErrorKind.NO_CREDENTIALS, "no AWS credentials found", "configure credentials"
    )
    app = make(tmp_path, objects)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        errors = [n for n in app._notifications if "Verification stopped" in str(n.message)]
        assert len(errors) == 1
        assert "no AWS credentials" in str(errors[0].message)


def test_a_job_not_completed_shows_no_mark() -> None:
    from wmtui.ui.widgets.cells import Palette
    from wmtui.ui.widgets.verification_cells import verification_cell

    running = standard_jobs()[0]
    assert running.state is JobState.RUNNING
    assert verification_cell(running, Palette()) is None


@pytest.mark.parametrize(
    ("outcome", "word"), [(Outcome.VERIFIED, "✓ in S3"), (Outcome.MISSING, "✗ missing")]
)
def test_the_mark_in_the_progress_cell(outcome: Outcome, word: str) -> None:
    from dataclasses import replace

    from wmtui.ui.widgets.cells import Palette
    from wmtui.ui.widgets.verification_cells import verification_cell

    completed = standard_jobs()[2]
    facts = (
        None
        if outcome is Outcome.MISSING
        else ObjectFacts(size=5, encryption="aws:kms", kms_key=completed.kms_key_arn)
    )
    checked = replace(completed, verification=judge(completed, facts, checked_at=datetime.now()))
    shown = verification_cell(checked, Palette())
    assert shown is not None and shown.plain.strip() == word
    assert len(shown.plain) == 9


async def test_background_checks_come_in_batches_latest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wmtui.ui.flows import verify

    monkeypatch.setattr(verify, "BACKGROUND_BATCH", 2)
    objects = FakeObjects()
    app = make(tmp_path, objects)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        # The two that ended last (5 hours and 2 days ago), not the 9-day-old one yet.
        assert sorted(objects.checked) == sorted([key(3), key(7)])
        await pilot.press("r")
        await settle(app, pilot)
        assert sorted(objects.checked) == sorted([key(3), key(7), key(8)])
