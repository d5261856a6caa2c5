"""The watch list: the one file wmtui must never lose or overwrite by mistake."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wmtui
from wmtui.core.models import JobKey, ValidationError
from wmtui.core.watchlist import WatchList, WatchListError, WatchListProblem

ORG_A = "m-" + "a" * 32
ORG_B = "m-" + "0123456789abcdef" * 2
KEY_1 = JobKey("us-east-1", ORG_A, "job-1")
KEY_2 = JobKey("us-east-1", ORG_A, "job-2")
KEY_3 = JobKey("eu-west-1", ORG_B, "Job-3")
ADDED = "2025-01-02T03:04:05+00:00"
ROOT = os.geteuid() == 0
REPO = Path(wmtui.__file__).resolve().parents[1]


def fixed_clock() -> str:
    return ADDED


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "watchlist.json"


@pytest.fixture
def watchlist(path: Path) -> WatchList:
    return WatchList(path, clock=fixed_clock, lock_timeout=0.5)


def entry(key: JobKey, added: str | None = ADDED) -> dict[str, str]:
    out = key.to_dict()
    if added is not None:
        out["added"] = added
    return out


def write_json(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


# -- the ordinary path -------------------------------------------------------------------------


def test_no_file_is_an_empty_list_and_nothing_is_created(watchlist: WatchList, path: Path) -> None:
    assert watchlist.load() == []
    assert not path.parent.exists()


def test_add_writes_the_documented_format(watchlist: WatchList, path: Path) -> None:
    assert watchlist.add([KEY_2, KEY_3, KEY_1]) == [KEY_2, KEY_3, KEY_1]
    text = path.read_text()
    assert json.loads(text) == {
        "version": 1,
        "jobs": [entry(KEY_3), entry(KEY_1), entry(KEY_2)],  # sorted by region, org, job
    }
    assert text.startswith('{\n  "version": 1,\n  "jobs": [\n    {\n      "region"')
    assert text.endswith("}\n")
    assert watchlist.load() == [KEY_3, KEY_1, KEY_2]


def test_add_returns_only_what_is_new_and_keeps_the_first_added_time(path: Path) -> None:
    WatchList(path, clock=lambda: "2024-01-01T00:00:00+00:00").add([KEY_1])
    later = WatchList(path, clock=fixed_clock)
    assert later.add([KEY_1, KEY_2, KEY_2]) == [KEY_2]
    assert later.add([KEY_1]) == []
    jobs = json.loads(path.read_text())["jobs"]
    assert jobs == [entry(KEY_1, "2024-01-01T00:00:00+00:00"), entry(KEY_2)]


def test_remove_returns_what_was_watched(watchlist: WatchList) -> None:
    watchlist.add([KEY_1, KEY_2])
    assert watchlist.remove([KEY_2, KEY_3]) == [KEY_2]
    assert watchlist.remove([KEY_3]) == []
    assert watchlist.load() == [KEY_1]
    assert watchlist.remove([KEY_1]) == [KEY_1]
    assert watchlist.load() == []


def test_removing_everything_leaves_an_empty_list_file(watchlist: WatchList, path: Path) -> None:
    watchlist.add([KEY_1])
    watchlist.remove([KEY_1])
    assert json.loads(path.read_text()) == {"version": 1, "jobs": []}


def test_saved_file_is_0600_in_a_0700_folder(watchlist: WatchList, path: Path) -> None:
    watchlist.add([KEY_1])
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    # Only the list and its lock file: no temp file left behind.
    assert files_in(path.parent) == ["watchlist.json", "watchlist.json.lock"]


def test_a_malformed_key_is_refused_before_anything_is_written(
    watchlist: WatchList, path: Path
) -> None:
    with pytest.raises(ValidationError, match="job ID"):
        watchlist.add([KEY_1, JobKey("us-east-1", ORG_A, "../../x y")])
    with pytest.raises(ValidationError, match="region"):
        watchlist.add([JobKey("us east", ORG_A, "job")])
    assert not path.exists()


def test_duplicates_in_the_file_are_merged_with_the_earliest_time(
    watchlist: WatchList, path: Path
) -> None:
    write_json(
        path,
        {
            "version": 1,
            "jobs": [
                entry(KEY_1, "2025-03-01T00:00:00+00:00"),
                entry(KEY_1, "2025-02-01T00:00:00+00:00"),
                entry(KEY_1, None),
            ],
        },
    )
    assert watchlist.load() == [KEY_1]
    watchlist.add([KEY_2])
    assert json.loads(path.read_text())["jobs"] == [
        entry(KEY_1, "2025-02-01T00:00:00+00:00"),
        entry(KEY_2),
    ]


@pytest.mark.parametrize("content", [b"", b"  \n"])
def test_an_emptied_file_is_an_empty_list(watchlist: WatchList, path: Path, content: bytes) -> None:
    # Nothing in it to lose, so writing over it is safe.
    path.parent.mkdir()
    path.write_bytes(content)
    assert watchlist.load() == []
    assert watchlist.add([KEY_1]) == [KEY_1]
    assert watchlist.load() == [KEY_1]


def test_an_empty_jobs_list_and_missing_added_times_are_fine(
    watchlist: WatchList, path: Path
) -> None:
    write_json(path, {"version": 1, "jobs": []})
    assert watchlist.load() == []
    write_json(path, {"version": 1, "jobs": [entry(KEY_1, None)]})
    assert watchlist.load() == [KEY_1]


def test_keys_wmtui_does_not_know_are_kept(watchlist: WatchList, path: Path) -> None:
    write_json(
        path,
        {"version": 1, "comment": "batch 3", "jobs": [{**entry(KEY_1), "note": "CEO mailbox"}]},
    )
    watchlist.add([KEY_2])
    saved = json.loads(path.read_text())
    assert saved["comment"] == "batch 3"
    assert saved["jobs"][0]["note"] == "CEO mailbox"


# -- files wmtui cannot read are never written over -------------------------------------------

VALID_JOB = entry(KEY_1)
CORRUPT_FILES: list[tuple[str, bytes, str]] = [
    ("truncated", b"{", "not valid JSON"),
    ("binary", bytes(range(256)) * 4, "not UTF-8"),
    ("deep", b"[" * 100_000, "nested too deeply"),
    ("list", b"[]", "holds a list"),
    ("string", b'"jobs"', "holds a string"),
    ("duplicate key", b'{"version": 1, "version": 1, "jobs": []}', "appears twice"),
    ("NaN", b'{"version": NaN, "jobs": []}', "NaN"),
    ("Infinity", b'{"version": 1, "jobs": [], "x": Infinity}', "Infinity"),
    ("no version", b'{"jobs": []}', 'no "version"'),
    ("version string", b'{"version": "1", "jobs": []}', '"version" is a string'),
    ("version zero", b'{"version": 0, "jobs": []}', '"version" is a number'),
    ("version true", b'{"version": true, "jobs": []}', '"version" is a boolean'),
    ("no jobs", b'{"version": 1}', '"jobs" is missing'),
    ("jobs object", b'{"version": 1, "jobs": {}}', '"jobs" is an object'),
    (
        "entry not object",
        json.dumps({"version": 1, "jobs": [VALID_JOB, ["x"]]}).encode(),
        "jobs[1] is a list",
    ),
    (
        "missing job_id",
        json.dumps({"version": 1, "jobs": [VALID_JOB, {**VALID_JOB, "job_id": None}]}).encode(),
        'jobs[1]: "job_id" is null',
    ),
    (
        "bad job id",
        json.dumps({"version": 1, "jobs": [VALID_JOB, {**VALID_JOB, "job_id": "a b"}]}).encode(),
        "jobs[1]: invalid job ID",
    ),
    (
        "bad organization",
        json.dumps(
            {"version": 1, "jobs": [{**VALID_JOB, "organization_id": "m-" + "A" * 32}]}
        ).encode(),
        "jobs[0]: invalid organization ID",
    ),
    (
        "bad region",
        json.dumps({"version": 1, "jobs": [{**VALID_JOB, "region": "Mars"}]}).encode(),
        "jobs[0]: invalid region",
    ),
    (
        "bad added",
        json.dumps({"version": 1, "jobs": [{**VALID_JOB, "added": "yesterday"}]}).encode(),
        'jobs[0]: "added"',
    ),
]


@pytest.mark.parametrize(
    ("content", "problem"),
    [pytest.param(c, p, id=name) for name, c, p in CORRUPT_FILES],
)
def test_a_corrupt_file_is_reported_and_left_byte_for_byte(
    watchlist: WatchList, path: Path, content: bytes, problem: str
) -> None:
    path.parent.mkdir()
    path.write_bytes(content)
    before = files_in(path.parent)

    with pytest.raises(WatchListError) as loaded:
        watchlist.load()
    error = loaded.value
    assert error.kind is WatchListProblem.CORRUPT and error.can_move_aside
    assert problem in error.problem
    message = str(error)
    assert str(path) in message
    assert f"mv {path} {path}.bak" in message
    assert "\x00" not in message and "\x1b" not in message

    for change in (watchlist.add, watchlist.remove):
        with pytest.raises(WatchListError, match="fix it by hand or move it aside"):
            change([KEY_1])
    assert path.read_bytes() == content
    assert files_in(path.parent) == before


def test_a_file_from_a_newer_wmtui_is_read_by_nobody_and_written_by_nobody(
    watchlist: WatchList, path: Path
) -> None:
    content = b'{"version": 2, "jobs": {"totally": "different"}}'
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(WatchListError) as caught:
        watchlist.load()
    assert caught.value.kind is WatchListProblem.NEWER_VERSION
    assert not caught.value.can_move_aside
    assert "newer wmtui" in str(caught.value) and "upgrade" in str(caught.value)
    with pytest.raises(WatchListError):
        watchlist.add([KEY_1])
    assert path.read_bytes() == content


def test_a_folder_where_the_file_should_be(watchlist: WatchList, path: Path) -> None:
    path.mkdir(parents=True)
    with pytest.raises(WatchListError, match="it is a folder") as caught:
        watchlist.load()
    assert caught.value.can_move_aside
    with pytest.raises(WatchListError, match="folder"):
        watchlist.add([KEY_1])
    assert path.is_dir() and list(path.iterdir()) == []

    backup = watchlist.move_aside()
    assert backup.is_dir()
    assert watchlist.add([KEY_1]) == [KEY_1]


def make_unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not ROOT:
        path.chmod(0o000)
        return
    # root reads anything: have the open fail the way chmod 000 makes it fail for a user.
    real_open = os.open

    def refusing_open(file: object, flags: int, *args: int, **kwargs: int) -> int:
        if Path(os.fsdecode(file)) == path:  # type: ignore[arg-type]
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(file, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refusing_open)


def test_an_unreadable_file_is_reported_and_not_replaced(
    watchlist: WatchList, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_json(path, {"version": 1, "jobs": [entry(KEY_1)]})
    content = path.read_bytes()
    make_unreadable(path, monkeypatch)
    with pytest.raises(WatchListError) as caught:
        watchlist.load()
    assert caught.value.kind is WatchListProblem.UNREADABLE
    assert "Permission denied" in str(caught.value) and "chmod 600" in str(caught.value)
    with pytest.raises(WatchListError):
        watchlist.add([KEY_2])
    monkeypatch.undo()
    path.chmod(0o600)
    assert path.read_bytes() == content


def test_a_symlink_is_read_and_written_through(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "watchlist.json"
    real.parent.mkdir()
    write_json(real, {"version": 1, "jobs": [entry(KEY_1)]})
    link = tmp_path / "config" / "watchlist.json"
    link.parent.mkdir()
    link.symlink_to(real)
    watchlist = WatchList(link, clock=fixed_clock)

    assert watchlist.load() == [KEY_1]
    assert watchlist.add([KEY_2]) == [KEY_2]
    assert link.is_symlink() and link.resolve() == real
    assert WatchList(real).load() == [KEY_1, KEY_2]
    assert mode(real) == 0o600
    assert files_in(real.parent) == ["watchlist.json"]  # no lock or temp file left there


def test_a_dangling_symlink_is_an_empty_list_and_a_save_creates_its_target(
    tmp_path: Path,
) -> None:
    real = tmp_path / "dotfiles" / "watchlist.json"
    real.parent.mkdir()
    link = tmp_path / "watchlist.json"
    link.symlink_to(real)
    watchlist = WatchList(link)
    assert watchlist.load() == []
    watchlist.add([KEY_1])
    assert link.is_symlink() and WatchList(real).load() == [KEY_1]


def test_a_symlink_loop_is_reported(tmp_path: Path) -> None:
    link = tmp_path / "watchlist.json"
    link.symlink_to(tmp_path / "watchlist.json")
    with pytest.raises(WatchListError, match="loops"):
        WatchList(link).load()


# -- failing saves -----------------------------------------------------------------------------


@pytest.mark.parametrize("failing_call", ["write", "fsync", "replace"])
def test_disk_full_during_save_keeps_the_original_and_no_temp_file(
    watchlist: WatchList, path: Path, monkeypatch: pytest.MonkeyPatch, failing_call: str
) -> None:
    watchlist.add([KEY_1])
    content = path.read_bytes()

    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, failing_call, disk_full)
    with pytest.raises(WatchListError) as caught:
        watchlist.add([KEY_2])
    monkeypatch.undo()

    error = caught.value
    assert error.kind is WatchListProblem.WRITE_FAILED
    assert "No space left on device" in str(error) and "free some disk space" in str(error)
    assert "left as it was" in str(error)
    assert path.read_bytes() == content
    assert files_in(path.parent) == ["watchlist.json", "watchlist.json.lock"]
    assert watchlist.load() == [KEY_1]


def test_a_read_only_folder_is_reported_and_reading_still_works(
    watchlist: WatchList, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watchlist.add([KEY_1])
    content = path.read_bytes()
    if ROOT:
        # chmod does not stop root: fail the temp file the way a read-only folder does.
        def read_only(*args: object, **kwargs: object) -> None:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

        monkeypatch.setattr(tempfile, "mkstemp", read_only)
    else:
        path.parent.chmod(0o500)
    try:
        assert watchlist.load() == [KEY_1]
        assert watchlist.add([KEY_1]) == []  # nothing new: no write needed
        with pytest.raises(WatchListError) as caught:
            watchlist.add([KEY_2])
    finally:
        path.parent.chmod(0o700)
    assert caught.value.kind is WatchListProblem.WRITE_FAILED
    assert "writable" in str(caught.value) and "--config-dir" in str(caught.value)
    assert path.read_bytes() == content


@pytest.mark.skipif(ROOT, reason="root writes in a 0500 folder regardless")
def test_a_real_read_only_folder_as_a_user(watchlist: WatchList, path: Path) -> None:
    watchlist.add([KEY_1])
    path.parent.chmod(0o500)
    try:
        with pytest.raises(WatchListError, match="writable"):
            watchlist.add([KEY_2])
    finally:
        path.parent.chmod(0o700)


# -- moving a broken file aside ----------------------------------------------------------------


def test_move_aside_keeps_the_broken_file_and_lets_wmtui_start_afresh(
    watchlist: WatchList, path: Path
) -> None:
    path.parent.mkdir()
    path.write_bytes(b"{")
    with pytest.raises(WatchListError):
        watchlist.add([KEY_1])
    backup = watchlist.move_aside()
    assert backup.parent == path.parent
    assert backup.name.startswith("watchlist.json.corrupt-") and backup.name.endswith("Z")
    assert backup.read_bytes() == b"{"
    assert watchlist.load() == []
    assert watchlist.add([KEY_1]) == [KEY_1]


def test_move_aside_with_nothing_there(watchlist: WatchList) -> None:
    with pytest.raises(WatchListError, match="no file to move aside"):
        watchlist.move_aside()


# -- two wmtuis at once ------------------------------------------------------------------------

ADDER = """
import sys
from pathlib import Path
from wmtui.core.models import JobKey
from wmtui.core.watchlist import WatchList
path, prefix = Path(sys.argv[1]), sys.argv[2]
watchlist = WatchList(path, lock_timeout=60)
sys.stdin.readline()  # start together
for n in range(50):
    watchlist.add([JobKey("us-east-1", "m-" + "a" * 32, f"{prefix}-{n}")])
