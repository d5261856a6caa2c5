"""The app's doctor end to end: the real Boto3Preflight against moto (STS, S3, IAM, KMS) and the
emulator (WorkMail), behind `n`: a set-up broken in moto shows its failure before the start,
and `s` starts the export in the emulator anyway."""

from __future__ import annotations

from pathlib import Path

# The moto server and the set-up to break, shared with test_doctor_moto as fixtures.
from test_doctor_moto import PREFIX, REGION, World, moto_url, world  # noqa: F401
from test_ui_app import SIZE, settle, static_text
from textual.widgets import Input

from wmtui.aws.preflight import Boto3Preflight
from wmtui.aws.service import Boto3ExportService
from wmtui.core.cache import JobCache
from wmtui.core.settings import Settings
from wmtui.core.watchlist import WatchList
from wmtui.ui.app import WmtuiApp
from wmtui.ui.screens.confirm import ConfirmScreen
from wmtui.ui.screens.doctor import DoctorScreen
from wmtui.ui.screens.start import StartExportScreen


def app_on(world: World, tmp_path: Path) -> WmtuiApp:  # noqa: F811
    endpoint = world.emulator.endpoint_url
    service = Boto3ExportService(
        region=REGION, endpoint_url=endpoint, connect_timeout=2.0, read_timeout=5.0
    )
    settings = Settings(
        config_dir=tmp_path / "config",
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        region=REGION,
        endpoint_url=endpoint,
        clipboard="osc52",
    )
    app = WmtuiApp(
        service,
        WatchList(tmp_path / "config" / "watchlist.json"),
        JobCache(tmp_path / "cache" / "jobs.json"),
        settings,
        preflight=Boto3Preflight(region=REGION, endpoint_url=endpoint, service=service),
    )
    app.cursor_blink = False
    return app


async def test_a_bucket_open_to_the_public_is_caught_before_the_start(
    world: World,  # noqa: F811
    tmp_path: Path,
) -> None:
    world.s3.delete_public_access_block(Bucket=world.bucket)
    app = app_on(world, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, StartExportScreen)
        form.query_one("#start-organization", Input).value = world.org
        await settle(app, pilot)
        await pilot.press("tab", *"dave", "enter")
        for name, value in (
            ("bucket", world.bucket),
            ("prefix", PREFIX),
            ("role_arn", world.role_arn),
            ("kms_key_arn", world.key_arn),
        ):
            form.query_one(f"#start-{name}", Input).value = value
            await pilot.pause()
        await pilot.press("ctrl+s")
        for _ in range(100):  # the checks run in a thread, against two servers
            await settle(app, pilot)
            if not isinstance(app.screen, StartExportScreen):
                break
        gate = app.screen
        assert isinstance(gate, DoctorScreen), type(gate)
        shown = static_text(gate, "#doctor-report")
        assert "FAIL bucket-public-access" in " ".join(shown.split())
        assert "put-public-access-block" in shown
        await pilot.press("s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
    started = world.emulator.state.exports_started(world.org)
    assert sum(len(jobs) for jobs in started.values()) == 1
