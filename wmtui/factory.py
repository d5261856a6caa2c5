"""The one place that builds wmtui's parts: the service, the store, the demo and the app.

The CLI, the tests and the screenshot script all come through here (posting's `make_posting`),
so they run the same wiring. Nothing heavy is imported at module level: boto3 loads on the
service's first call, textual only in `make_app`, the emulator only for the demo.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from wmtui.core.cache import JobCache
from wmtui.core.locations import (
    endpoint_cache_dir,
    jobs_cache_path,
    names_cache_path,
    watchlist_path,
)
from wmtui.core.names import NameDirectory
from wmtui.core.profiles import ProfileBook, ProfileRouter
from wmtui.core.service import ExportObjects, ExportService
from wmtui.core.settings import Settings
from wmtui.core.watchlist import WatchList

if TYPE_CHECKING:
    from wmtui.core.preflight import Preflight
    from wmtui.emulator.s3 import S3Server
    from wmtui.emulator.server import EmulatorServer
    from wmtui.ui.app import WmtuiApp

# Static keys for the demo: the emulator accepts any signature, and the user's own
# credentials must never be needed (or sent anywhere) to look at the demo.
DEMO_CREDENTIALS: tuple[str, str] = ("AKIDDEMODEMODEMODEMO", "demo")
# Emulated seconds per real second: the demo's running exports (4-12 minutes long) move
# visibly at every 30-second refresh and finish one after another within a few minutes.
DEMO_SPEED = 2.0

# Hidden knobs for tests and slow links; not options because people should not need them.
MAX_ATTEMPTS_ENV = "WMTUI_MAX_ATTEMPTS"
CONNECT_TIMEOUT_ENV = "WMTUI_CONNECT_TIMEOUT"
READ_TIMEOUT_ENV = "WMTUI_READ_TIMEOUT"


def _env_number(name: str, default: float, environ: dict[str, str] | None = None) -> float:
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if value > 0 else default


def make_service(settings: Settings) -> ExportService:
    """The real service: boto3 against AWS, or against `settings.endpoint_url` (an emulator)."""
    # wmtui.aws is light to import; boto3 itself loads on the first call.
    from wmtui.aws.service import Boto3ExportService

    return Boto3ExportService(
        profile=settings.profile,
        region=settings.region,
        endpoint_url=settings.endpoint_url,
        max_attempts=int(_env_number(MAX_ATTEMPTS_ENV, 4)),
        connect_timeout=_env_number(CONNECT_TIMEOUT_ENV, 5.0),
        read_timeout=_env_number(READ_TIMEOUT_ENV, 10.0),
    )


def make_service_for(settings: Settings) -> Callable[[str], ExportService]:
    """How another profile's service is made: its own session and credentials, its own
    region, endpoint_url and services section as botocore reads them; `--endpoint-url` and
    `--region` still count for every profile."""

    def make(profile: str) -> ExportService:
        return make_service(replace(settings, profile=profile))

    return make


def _audited_maker(
    make: Callable[[str], ExportService], settings: Settings
) -> Callable[[str], ExportService]:
    """Each profile's service in the trail under its own profile."""

    def audited(profile: str) -> ExportService:
        return audit(make(profile), replace(settings, profile=profile))

    return audited


def make_objects(settings: Settings) -> ExportObjects:
    """The export files in S3: botocore picks the S3 endpoint (AWS, or AWS_ENDPOINT_URL_S3 or a
    profile's endpoint_url); GetMailboxDetails goes where WorkMail calls go."""
    from wmtui.aws.s3 import Boto3ExportObjects

    return Boto3ExportObjects(
        profile=settings.profile,
        region=settings.region,
        workmail_endpoint_url=settings.endpoint_url,
        connect_timeout=_env_number(CONNECT_TIMEOUT_ENV, 5.0),
        read_timeout=_env_number(READ_TIMEOUT_ENV, 20.0),
    )


def make_demo_objects(demo: DemoContext) -> ExportObjects:
    """The demo's S3 is the emulator's own endpoint, with the demo's static keys."""
    from wmtui.aws.s3 import Boto3ExportObjects
    from wmtui.emulator.demo import DEMO_REGION

    return Boto3ExportObjects(
        region=DEMO_REGION,
        s3_endpoint_url=demo.s3.endpoint_url if demo.s3 is not None else None,
        workmail_endpoint_url=demo.server.endpoint_url,
        credentials=DEMO_CREDENTIALS,
        connect_timeout=2.0,
        read_timeout=5.0,
    )


