"""What the user chose: defaults < config.toml < environment < command line.

Nothing here fails on a bad value: it is skipped (the lower layer's value stays) and a warning
naming where it came from goes into `Settings.warnings` for the UI or CLI to show.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

from wmtui.core import locations
from wmtui.core.coverage import END_OF_SUPPORT
from wmtui.core.locations import JSONProblem, NotAFileProblem, parse_json, read_file
from wmtui.core.models import REGION_PATTERN, printable

CLIPBOARD_MODES: tuple[str, ...] = ("auto", "osc52", "tmux", "native", "off")
MIN_INTERVAL = 5.0
# A day: longer than that is a typo, and a timer that far out is not watching anything.
MAX_INTERVAL = 86_400.0
DEFAULT_INTERVAL = 30.0
MAX_CONFIG_BYTES = 1024 * 1024
MAX_UI_STATE_BYTES = 1024 * 1024
DEFAULT_PRESIGN_EXPIRY = 3600
# SigV4 presigned URLs live at most seven days.
MAX_PRESIGN_EXPIRY = 7 * 24 * 3600


@dataclass(frozen=True)
class Settings:
    config_dir: Path
    cache_dir: Path
    data_dir: Path
    profile: str | None = None
    # None: the profile's region, else no region at all (us-east-1 is never assumed).
    region: str | None = None
    endpoint_url: str | None = None
    interval: float = DEFAULT_INTERVAL  # seconds between refreshes, at least MIN_INTERVAL
    bell: bool = True
    clipboard: str = "auto"  # one of CLIPBOARD_MODES
    read_only: bool = False
    demo: bool = False
    # Seconds a presigned download URL stays valid (1 to MAX_PRESIGN_EXPIRY).
    presign_expiry: int = DEFAULT_PRESIGN_EXPIRY
    # WorkMail's end of support: the deadline the coverage screen and `wmtui coverage` count to.
    end_of_support: date = END_OF_SUPPORT
    # A program run once per event with the event as JSON on stdin (wmtui.core.notify).
    notify_command: str | None = None
    toasts: bool = True  # the app's pop-up notices of finished exports
    warnings: tuple[str, ...] = ()  # problems found while loading, for the user to see


# Settings config.toml may hold (the others are not the file's business).
_FILE_KEYS = (
    "profile",
    "region",
    "endpoint_url",
    "interval",
    "bell",
    "clipboard",
    "read_only",
    "presign_expiry",
    "end_of_support",
    "notify_command",
    "toasts",
)
# Tables other parts of wmtui may read from config.toml one day; not an error.
_TOLERATED_TABLES = ("ui",)
_OVERRIDE_KEYS = frozenset(f.name for f in fields(Settings)) - {"warnings"}

# Environment variables, in order of precedence within the environment layer.
_ENV_NAMES: dict[str, tuple[str, ...]] = {
    "profile": ("WMTUI_PROFILE", "AWS_PROFILE"),
    "region": ("WMTUI_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    "endpoint_url": ("WMTUI_ENDPOINT_URL",),
    "interval": ("WMTUI_INTERVAL",),
    "clipboard": ("WMTUI_CLIPBOARD",),
    "read_only": ("WMTUI_READ_ONLY",),
    "bell": ("WMTUI_BELL",),
    "presign_expiry": ("WMTUI_PRESIGN_EXPIRY",),
    "end_of_support": ("WMTUI_END_OF_SUPPORT",),
    "notify_command": ("WMTUI_NOTIFY_COMMAND",),
    "toasts": ("WMTUI_TOASTS",),
}

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class _Rejected(ValueError):
    """A value that does not fit its setting; str() says what was expected."""


def _as_name(value: object) -> str:
    if not isinstance(value, str):
        raise _Rejected("expected a string")
    text = value.strip()
    if not text:
        raise _Rejected("is empty")
    if any(not ch.isprintable() for ch in text):
        raise _Rejected("holds control characters")
    return text


def _as_region(value: object) -> str:
    text = _as_name(value)
    if not REGION_PATTERN.fullmatch(text):
        raise _Rejected("is not a region name such as us-east-1")
    return text


def _as_endpoint(value: object) -> str:
    text = _as_name(value)
    if not text.lower().startswith(("http://", "https://")) or len(text) <= len("http://"):
        raise _Rejected("expected a URL starting with http:// or https://")
    return text


def _as_interval(value: object) -> float:
    if isinstance(value, bool):
        raise _Rejected("expected a number of seconds")
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _Rejected("expected a number of seconds") from None
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        raise _Rejected("expected a number of seconds")
    if not math.isfinite(number):
        raise _Rejected("expected a finite number of seconds")
    return number


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise _Rejected("expected true or false (or 1/0, yes/no, on/off)")


def _as_clipboard(value: object) -> str:
    if not isinstance(value, str) or value.strip().lower() not in CLIPBOARD_MODES:
        raise _Rejected("expected one of " + ", ".join(CLIPBOARD_MODES))
    return value.strip().lower()


def _as_expiry(value: object) -> int:
    if isinstance(value, bool):
        raise _Rejected("expected a whole number of seconds")
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            raise _Rejected("expected a whole number of seconds") from None
    elif isinstance(value, int):
        number = value
    else:
        raise _Rejected("expected a whole number of seconds")
    if not 1 <= number <= MAX_PRESIGN_EXPIRY:
        raise _Rejected(f"expected 1 to {MAX_PRESIGN_EXPIRY} seconds (seven days)")
    return number


def _as_date(value: object) -> date:
    # TOML has dates of its own (end_of_support = 2027-03-31); the environment has text.
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Rejected("expected a date such as 2027-03-31")


def _as_command(value: object) -> str:
    import shlex

    text = _as_name(value)
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise _Rejected(f"cannot be split into words ({exc})") from None
    if not words:
        raise _Rejected("names no program")
    return text


_PARSERS: dict[str, Callable[[object], object]] = {
    "profile": _as_name,
    "region": _as_region,
    "endpoint_url": _as_endpoint,
    "interval": _as_interval,
    "bell": _as_bool,
    "clipboard": _as_clipboard,
    "read_only": _as_bool,
    "demo": _as_bool,
    "presign_expiry": _as_expiry,
    "end_of_support": _as_date,
    "notify_command": _as_command,
    "toasts": _as_bool,
}


def _shown(value: object) -> str:
    """A value quoted in a warning: printable, capped, strings in quotes, TOML's booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return json.dumps(printable(value, 60)) if isinstance(value, str) else printable(value, 60)


