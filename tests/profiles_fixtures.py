"""Two AWS accounts on loopback: two emulators, reached through two profiles of a temporary
AWS config file, each with its own `endpoint_url`, region and keys."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from wmtui.core.models import JobKey
from wmtui.emulator.demo import build_small_state
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock

REGION = "us-east-1"


@dataclass
class Account:
    profile: str
    server: EmulatorServer

    @property
    def organization_id(self) -> str:
        return self.server.state.organization_ids[0]

    def job_keys(self) -> list[JobKey]:
        org = self.organization_id
        return [JobKey(REGION, org, job.job_id) for job in self.server.state.jobs(org)]


@dataclass
class TwoAccounts:
    a: Account
    b: Account
    config_file: Path
    credentials_file: Path

    def expire(self, account: Account) -> None:
        """The account's session credentials expire: every call gets ExpiredTokenException."""
        account.server.inject(None, "expired-token", count=None)


def write_profiles(config: Path, credentials: Path, accounts: list[Account]) -> None:
    config.write_text(
        "".join(
            f"[profile {acc.profile}]\nregion = {REGION}\n"
            f"endpoint_url = {acc.server.endpoint_url}\n\n"
            for acc in accounts
        )
    )
    credentials.write_text(
        "".join(
            f"[{acc.profile}]\naws_access_key_id = AKID{acc.profile.upper().replace('-', '')}"
            f"TEST\naws_secret_access_key = secret-{acc.profile}\n\n"
            for acc in accounts
        )
    )
    os.chmod(credentials, 0o600)


@pytest.fixture
def two_accounts(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwoAccounts]:
    """A fixture (with conftest's isolated_env), imported by the modules that use it: profiles
    `client-a` and `client-b`, each its own emulator (its own organization and jobs); no
    default credentials at all, so nothing works without a profile."""
    servers: list[EmulatorServer] = []
    try:
        for seed in (1, 2):
            state = build_small_state(clock=EmulatorClock(manual=True), seed=seed)
            servers.append(EmulatorServer(state, hang_seconds=5).start())
        a = Account("client-a", servers[0])
        b = Account("client-b", servers[1])
        assert a.organization_id != b.organization_id
        config = Path(os.environ["AWS_CONFIG_FILE"])
        credentials = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
        write_profiles(config, credentials, [a, b])
        monkeypatch.setenv("WMTUI_MAX_ATTEMPTS", "1")
        monkeypatch.setenv("WMTUI_CACHE_DIR", str(isolated_env / "cache"))
        monkeypatch.setenv("WMTUI_DATA_DIR", str(isolated_env / "data"))
        yield TwoAccounts(a, b, config, credentials)
    finally:
        for server in servers:
            server.stop()