@dataclass
class DemoContext:
    """The in-process emulator behind `--demo` and its throwaway folder."""

    server: EmulatorServer
    service: ExportService
    # The settings to run with: region, endpoint and every folder point at the demo.
    settings: Settings
    temp_dir: Path
    # The emulator's S3, where its COMPLETED exports are (verify and fetch talk to it).
    s3: S3Server | None = None
    _stopped: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def stop(self) -> None:
        """Stop the emulator and delete the throwaway folder. Safe to call twice."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        atexit.unregister(self.stop)
        try:
            if self.s3 is not None:
                self.s3.stop()
            self.server.stop()
        finally:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> DemoContext:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_demo(settings: Settings) -> DemoContext:
    """Start the demo emulator with a watch list and cache in a new temp folder.

    The user's own config, watch list and cache are never read or written: every folder in
    the returned settings is inside the temp folder.
    """
    from wmtui.emulator.demo import DEMO_REGION, build_demo_state, demo_job_keys
    from wmtui.emulator.s3 import S3Server
    from wmtui.emulator.server import EmulatorServer
    from wmtui.emulator.state import EmulatorClock

    temp_dir = Path(tempfile.mkdtemp(prefix="wmtui-demo-"))
    server: EmulatorServer | None = None
    s3: S3Server | None = None
    try:
        state = build_demo_state(clock=EmulatorClock(speed=DEMO_SPEED))
        server = EmulatorServer(state).start()
        s3 = S3Server(state).start()
        demo_settings = replace(
            settings,
            config_dir=temp_dir / "config",
            cache_dir=temp_dir / "cache",
            data_dir=temp_dir / "data",
            region=DEMO_REGION,
            endpoint_url=server.endpoint_url,
            profile=None,
            demo=True,
        )
        WatchList(watchlist_path(demo_settings.config_dir)).add(demo_job_keys(state))
        from wmtui.aws.service import Boto3ExportService

        service = Boto3ExportService(
            region=DEMO_REGION,
            endpoint_url=server.endpoint_url,
            credentials=DEMO_CREDENTIALS,
            connect_timeout=2.0,
            read_timeout=5.0,
        )
    except BaseException:
        for started in (s3, server):
            if started is not None:
                with contextlib.suppress(Exception):
                    started.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    demo = DemoContext(
        server=server, service=service, settings=demo_settings, temp_dir=temp_dir, s3=s3
    )
    # A safety net: a demo nobody stopped still leaves no folder and no thread behind.
    atexit.register(demo.stop)
    return demo


def state_cache_dir(settings: Settings) -> Path:
    """Where the job and names caches live: per endpoint, so an emulator's jobs never show
    as AWS's (or another emulator's)."""
    if settings.demo:
        return settings.cache_dir  # a throwaway folder already
    return endpoint_cache_dir(settings.cache_dir, settings.endpoint_url)


@dataclass
class Backend:
    """What a command or the app works with: settings, service and the store."""

    settings: Settings
    service: ExportService
    watchlist: WatchList
    cache: JobCache
    demo: DemoContext | None = None
    _names: NameDirectory | None = field(default=None, init=False, repr=False)
    _objects: ExportObjects | None = field(default=None, repr=False)
    verify_in_app: bool = True

    @property
    def profiles(self) -> ProfileBook:
        """Which profile each organization belongs to (learned at each watch-list read)."""
        return self.watchlist.profiles

    @property
    def router(self) -> ProfileRouter | None:
        """The service as a profile router (None for a service given without one)."""
        return self.service if isinstance(self.service, ProfileRouter) else None

    @property
    def objects(self) -> ExportObjects:
        """The export files in S3 (verify, fetch); built on first use, each job with its
        organization's profile."""
        if self._objects is None:
            demo = self.demo
            if demo is not None:
                self._objects = make_demo_objects(demo)
            else:
                from wmtui.core.profile_objects import ProfileObjects

                settings = self.settings
                self._objects = ProfileObjects(
                    make_objects(settings),
                    self.profiles,
                    lambda profile: make_objects(replace(settings, profile=profile)),
                    default_profile=settings.profile,
                )
        return self._objects

    @property
    def names(self) -> NameDirectory:
        """Who each mailbox is, cached in the cache dir; the file is read on first lookup."""
        if self._names is None:
            self._names = NameDirectory(names_cache_path(state_cache_dir(self.settings)))
        return self._names

    def close(self) -> None:
        """Stop the demo emulator if there is one. Safe to call twice."""
        if self.demo is not None:
            self.demo.stop()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def audit(service: ExportService, settings: Settings) -> ExportService:
    """The service with every start and cancel in the trail (wmtui.core.trail): the one place
    the app, `start`, `cancel` and `export-org` all come through."""
    from wmtui.core.trail import AuditedService, Trail, trail_path

    profile = getattr(service, "profile", None)
    return AuditedService(
        service,
        Trail(trail_path(settings.data_dir)),
        profile=profile if isinstance(profile, str) else settings.profile,
        endpoint_url=settings.endpoint_url,
    )


