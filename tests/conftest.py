"""Every test runs cut off from the user's AWS setup and from any address but loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from wmtui.emulator.server import EmulatorServer


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """No real credentials, config or instance-metadata probe; wmtui's folders in tmp."""
    home = tmp_path_factory.mktemp("home")
    aws_config = home / "aws-config"
    aws_creds = home / "aws-credentials"
    aws_config.write_text("")
    aws_creds.write_text("")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws_creds))
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_WORKMAIL",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "WMTUI_ENDPOINT_URL",
        "WMTUI_CLIPBOARD",
        "TMUX",
        "SSH_CONNECTION",
        "SSH_TTY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("WMTUI_CONFIG_DIR", str(home / "wmtui-config"))
    # Should anything ever try an SSO login, it meets a closed port on loopback.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9")
    _point_sso_cache_at(home, monkeypatch)
    yield home


def _point_sso_cache_at(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore fixes its SSO token cache folder from $HOME when first imported: move it too."""
    import sys

    cache = str(home / ".aws" / "sso" / "cache")
    credentials = sys.modules.get("botocore.credentials")
    tokens = sys.modules.get("botocore.tokens")
    if credentials is not None:
        monkeypatch.setattr(credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", cache)
    if tokens is not None:
        monkeypatch.setattr(tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", cache)


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Static test credentials, as the emulator accepts any signature from any key."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testsecret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


# --------------------------------------------------------------------------- the emulator
# Appended by the emulator helper. `emulator` serves a small deterministic WorkMail on 127.0.0.1
# (see wmtui.emulator.demo.build_small_state) with a manual clock: nothing moves until a test
# calls `emulator.state.clock.advance(seconds)`. Its organization is
# `emulator.state.organization_ids[0]`.


@pytest.fixture
def emulator(aws_credentials: None) -> Iterator[EmulatorServer]:
    from wmtui.emulator.demo import build_small_state
    from wmtui.emulator.server import EmulatorServer
    from wmtui.emulator.state import EmulatorClock

    state = build_small_state(clock=EmulatorClock(manual=True))
    server = EmulatorServer(state, hang_seconds=10).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def botocore_loader() -> Any:
    """One botocore data loader for the run: parsing the model JSON per client costs ~0.2 s."""
    from botocore.loaders import create_loader

    return create_loader()


@pytest.fixture
def emulator_client(emulator: EmulatorServer, botocore_loader: Any) -> Any:
    """A plain boto3 WorkMail client on the emulator: no retries, short timeouts."""
    import boto3
    import botocore.session
    from botocore.config import Config

    core = botocore.session.get_session()
    core.register_component("data_loader", botocore_loader)
    return boto3.session.Session(botocore_session=core).client(
        "workmail",
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=2,
            read_timeout=5,
        ),
    )


@pytest.fixture
def emulator_service(emulator: EmulatorServer) -> Any:
    """wmtui's own Boto3ExportService on the emulator, with short timeouts."""
    service_module = pytest.importorskip("wmtui.aws.service")
    return service_module.Boto3ExportService(
        endpoint_url=emulator.endpoint_url,
        region="us-east-1",
        connect_timeout=2.0,
        read_timeout=5.0,
    )