"""


def test_two_processes_adding_50_each_keep_all_100(path: Path) -> None:
    adders = [
        subprocess.Popen(
            [sys.executable, "-c", ADDER, str(path), prefix],
            stdin=subprocess.PIPE,
            env=subprocess_env(),
            text=True,
        )
        for prefix in ("a", "b")
    ]
    for adder in adders:
        assert adder.stdin is not None
        adder.stdin.write("go\n")
        adder.stdin.flush()
    for adder in adders:
        assert adder.wait(timeout=60) == 0
    keys = WatchList(path).load()
    assert len(keys) == 100
    assert {key.job_id for key in keys} == {f"{p}-{n}" for p in "ab" for n in range(50)}


HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()}\\n".encode())
print("locked", flush=True)
sys.stdin.readline()
"""


def test_a_lock_held_by_another_process_gives_a_clear_error(path: Path) -> None:
    write_json(path, {"version": 1, "jobs": [entry(KEY_1)]})
    content = path.read_bytes()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, f"{path}.lock"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(WatchListError) as caught:
            WatchList(path, lock_timeout=0.2).add([KEY_2])
        error = caught.value
        assert error.kind is WatchListProblem.LOCKED
        assert f"locked by another wmtui (pid {holder.pid})" in str(error)
        assert path.read_bytes() == content
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
    # Once the other one lets go, it works.
    assert WatchList(path, lock_timeout=0.2).add([KEY_2]) == [KEY_2]


# -- the property ------------------------------------------------------------------------------

POOL = [
    JobKey(region, org, f"job-{n}")
    for region in ("us-east-1", "eu-west-1")
    for org in (ORG_A, ORG_B)
    for n in range(3)
]
operations = st.lists(
    st.tuples(st.sampled_from(["add", "remove"]), st.lists(st.sampled_from(POOL), max_size=4)),
    max_size=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_a_fresh_load_always_equals_the_model(ops: list[tuple[str, list[JobKey]]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "watchlist.json"
        watchlist = WatchList(path)
        model: set[JobKey] = set()
        for action, keys in ops:
            if action == "add":
                assert set(watchlist.add(keys)) == set(keys) - model
                model |= set(keys)
            else:
                assert set(watchlist.remove(keys)) == set(keys) & model
                model -= set(keys)
            assert WatchList(path).load() == sorted(model)


def test_the_suggested_command_survives_a_folder_name_with_spaces(tmp_path: Path) -> None:
    path = tmp_path / "My Config" / "watchlist.json"
    path.parent.mkdir()
    path.write_bytes(b"{")
    with pytest.raises(WatchListError) as caught:
        WatchList(path).load()
    assert f"mv '{path}' '{path}.bak'" in str(caught.value)