def _read_config_file(path: Path, warnings: list[str]) -> dict[str, object]:
    """config.toml's settings; {} (and a warning) if it is missing or broken."""
    try:
        data = read_file(path, MAX_CONFIG_BYTES)
    except NotAFileProblem as exc:
        warnings.append(f"{path}: {exc}; ignored it and used the defaults")
        return {}
    except OSError as exc:
        warnings.append(f"{path}: cannot be read ({exc.strerror or exc}); used the defaults")
        return {}
    if data is None:
        return {}
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        warnings.append(f"{path}: is not UTF-8 text; ignored it and used the defaults")
        return {}
    except tomllib.TOMLDecodeError as exc:
        warnings.append(f"{path}: is not valid TOML ({exc}); ignored it and used the defaults")
        return {}
    except RecursionError:
        warnings.append(f"{path}: is nested too deeply; ignored it and used the defaults")
        return {}
    found: dict[str, object] = {}
    for key, value in document.items():
        if key in _FILE_KEYS:
            found[key] = value
        elif key in _TOLERATED_TABLES and isinstance(value, dict):
            continue
        else:
            known = ", ".join(_FILE_KEYS)
            warnings.append(f"{path}: unknown setting {_shown(key)} ignored (known: {known})")
    return found


def _from_environ(environ: Mapping[str, str]) -> dict[str, tuple[str, object]]:
    """setting -> (the variable it came from, its raw value); empty variables are unset."""
    found: dict[str, tuple[str, object]] = {}
    for setting, names in _ENV_NAMES.items():
        for name in names:
            value = environ.get(name)
            if value is not None and value.strip():
                found[setting] = (name, value)
                break
    return found