def open_backend(
    settings: Settings,
    *,
    service: ExportService | None = None,
    objects: ExportObjects | None = None,
    profile_service: Callable[[str], ExportService] | None = None,
) -> Backend:
    """The service and store for `settings`; for `settings.demo`, the demo's throwaway ones.

    `service` replaces the one that would be built (tests, screenshots), and
    `profile_service(profile)` the one built for a named profile (without it, a given service
    serves every profile). Nothing is read from disk here: the watch list and cache load
    when asked.
    """
    demo: DemoContext | None = None
    given_service = service
    if settings.demo:
        demo = start_demo(settings)
        settings = demo.settings
        if service is None:
            service = demo.service
    if service is None:
        service = make_service(settings)
    audited = audit(service, settings)
    if demo is not None and demo.service is service:
        demo.service = audited
    book = ProfileBook()
    make_own = profile_service
    if make_own is None and given_service is None and demo is None:
        make_own = make_service_for(settings)
    make = None if make_own is None else _audited_maker(make_own, settings)
    # Each watched organization's calls go to its profile's service (the default chain's
    # when it names none, as before profiles were kept).
    service = ProfileRouter(audited, book, make, default_profile=settings.profile)
    if demo is None and given_service is None:
        from wmtui.aws.profiles import available_profiles

        service.profile_lister = available_profiles
    if demo is not None and demo.service is audited:
        demo.service = service
    return Backend(
        settings=settings,
        service=service,
        watchlist=WatchList(watchlist_path(settings.config_dir), profiles=book),
        cache=JobCache(jobs_cache_path(state_cache_dir(settings))),
        demo=demo,
        _objects=objects,
        verify_in_app=objects is not None or given_service is None,
    )


def build_app(backend: Backend, *, clock: Callable[[], datetime] | None = None) -> WmtuiApp:
    """The TUI over an opened backend; the app stops the demo emulator when it exits."""
    from wmtui.ui.app import WmtuiApp

    # The demo's WorkMail runs faster than the wall clock, but answers on the wall clock's
    # time line (EmulatorClock.to_wall): the app keeps the wall clock.
    return WmtuiApp(
        backend.service,
        backend.watchlist,
        backend.cache,
        backend.settings,
        clock=clock,
        names=backend.names,
        on_exit=backend.close if backend.demo is not None else None,
        # Verification in S3, unless a test gave its own service and no S3 to go with it.
        objects=backend.objects if backend.verify_in_app else None,
        preflight=make_preflight(backend, in_app=True),
    )


def make_preflight(backend: Backend, *, in_app: bool = False) -> Preflight | None:
    """The doctor's checks for this backend; None for the demo (its WorkMail is an emulator,
    its IAM, S3 and KMS would be AWS's). In the app, only against real AWS with wmtui's own
    service: against an emulator (or a test's service) nothing would answer as AWS does."""
    from wmtui.aws.preflight import Boto3Preflight
    from wmtui.aws.service import Boto3ExportService

    settings = backend.settings
    if backend.demo is not None or settings.demo:
        return None
    # The trail's AuditedService wraps the service: what matters is the one inside.
    inner = getattr(backend.service, "wrapped", backend.service)
    if in_app and (settings.endpoint_url or not isinstance(inner, Boto3ExportService)):
        return None
    from wmtui.core.profile_objects import ProfilePreflight

    def preflight_as(profile: str | None) -> Preflight:
        return Boto3Preflight(
            profile=profile,
            region=settings.region,
            endpoint_url=settings.endpoint_url,
            service=backend.service,
        )

    # An organization of another profile is checked with that profile's credentials.
    return ProfilePreflight(
        preflight_as(settings.profile),
        backend.profiles,
        preflight_as,
        default_profile=settings.profile,
    )


def make_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    service: ExportService | None = None,
) -> WmtuiApp:
    """The TUI, wired to the real service (or the demo, or `service` when given)."""
    backend = open_backend(settings, service=service)
    try:
        return build_app(backend, clock=clock)
    except BaseException:
        backend.close()
        raise
