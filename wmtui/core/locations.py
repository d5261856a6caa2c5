"""Every path wmtui reads or writes, and how files in them are laid down.

platformdirs picks the folders; WMTUI_CONFIG_DIR (or `--config-dir`), WMTUI_CACHE_DIR and
WMTUI_DATA_DIR move them, so tests and the demo never touch the user's own files.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import stat
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

APP_NAME = "wmtui"

CONFIG_DIR_ENV = "WMTUI_CONFIG_DIR"
CACHE_DIR_ENV = "WMTUI_CACHE_DIR"
DATA_DIR_ENV = "WMTUI_DATA_DIR"

# Folders wmtui creates hold the watch list and job records: only their owner may look in.
PRIVATE_DIR_MODE = 0o700


def _from_env(name: str, environ: Mapping[str, str] | None) -> Path | None:
    value = (os.environ if environ is None else environ).get(name, "")
    # An empty variable is as good as unset (`WMTUI_CONFIG_DIR= wmtui` must not mean the cwd).
    if not value.strip():
        return None
    return _absolute(Path(value))


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path.expanduser()))


def config_dir(override: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Path:
    """override (`--config-dir`) > $WMTUI_CONFIG_DIR > platformdirs user_config_dir."""
    if override is not None:
        return _absolute(Path(override))
    from_env = _from_env(CONFIG_DIR_ENV, environ)
    if from_env is not None:
        return from_env
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir(
    config_override: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Path:
    """$WMTUI_CACHE_DIR > <config_override>/cache > platformdirs user_cache_dir."""
    from_env = _from_env(CACHE_DIR_ENV, environ)
    if from_env is not None:
        return from_env
    if config_override is not None:
        return _absolute(Path(config_override)) / "cache"
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def data_dir(
    config_override: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Path:
    """$WMTUI_DATA_DIR > <config_override>/data > platformdirs user_data_dir."""
    from_env = _from_env(DATA_DIR_ENV, environ)
    if from_env is not None:
        return from_env
    if config_override is not None:
        return _absolute(Path(config_override)) / "data"
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def watchlist_path(config: Path) -> Path:
    return config / "watchlist.json"


def config_file_path(config: Path) -> Path:
    return config / "config.toml"


def ui_state_path(config: Path) -> Path:
    """Where the UI remembers things such as the theme."""
    return config / "ui-state.json"


def jobs_cache_path(cache: Path) -> Path:
    return cache / "jobs.json"


def endpoint_cache_dir(cache: Path, endpoint_url: str | None) -> Path:
    """The cache folder for what one endpoint said: AWS's is `cache` itself, an emulator's (or
    any other endpoint's) a folder of its own, so two endpoints' jobs and names never mix."""
    if not endpoint_url:
        return cache
    parsed = urlsplit(endpoint_url)
    where = f"{parsed.scheme}-{parsed.hostname or 'host'}-{parsed.port or 'default'}{parsed.path}"
    name = re.sub(r"[^A-Za-z0-9.-]+", "-", where).strip("-.")[:80] or "endpoint"
    return cache / "endpoints" / name


def names_cache_path(cache: Path) -> Path:
    """Who each mailbox is (wmtui.core.names.NameDirectory): disposable, rebuilt when stale."""
    return cache / "names.json"


def exports_dir(data: Path) -> Path:
    """The organization-wide exports' state files: not disposable, they make a resume work."""
    return data / "exports"


def ensure_private_dir(path: Path) -> Path:
    """mkdir -p, each folder it creates mode 0700.

    A folder that already exists is left as it is: the user may have pointed
    WMTUI_CONFIG_DIR at a folder of their own, and chmod-ing that behind their back is rude.
    Raises OSError (FileExistsError/NotADirectoryError if a file is in the way).
    """
    path = _absolute(path)
    missing: list[Path] = []
    probe = path
    while not probe.is_dir():
        if probe.exists() or probe.is_symlink():
            if probe.is_dir():
                break  # another thread or process made it since the check above
            raise NotADirectoryError(f"{probe} is in the way and is not a folder")
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # another process made it in the meantime
        # mkdir's mode is filtered by the umask; say exactly what we mean.
        os.chmod(folder, PRIVATE_DIR_MODE)
    return path


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable. Best effort: some file systems cannot fsync a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_private_file(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically: readers see the old file or the new, never half.

    A temp file in the same folder is written, flushed, fsynced and renamed over the target,
    then the folder is fsynced. The file is 0600; a folder that has to be made is 0700.
    On any failure the temp file is removed, the original is left as it was, and the
    OSError propagates.

    A symlink at `path` is written through: the link's target is replaced and the user's
    link stays (people keep dotfiles in a repository and link them into place).
    """
    if os.path.islink(path):
        target = Path(os.path.realpath(path))
        # The link's target folder is the user's: written in, never created or chmod-ed.
        folder = target.parent
    else:
        target = _absolute(path)
        folder = ensure_private_dir(target.parent)
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _fsync_dir(folder)


def aside_name(path: Path, label: str = "corrupt", *, now: float | None = None) -> Path:
    """`<path>.<label>-<UTC timestamp>`, with -1, -2 ... added if that name is taken."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    candidate = path.with_name(f"{path.name}.{label}-{stamp}")
    counter = 1
    while candidate.exists() or candidate.is_symlink():
        candidate = path.with_name(f"{path.name}.{label}-{stamp}-{counter}")
        counter += 1
    return candidate


def move_aside(path: Path, label: str = "corrupt") -> Path:
    """Rename `path` to a named backup beside it and return the new path. Raises OSError."""
    backup = aside_name(path, label)
    os.rename(path, backup)
    _fsync_dir(path.parent)
    return backup


class NotAFileProblem(ValueError):
    """Something other than a regular file sits where a file should be, or it is far too big."""


def read_file(path: Path, limit: int) -> bytes | None:
    """The bytes of a regular file of at most `limit` bytes; None if there is none.

    Raises NotAFileProblem for a folder, FIFO, device or oversized file; OSError otherwise.
    """
    try:
        # O_NONBLOCK: a FIFO in the file's place must not hang the app.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        # Also a dangling symlink: a save writes through it to the target it names.
        return None
    except IsADirectoryError:
        raise NotAFileProblem("it is a folder") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotAFileProblem("it is a symlink that loops") from None
        raise
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise NotAFileProblem("it is a folder")
        if not stat.S_ISREG(info.st_mode):
            raise NotAFileProblem("it is not a regular file")
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1024 * 1024):
            size += len(chunk)
            if size > limit:
                raise NotAFileProblem(f"it is larger than {limit:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class JSONProblem(ValueError):
    """The text is not the strict JSON wmtui writes; str() says what is wrong, for a person."""


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JSONProblem(f"the key {json.dumps(key)} appears twice in one object")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise JSONProblem(f"{name} is not a number JSON allows")


def _reject_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        # 1e999 parses to inf, which is NaN's cousin: not a value wmtui ever writes.
        raise JSONProblem(f"{text} is too large a number")
    return value


def parse_json(data: bytes) -> Any:
    """Strict JSON from bytes: UTF-8 (a BOM is tolerated), no duplicate keys, no NaN/Infinity.

    Raises JSONProblem with a one-line, printable description; never RecursionError,
    UnicodeDecodeError or a bare JSONDecodeError.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JSONProblem(
            f"it is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    try:
        return json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
            parse_float=_reject_float,
        )
    except JSONProblem:
        raise
    except RecursionError:
        raise JSONProblem("it is nested too deeply to be a wmtui file") from None
    except json.JSONDecodeError as exc:
        raise JSONProblem(
            f"it is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        # e.g. an integer with more digits than int() accepts
        raise JSONProblem(f"it is not valid JSON: {exc}") from None