def _optional_path(value: object, name: str) -> Path | None:
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    raise TypeError(f"override {name!r} must be a path, got {type(value).__name__}")


def load_settings(
    overrides: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """defaults < config.toml (in the config dir) < environment < overrides (the CLI).

    `overrides` keys are Settings field names; a None value means "not given" (argparse's
    default). Folders: overrides "config_dir" (`--config-dir`), "cache_dir", "data_dir".
    An unknown override key is a programming error: TypeError.
    """
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(given) - _OVERRIDE_KEYS
    if unknown:
        raise TypeError(f"unknown settings override(s): {', '.join(sorted(unknown))}")
    env = os.environ if environ is None else environ
    warnings: list[str] = []

    config_override = _optional_path(given.pop("config_dir", None), "config_dir")
    config = locations.config_dir(config_override, environ=env)
    cache = _optional_path(given.pop("cache_dir", None), "cache_dir") or locations.cache_dir(
        config_override, environ=env
    )
    data = _optional_path(given.pop("data_dir", None), "data_dir") or locations.data_dir(
        config_override, environ=env
    )

    values: dict[str, Any] = {}
    config_path = locations.config_file_path(config)
    layers: list[tuple[Callable[[str], str], Mapping[str, object]]] = [
        (lambda key: f"{config_path}: {key}", _read_config_file(config_path, warnings)),
    ]
    env_values = _from_environ(env)
    layers.append(
        (
            lambda key: f"environment variable {env_values[key][0]}",
            {key: raw for key, (_, raw) in env_values.items()},
        )
    )
    layers.append((lambda key: f"the command-line option for {key}", given))

    for describe, layer in layers:
        for key, raw in layer.items():
            try:
                value = _PARSERS[key](raw)
            except _Rejected as exc:
                kept = values.get(key, getattr(_DEFAULTS, key))
                instead = "ignored it" if kept is None else f"using {_shown(kept)} instead"
                warnings.append(f"{describe(key)} = {_shown(raw)}: {exc}; {instead}")
                continue
            if isinstance(value, float) and key == "interval":
                value = _clamped_interval(value, describe(key), warnings)
            values[key] = value

    return Settings(
        config_dir=config,
        cache_dir=cache,
        data_dir=data,
        warnings=tuple(warnings),
        **values,
    )


def _clamped_interval(seconds: float, source: str, warnings: list[str]) -> float:
    if seconds < MIN_INTERVAL:
        warnings.append(
            f"{source} = {seconds:g} s is shorter than the {MIN_INTERVAL:g} s minimum; "
            f"using {MIN_INTERVAL:g} s"
        )
        return MIN_INTERVAL
    if seconds > MAX_INTERVAL:
        warnings.append(
            f"{source} = {seconds:g} s is longer than the {MAX_INTERVAL:g} s maximum; "
            f"using {MAX_INTERVAL:g} s"
        )
        return MAX_INTERVAL
    return seconds


# Field defaults, for the "using X instead" of a warning.
_DEFAULTS = Settings(config_dir=Path(), cache_dir=Path(), data_dir=Path())


# -- ui-state.json: small things the UI remembers (the theme) --------------------------------


def load_ui_state(config_dir: Path) -> dict[str, Any]:
    """What the UI saved last time; {} if nothing was, or the file is unusable."""
    try:
        data = read_file(locations.ui_state_path(config_dir), MAX_UI_STATE_BYTES)
        if data is None:
            return {}
        document = parse_json(data)
    except (OSError, NotAFileProblem, JSONProblem):
        # Only cosmetic memory lives here: forgetting it beats a failed start.
        return {}
    return document if isinstance(document, dict) else {}


def save_ui_state(config_dir: Path, state: Mapping[str, Any]) -> bool:
    """Save atomically (0600 in a 0700 folder); False if it could not be saved.

    Raises TypeError/ValueError only for a `state` that is not plain JSON (a programming error).
    """
    data = (json.dumps(dict(state), indent=2, sort_keys=True, allow_nan=False) + "\n").encode()
    try:
        locations.write_private_file(locations.ui_state_path(config_dir), data)
    except OSError:
        return False
    return True
