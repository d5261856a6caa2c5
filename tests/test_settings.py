"""Settings: defaults < config.toml < environment < command line, and never a crash."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from wmtui.core.settings import Settings, load_settings, load_ui_state, save_ui_state


@pytest.fixture
def config(isolated_env: Path) -> Path:
    folder = isolated_env / "wmtui-config"
    folder.mkdir()
    return folder


def write_config(config: Path, text: str) -> Path:
    path = config / "config.toml"
    path.write_text(text)
    return path


def test_defaults(isolated_env: Path) -> None:
    settings = load_settings()
    assert settings == Settings(
        config_dir=isolated_env / "wmtui-config",
        cache_dir=isolated_env / ".cache" / "wmtui",
        data_dir=isolated_env / ".local/share" / "wmtui",
    )
    assert settings.region is None  # no region is ever assumed
    assert (settings.interval, settings.bell, settings.clipboard) == (30.0, True, "auto")
    assert (settings.read_only, settings.demo, settings.warnings) == (False, False, ())


def test_loading_creates_nothing(isolated_env: Path) -> None:
    load_settings()
    assert not (isolated_env / "wmtui-config").exists()


def test_config_file_values(config: Path) -> None:
    write_config(
        config,
        """
profile = "admin"
region = "eu-west-1"
endpoint_url = "http://127.0.0.1:9999"
interval = 12
bell = false
clipboard = "OSC52"
read_only = true

