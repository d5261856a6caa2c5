"""Bad IDs typed into the add dialog or passed to `wmtui add`: refused with the rule and the value
(made printable), exit 252, and the watch list byte for byte as it was.

test_cli.py already tries `../../x`, `m-nothex` and 64 characters on the command line; these are
the rest of issue 6's list, and the same list in the TUI's add dialog.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_faults_support import ORG, REGION, SIZE, make_app, notices, settle, static_text
from textual.widgets import Input, TextArea

from wmtui.cli import main
from wmtui.core.locations import watchlist_path
from wmtui.core.models import JobKey
from wmtui.core.watchlist import WatchList
from wmtui.ui.screens.add import AddJobsScreen

UPPER_ORG = "m-0123456789ABCDEF0123456789ABCDEF"
KEEP = JobKey(REGION, ORG, "job-kept")

# (organization, job IDs as one argument, what stderr must say)
CLI_BAD: list[tuple[str, str, list[str]]] = [
    (ORG, "", ["job ID (empty)", "at least one job ID is needed"]),
    ("", "job-1", ["organization ID (empty)"]),
    (ORG, "a" * 64, ["at most 63 characters (got 64)"]),
    (ORG, "../../x y", ["../../x", "only letters, digits and '-'"]),
    (ORG, "job\x1b]0;t\x07", ["job\\x1b]0;t\\x07", "only letters, digits and '-'"]),
    (ORG, "jöb", ["jöb", "only letters, digits and '-'"]),
    (ORG, "job/1", ["job/1"]),
    (UPPER_ORG, "job-1", [UPPER_ORG, "lower-case hex"]),
    ("m-0123", "job-1", ["must be 34 characters", "(got 6)"]),
    (ORG + "\n", "job-1", ["\\n", "(got 35)"]),
    (ORG[:-1] + "g", "job-1", ["lower-case hex"]),
    (" " + ORG, "job-1", ["(got 35)"]),
]


@pytest.fixture
def watchlist(isolated_env: Path) -> WatchList:
    found = WatchList(watchlist_path(isolated_env / "wmtui-config"))
    found.add([KEEP])
    return found


@pytest.mark.parametrize(
    ("organization", "job_ids", "says"),
    CLI_BAD,
    ids=[
        "empty-job",
        "empty-org",
        "64-chars",
        "dot-dot-slash-space",
        "escape",
        "non-ascii",
        "slash",
        "upper-hex-org",
        "short-org",
        "newline-in-org",
        "non-hex-org",
        "space-in-org",
    ],
)
def test_wmtui_add_refuses_a_bad_id_with_252_and_writes_nothing(
    watchlist: WatchList,
    capsys: pytest.CaptureFixture[str],
    organization: str,
    job_ids: str,
    says: list[str],
) -> None:
    before = watchlist.path.read_bytes()
    assert main(["--region", REGION, "add", organization, job_ids]) == 252
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert err.startswith("wmtui: error: invalid ")
    for needle in says:
        assert needle in err, (needle, err)
    assert "\x1b" not in err and "Traceback" not in err
    # One line per bad value, each ending in exactly one newline: nothing from the value
    # breaks the line.
    assert all(line.startswith("wmtui: error: ") for line in err.splitlines())
    assert watchlist.path.read_bytes() == before


def test_one_bad_id_among_good_ones_writes_none_of_them(
    watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    before = watchlist.path.read_bytes()
    assert main(["--region", REGION, "add", ORG, "good-1", "bad id!", "good-2", "x" * 64]) == 252
    err = capsys.readouterr().err
    assert "id!" in err and "at most 63" in err and err.count("wmtui: error:") == 2
    assert watchlist.path.read_bytes() == before


def test_a_newline_inside_a_job_id_argument_separates_two_ids(
    watchlist: WatchList, capsys: pytest.CaptureFixture[str]
) -> None:
    """IDs may be pasted one per line: a newline is a separator, never part of an ID."""
    assert main(["--region", REGION, "add", ORG, "job-a\njob-b"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"added: {REGION}/{ORG}/job-a",
        f"added: {REGION}/{ORG}/job-b",
    ]
    ids = [key.job_id for key in watchlist.load()]
    assert ids == ["job-a", "job-b", "job-kept"]
    assert all("\n" not in job_id for job_id in ids)


@pytest.mark.parametrize("region", ["us-east-1\n", "US-EAST-1", "../us-east-1", ""])
def test_a_bad_region_is_252_and_writes_nothing(
    watchlist: WatchList, capsys: pytest.CaptureFixture[str], region: str
) -> None:
    before = watchlist.path.read_bytes()
    assert main(["--region", region, "add", ORG, "job-1"]) == 252
    err = capsys.readouterr().err
    assert err.startswith("wmtui: error: invalid region") and err.count("\n") == 1
    assert watchlist.path.read_bytes() == before


# ------------------------------------------------------------------ the add dialog

# (region, organization, job IDs, which field complains, what it says)
DIALOG_BAD: list[tuple[str, str, str, str, str]] = [
    (REGION, ORG, "", "ids", "enter one or more job IDs"),
    (REGION, "", "job-1", "organization", "organization ID (empty)"),
    (REGION, ORG, "a" * 64, "ids", "at most 63 characters (got 64)"),
    (REGION, ORG, "../../x y", "ids", "../../x"),
    (REGION, ORG, "job\x1b]52;c;eA==\x07", "ids", "invalid job ID job\\x1b]52:"),
    (REGION, UPPER_ORG, "job-1", "organization", "lower-case hex"),
    (REGION, "m-0123", "job-1", "organization", "(got 6)"),
    ("mars-1", ORG, "job-1", "region", "WorkMail runs only in us-east-1, us-west-2, eu-west-1"),
    (REGION, ORG, "x" * 5000, "ids", "at most 63 characters (got 5000)"),
]


async def test_the_add_dialog_refuses_each_bad_value_inline_and_writes_nothing(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path, _NoCalls(), [KEEP])
    path = tmp_path / "config" / "watchlist.json"
    before = path.read_bytes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AddJobsScreen)
        region, organization = (
            screen.query_one(f"#add-{n}", Input) for n in ("region", "organization")
        )
        ids = screen.query_one("#add-ids", TextArea)
        for region_value, org_value, ids_value, field, says in DIALOG_BAD:
            region.value, organization.value = region_value, org_value
            ids.text = ids_value
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is screen, f"{ids_value[:20]!r} was accepted"
            error = screen.query_one(f"#add-{field}-error")
            shown = static_text(screen, f"#add-{field}-error")
            assert error.display and says in shown, (field, says, shown)
            assert "\x1b" not in shown
            assert static_text(screen, "#add-summary") == "" or field == "ids"
        # A newline between IDs separates them: two jobs, each valid, nothing else.
        region.value, organization.value = REGION, ORG
        ids.text = "job-a\njob-b"
        await pilot.pause()
        assert "2 jobs to watch" in static_text(screen, "#add-summary")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AddJobsScreen)
        assert app.is_running
        assert not any("Watching" in n for n in notices(app))
    assert path.read_bytes() == before


class _NoCalls:
    """A service that answers nothing: the dialog must never need one."""

    target = "no service"

    def __getattr__(self, name: str) -> object:
        from wmtui.core.service import ErrorKind, ServiceError

        def refuse(*args: object, **kwargs: object) -> object:
            raise ServiceError(ErrorKind.OTHER, f"{name} was called")

        return refuse
