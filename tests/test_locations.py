"""Where wmtui keeps things, and how it lays files down."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from wmtui.core.locations import (
    JSONProblem,
    NotAFileProblem,
    cache_dir,
    config_dir,
    config_file_path,
    data_dir,
    ensure_private_dir,
    jobs_cache_path,
    move_aside,
    parse_json,
    read_file,
    ui_state_path,
    watchlist_path,
    write_private_file,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_config_dir_comes_from_the_environment_in_tests(isolated_env: Path) -> None:
    assert config_dir() == isolated_env / "wmtui-config"


def test_override_beats_the_environment(tmp_path: Path) -> None:
    assert config_dir(tmp_path / "cli") == tmp_path / "cli"


def test_platformdirs_default_when_nothing_is_set(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WMTUI_CONFIG_DIR")
    assert config_dir() == isolated_env / ".config" / "wmtui"
    assert cache_dir() == isolated_env / ".cache" / "wmtui"
    assert data_dir() == isolated_env / ".local/share" / "wmtui"


def test_empty_variable_counts_as_unset(isolated_env: Path) -> None:
    env = {"WMTUI_CONFIG_DIR": "  ", "WMTUI_CACHE_DIR": ""}
    assert config_dir(environ=env) == isolated_env / ".config" / "wmtui"
    assert cache_dir(environ=env) == isolated_env / ".cache" / "wmtui"


def test_tilde_and_relative_paths_become_absolute(
    isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert config_dir(environ={"WMTUI_CONFIG_DIR": "~/cfg"}) == isolated_env / "cfg"
    assert config_dir(Path("rel")) == tmp_path / "rel"


def test_cache_and_data_follow_a_config_override(tmp_path: Path) -> None:
    assert cache_dir(tmp_path, environ={}) == tmp_path / "cache"
    assert data_dir(tmp_path, environ={}) == tmp_path / "data"


def test_cache_and_data_variables_beat_the_config_override(tmp_path: Path) -> None:
    env = {"WMTUI_CACHE_DIR": str(tmp_path / "c"), "WMTUI_DATA_DIR": str(tmp_path / "d")}
    assert cache_dir(tmp_path / "cfg", environ=env) == tmp_path / "c"
    assert data_dir(tmp_path / "cfg", environ=env) == tmp_path / "d"


def test_file_names(tmp_path: Path) -> None:
    assert watchlist_path(tmp_path) == tmp_path / "watchlist.json"
    assert config_file_path(tmp_path) == tmp_path / "config.toml"
    assert ui_state_path(tmp_path) == tmp_path / "ui-state.json"
    assert jobs_cache_path(tmp_path) == tmp_path / "jobs.json"


def test_ensure_private_dir_makes_every_new_folder_0700(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        made = ensure_private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(old)
    assert made == tmp_path / "a" / "b"
    assert mode(tmp_path / "a") == 0o700
    assert mode(tmp_path / "a" / "b") == 0o700


def test_ensure_private_dir_leaves_an_existing_folder_alone(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    ensure_private_dir(folder)
    assert mode(folder) == 0o755


def test_ensure_private_dir_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        ensure_private_dir(tmp_path / "file" / "sub")


def test_write_private_file_is_0600_in_a_0700_folder(tmp_path: Path) -> None:
    target = tmp_path / "new" / "f.json"
    write_private_file(target, b"hello")
    assert target.read_bytes() == b"hello"
    assert mode(target) == 0o600
    assert mode(target.parent) == 0o700
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.json"]


def test_write_failure_keeps_the_original_and_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.json"
    target.write_bytes(b"original")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as caught:
        write_private_file(target, b"new")
    assert caught.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"original"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_write_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "real.json"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_private_file(link, b"new")
    assert link.is_symlink()
    assert real.read_bytes() == b"new"


def test_move_aside_names_a_timestamped_backup(tmp_path: Path) -> None:
    target = tmp_path / "jobs.json"
    target.write_bytes(b"1")
    first = move_aside(target)
    target.write_bytes(b"2")
    second = move_aside(target)
    assert first.name.startswith("jobs.json.corrupt-") and first.name.endswith("Z")
    assert second != first
    assert (first.read_bytes(), second.read_bytes()) == (b"1", b"2")
    assert not target.exists()


def test_read_file_refuses_a_fifo_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(NotAFileProblem, match="not a regular file"):
        read_file(fifo, 100)


def test_read_file_caps_the_size(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    with pytest.raises(NotAFileProblem, match="larger than"):
        read_file(big, 100)
    assert read_file(tmp_path / "missing", 100) is None


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"{", "not valid JSON"),
        (b"\xff\xfe\x00binary", "not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"a": 1, "a": 2}', "appears twice"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": -Infinity}', "-Infinity"),
        (b'{"a": 1e999}', "too large"),
        (b"1" * 5000, "not valid JSON"),
    ],
)
def test_parse_json_turns_every_failure_into_one_readable_problem(
    data: bytes, problem: str
) -> None:
    with pytest.raises(JSONProblem, match=problem):
        parse_json(data)


def test_parse_json_tolerates_a_byte_order_mark() -> None:
    assert parse_json(b'\xef\xbb\xbf{"a": 1.5}') == {"a": 1.5}
