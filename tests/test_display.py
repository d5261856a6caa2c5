"""How a job reads as plain text (wmtui.core.display): the words the CLI's tables and the app's
cells both show, so a change here shows in both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from wmtui.cli.jobs import print_jobs_table
from wmtui.core.display import (
    compact_timestamp,
    duration_or_eta,
    has_been_read,
    iso_timestamp,
    mailbox_name,
    precise_span,
    progress_percent,
    relative_time,
    short_span,
    state_word,
)
from wmtui.core.models import ExportJob, JobKey, JobState, Mailbox
from wmtui.ui.widgets.cells import Palette, state_cell

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
KEY = JobKey("us-east-1", "m-0123456789abcdef0123456789abcdef", "job-1")


def job(**fields: object) -> ExportJob:
    return ExportJob(key=KEY, last_seen=NOW, **fields)  # type: ignore[arg-type]


def test_a_state_this_version_does_not_know_keeps_its_word() -> None:
    assert state_word(job(state=JobState.RUNNING, raw_state="RUNNING")) == "RUNNING"
    assert state_word(job(state=JobState.UNKNOWN, raw_state="PAUSED")) == "PAUSED"
    assert state_word(job(state=JobState.UNKNOWN)) == "UNKNOWN"


def test_the_cli_and_the_app_say_the_same_state(capsys: pytest.CaptureFixture[str]) -> None:
    paused = job(state=JobState.UNKNOWN, raw_state="PAUSED")
    print_jobs_table([KEY], {KEY: paused}, name_of=lambda key, job: None)
    assert "PAUSED" in capsys.readouterr().out
    assert state_cell(paused, None, Palette()).plain == "? PAUSED"


def test_a_job_never_read_has_no_state() -> None:
    assert not has_been_read(None)
    assert not has_been_read(ExportJob(key=KEY))
    assert has_been_read(job())


def test_the_mailbox_is_its_name_once_known_else_its_entity_id() -> None:
    alice = Mailbox(entity_id="e-1", name="alice", email="a@x.org", display_name="Alice Smith")
    assert mailbox_name(job(entity_id="e-1"), alice) == "Alice Smith"
    assert mailbox_name(job(entity_id="e-1"), "alice") == "alice"
    assert mailbox_name(job(entity_id="e-1"), None) == "e-1"
    assert mailbox_name(job(), None) is None
    assert mailbox_name(None, None) is None


@pytest.mark.parametrize(
    ("seconds", "glance", "precise"),
    [
        (0, "0s", "0s"),
        (59, "59s", "59s"),
        (725, "12m", "12m05s"),
        (3600 * 3 + 300, "3h05m", "3h05m"),
        (86400 * 2 + 3600 * 4, "2d4h", "2d04h"),
        (-10, "0s", "0s"),
    ],
)
def test_durations(seconds: float, glance: str, precise: str) -> None:
    assert short_span(seconds) == glance
    assert precise_span(seconds) == precise


def test_relative_times_use_one_unit_and_say_when_a_clock_is_ahead() -> None:
    assert relative_time(None, NOW) == "—"
    assert relative_time(NOW - timedelta(seconds=3), NOW) == "just now"
    assert relative_time(NOW - timedelta(hours=3, minutes=59), NOW) == "3h ago"
    assert relative_time(NOW + timedelta(minutes=5), NOW) == "in 5m"


def test_timestamps_are_utc_whatever_the_zone() -> None:
    paris = NOW.astimezone(ZoneInfo("Europe/Paris"))
    assert compact_timestamp(paris) == "2026-03-02 12:00:00Z"
    assert iso_timestamp(paris) == "2026-03-02T12:00:00Z"
    assert compact_timestamp(None) == "-"
    assert iso_timestamp(None) is None


def test_a_running_job_has_an_eta_and_a_finished_one_a_duration() -> None:
    started = NOW - timedelta(minutes=10)
    running = job(state=JobState.RUNNING, start_time=started, estimated_progress=25)
    assert duration_or_eta(running, NOW) == "ETA 30m"
    assert duration_or_eta(job(state=JobState.RUNNING, start_time=started), NOW) == "ran 10m"
    done = job(state=JobState.COMPLETED, start_time=started, end_time=NOW - timedelta(minutes=1))
    assert duration_or_eta(done, NOW) == "9m"
    assert duration_or_eta(None, NOW) == "—"
    assert progress_percent(7) == "7%"
    assert progress_percent(7, width=3) == "  7%"
