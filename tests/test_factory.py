"""The one factory the CLI, the tests and the screenshot script build wmtui through."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wmtui import factory
from wmtui.core.locations import jobs_cache_path, watchlist_path
from wmtui.core.models import JobState
from wmtui.core.settings import load_settings
from wmtui.core.watchlist import WatchList
from wmtui.emulator.demo import DEMO_REGION
from wmtui.factory import DemoContext, make_app, make_service, open_backend, start_demo

ROOT = Path(__file__).resolve().parent.parent


def _refuses(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, int(port))) != 0


def test_make_service_follows_the_settings_and_loads_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from wmtui.core.settings import load_settings\n"
        "from wmtui.factory import make_service\n"
        "s = make_service(load_settings({'profile': 'ops', 'region': 'eu-west-1',"
        " 'endpoint_url': 'http://127.0.0.1:9'}))\n"
        "print(s.profile, s.default_region, s.endpoint_url)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'textual'}))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["ops eu-west-1 http://127.0.0.1:9", "[]"]


def test_open_backend_uses_the_settings_folders(tmp_path: Path) -> None:
    settings = load_settings({"config_dir": tmp_path / "cfg"})
    with open_backend(settings) as backend:
        assert backend.demo is None
        assert backend.watchlist.path == watchlist_path(tmp_path / "cfg")
        assert backend.cache.path == jobs_cache_path(settings.cache_dir)
        assert backend.settings is settings


def test_the_demo_lives_in_a_throwaway_folder_and_cleans_up(isolated_env: Path) -> None:
    settings = load_settings({"demo": True})
    user_config = settings.config_dir
    demo = start_demo(settings)
    try:
        assert demo.settings.region == DEMO_REGION
        assert demo.settings.endpoint_url == demo.server.endpoint_url
        for folder in (demo.settings.config_dir, demo.settings.cache_dir, demo.settings.data_dir):
            assert folder.is_relative_to(demo.temp_dir)
        watched = WatchList(watchlist_path(demo.settings.config_dir)).load()
        assert len(watched) >= 10
        # Static demo keys: no AWS configuration is needed to read the demo's jobs.
        listed = demo.service.list_jobs(DEMO_REGION, watched[0].organization_id)
        states = {job.state for job in listed}
        assert JobState.RUNNING in states and JobState.FAILED in states
    finally:
        demo.stop()
    demo.stop()  # twice is fine
    assert not demo.temp_dir.exists()
    assert _refuses(demo.server.endpoint_url)
    assert not user_config.exists()


def test_open_backend_for_the_demo_hands_out_the_demo_parts(isolated_env: Path) -> None:
    settings = load_settings({"demo": True, "region": "us-west-2"})
    with open_backend(settings) as backend:
        assert backend.demo is not None
        assert backend.service is backend.demo.service
        assert backend.settings.region == DEMO_REGION
        assert backend.watchlist.path.is_relative_to(backend.demo.temp_dir)
        assert backend.cache.path.is_relative_to(backend.demo.temp_dir)
        assert backend.watchlist.load()
        temp_dir = backend.demo.temp_dir
    assert not temp_dir.exists()
    assert not settings.config_dir.exists()


def test_make_service_is_what_the_cli_talks_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WMTUI_ENDPOINT_URL", "http://127.0.0.1:9")
    service = make_service(load_settings())
    assert service.target.endswith("endpoint http://127.0.0.1:9")


async def test_the_demo_app_stops_its_emulator_when_it_exits(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[DemoContext] = []

    def spy(settings: Any) -> DemoContext:
        started.append(start_demo(settings))
        return started[-1]

    monkeypatch.setattr(factory, "start_demo", spy)
    settings = load_settings({"demo": True})
    app = make_app(settings)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert started and started[0].server.running
    assert not started[0].server.running
    assert not started[0].temp_dir.exists()
    assert not settings.config_dir.exists()