[ui]
theme = "nord"
""",
    )
    settings = load_settings()
    assert settings.profile == "admin"
    assert settings.region == "eu-west-1"
    assert settings.endpoint_url == "http://127.0.0.1:9999"
    assert settings.interval == 12.0
    assert settings.bell is False
    assert settings.clipboard == "osc52"
    assert settings.read_only is True
    assert settings.warnings == ()


def test_precedence_file_then_environment_then_overrides(config: Path) -> None:
    write_config(config, 'profile = "file"\nregion = "us-west-2"\ninterval = 10\n')
    env = {"WMTUI_CONFIG_DIR": str(config), "AWS_PROFILE": "env", "WMTUI_INTERVAL": "20"}
    settings = load_settings(environ=env)
    assert (settings.profile, settings.region, settings.interval) == ("env", "us-west-2", 20.0)
    settings = load_settings({"profile": "cli", "region": None}, environ=env)
    assert (settings.profile, settings.region) == ("cli", "us-west-2")


@pytest.mark.parametrize(
    ("env", "profile", "region"),
    [
        ({"AWS_PROFILE": "a"}, "a", None),
        ({"AWS_PROFILE": "a", "WMTUI_PROFILE": "w"}, "w", None),
        ({"AWS_DEFAULT_REGION": "us-west-2"}, None, "us-west-2"),
        ({"AWS_DEFAULT_REGION": "us-west-2", "AWS_REGION": "eu-west-1"}, None, "eu-west-1"),
        ({"AWS_REGION": "eu-west-1", "WMTUI_REGION": "us-east-1"}, None, "us-east-1"),
        ({"AWS_REGION": "", "AWS_DEFAULT_REGION": "us-west-2"}, None, "us-west-2"),
    ],
)
def test_environment_names_and_their_order(
    env: dict[str, str], profile: str | None, region: str | None
) -> None:
    settings = load_settings(environ=env)
    assert (settings.profile, settings.region) == (profile, region)


def test_every_wmtui_variable(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "WMTUI_CONFIG_DIR": str(tmp_path / "c"),
            "WMTUI_CACHE_DIR": str(tmp_path / "k"),
            "WMTUI_DATA_DIR": str(tmp_path / "d"),
            "WMTUI_ENDPOINT_URL": "http://127.0.0.1:1234",
            "WMTUI_INTERVAL": "7.5",
            "WMTUI_CLIPBOARD": "tmux",
            "WMTUI_READ_ONLY": "yes",
            "WMTUI_BELL": "off",
        }
    )
    assert settings.config_dir == tmp_path / "c"
    assert settings.cache_dir == tmp_path / "k"
    assert settings.data_dir == tmp_path / "d"
    assert settings.endpoint_url == "http://127.0.0.1:1234"
    assert settings.interval == 7.5
    assert settings.clipboard == "tmux"
    assert settings.read_only is True
    assert settings.bell is False
    assert settings.warnings == ()


def test_config_dir_override_moves_config_cache_and_data(tmp_path: Path) -> None:
    write_config(tmp_path, 'profile = "from-override-dir"\n')
    settings = load_settings({"config_dir": tmp_path, "demo": True})
    assert settings.config_dir == tmp_path
    assert settings.cache_dir == tmp_path / "cache"
    assert settings.data_dir == tmp_path / "data"
    assert settings.profile == "from-override-dir"
    assert settings.demo is True


def test_an_unknown_override_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="intervall"):
        load_settings({"intervall": 10})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("interval = ", "not valid TOML", id="no-value"),
        pytest.param("[[[", "not valid TOML", id="brackets"),
        pytest.param('profile = "a"\nprofile = "b"\n', "not valid TOML", id="twice"),
        pytest.param("a = " + "[" * 5000 + "]" * 5000, "nested too deeply", id="deep"),
    ],
)
def test_a_broken_config_file_gives_defaults_and_a_warning(
    config: Path, text: str, problem: str
) -> None:
    path = write_config(config, text)
    settings = load_settings()
    assert settings.profile is None and settings.interval == 30.0
    assert len(settings.warnings) == 1
    assert str(path) in settings.warnings[0] and problem in settings.warnings[0]


def test_a_binary_config_file(config: Path) -> None:
    (config / "config.toml").write_bytes(b"\xff\xfe\x00\x01")
    settings = load_settings()
    assert settings.warnings and "not UTF-8" in settings.warnings[0]


def test_a_folder_in_place_of_the_config_file(config: Path) -> None:
    (config / "config.toml").mkdir()
    settings = load_settings()
    assert settings.warnings and "folder" in settings.warnings[0]


@pytest.mark.parametrize(
    ("line", "setting", "expected"),
    [
        ('interval = "fast"', "interval", "a number of seconds"),
        ("interval = nan", "interval", "finite"),
        ("interval = true", "interval", "a number of seconds"),
        ("bell = 1", "bell", "true or false"),
        ('clipboard = "xclip"', "clipboard", "auto, osc52, tmux, native, off"),
        ("profile = 3", "profile", "a string"),
        ('profile = ""', "profile", "empty"),
        ('profile = "a\\u001b[31m"', "profile", "control characters"),
        ('region = "us east"', "region", "region name"),
        ('endpoint_url = "127.0.0.1:1234"', "endpoint_url", "http://"),
        ("read_only = []", "read_only", "true or false"),
    ],
)
def test_a_wrongly_typed_value_keeps_the_default_and_says_where(
    config: Path, line: str, setting: str, expected: str
) -> None:
    good = 'clipboard = "off"\n' if setting != "clipboard" else ""
    path = write_config(config, line + "\n" + good)
    settings = load_settings()
    assert getattr(settings, setting) == getattr(
        Settings(config_dir=Path(), cache_dir=Path(), data_dir=Path()), setting
    )
    warning = next(w for w in settings.warnings if f": {setting} = " in w)
    assert str(path) in warning and expected in warning
    assert "\x1b" not in warning
    if setting != "clipboard":
        # The other, good values in the file still count.
        assert settings.clipboard == "off"


def test_a_bad_environment_value_keeps_the_files_value(config: Path) -> None:
    write_config(config, 'clipboard = "native"\n')
    settings = load_settings(environ={"WMTUI_CONFIG_DIR": str(config), "WMTUI_CLIPBOARD": "x"})
    assert settings.clipboard == "native"
    assert settings.warnings == (
        'environment variable WMTUI_CLIPBOARD = "x": expected one of auto, osc52, tmux, '
        'native, off; using "native" instead',
    )


def test_unknown_keys_are_warned_about(config: Path) -> None:
    path = write_config(config, "intervall = 10\n")
    settings = load_settings()
    assert settings.warnings and str(path) in settings.warnings[0]
    assert '"intervall"' in settings.warnings[0]


@pytest.mark.parametrize(("given", "clamped"), [(1, 5.0), (0, 5.0), (-3, 5.0), (10**9, 86400.0)])
def test_interval_is_clamped_with_a_warning(config: Path, given: int, clamped: float) -> None:
    write_config(config, f"interval = {given}\n")
    settings = load_settings()
    assert settings.interval == clamped
    assert len(settings.warnings) == 1 and "interval" in settings.warnings[0]


def test_interval_from_the_command_line_is_clamped_too() -> None:
    settings = load_settings({"interval": 2})
    assert settings.interval == 5.0
    assert "command-line" in settings.warnings[0]


# -- ui-state.json -----------------------------------------------------------------------------


def test_ui_state_round_trip_is_private(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    assert load_ui_state(folder) == {}
    assert save_ui_state(folder, {"theme": "nord"}) is True
    assert load_ui_state(folder) == {"theme": "nord"}
    assert stat.S_IMODE((folder / "ui-state.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert json.loads((folder / "ui-state.json").read_text()) == {"theme": "nord"}


@pytest.mark.parametrize("content", [b"", b"{", b"[1]", b"\xff", b'{"a": NaN}', b"[" * 100_000])
def test_a_corrupt_ui_state_is_forgotten(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "ui-state.json").write_bytes(content)
    assert load_ui_state(tmp_path) == {}
    assert save_ui_state(tmp_path, {"theme": "x"})
    assert load_ui_state(tmp_path) == {"theme": "x"}


def test_a_ui_state_that_cannot_be_saved_returns_false(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    assert save_ui_state(tmp_path / "file", {"theme": "x"}) is False
