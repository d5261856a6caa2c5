"""The demo organization behind `wmtui --demo`, the small one tests use, and `wmtui emulator`.

Only argparse and the standard library at import: the CLI builds its parser from this module
without paying for botocore; state and server are imported when a command runs.
"""

from __future__ import annotations

import argparse
import functools
import random
import signal
import sys
import threading
import unicodedata
from datetime import timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any

from wmtui.core.models import JobKey

if TYPE_CHECKING:
    from wmtui.emulator.state import EmulatorClock, EmulatorState

DEMO_REGION = "us-east-1"
DEMO_ALIAS = "example-corp"
DEMO_BUCKET = "example-corp-workmail-export"
DEMO_ROLE_ARN = "arn:aws:iam::123456789012:role/WorkMailExportRole"
DEMO_KMS_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/4f1c2b9e-7d3a-4e8b-9c61-2a5d8e0f7b34"

_FIRST_NAMES = (
    "Alice", "Bernard", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiroshi", "Ines", "Jonas",
    "Kavya", "Liam", "Maya", "Nikolai", "Olivia", "Pedro", "Quinn", "Rosa", "Sven", "Tamsin",
    "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoë", "Aaron", "Beatriz", "Carlos", "Daria",
    "Elif", "Felix", "Gemma", "Hamid", "Isla", "José", "Kai", "Leila", "Marcus", "Noor",
)  # fmt: skip
_LAST_NAMES = (
    "Anderson", "Brandt", "Castillo", "Dubois", "Eriksen", "Fischer", "García", "Haddad",
    "Ivanova", "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "O'Neill", "Petrov",
    "Quintero", "Rossi", "Schmidt", "Tanaka", "Usman", "Virtanen", "Weber", "Xu", "Yilmaz",
    "Zimmermann", "Álvarez", "Becker", "Chen", "Novak",
)  # fmt: skip
_SHARED_MAILBOXES = (
    ("accounts-payable", "Accounts Payable"),
    ("helpdesk", "IT Helpdesk"),
    ("hr-team", "HR Team"),
    ("info", "Example Corp Info"),
    ("legal", "Legal [shared]"),
    ("no-reply", "No Reply"),
    ("press", "Press Office"),
    ("sales", "Sales Team"),
)
_RESOURCES = (
    ("boardroom", "ROOM", "Boardroom, 4th floor, seats 14"),
    ("fishbowl", "ROOM", "Small meeting room by reception"),
    ("training-room-2", "ROOM", "Training room 2, projector and VC"),
    ("pool-car-1", "EQUIPMENT", "Pool car (Skoda Octavia)"),
    ("projector-a", "EQUIPMENT", "Portable projector A"),
)
_DESCRIPTIONS = (
    "Pre-shutdown export batch {batch}",
    "Legal hold copy for {name}",
    "Leaver archive: {name}",
    "Pre-shutdown export batch {batch}",
    "Migration to new mail platform, wave {batch}",
    "",
)


def _ascii_slug(text: str) -> str:
    """A user name from a person's name: 'José Álvarez' -> 'jose.alvarez'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in plain.lower().replace(" ", ".") if ch.isalnum() or ch in ".-")


def build_demo_state(
    *,
    clock: EmulatorClock | None = None,
    seed: int = 7,
    organizations: int = 1,
    mailboxes: int = 200,
    jobs: int = 40,
) -> EmulatorState:
    """An organization (or several) that looks lived in: people, rooms, exports in every state.

    With the defaults: 200 mailboxes and 40 jobs in `example-corp` (us-east-1), 8 RUNNING and
    finishing over the next few minutes at the clock's speed, one FAILED with its ErrorInfo, one
    CANCELLED, one started nine days ago (only Describe finds it), the rest COMPLETED.
    """
    from wmtui.emulator.state import EmulatorState

    state = EmulatorState(
        clock=clock,
        seed=seed,
        job_duration=timedelta(minutes=3),
        job_duration_jitter=0.3,
    )
    rng = random.Random(seed)
    for index in range(organizations):
        alias = DEMO_ALIAS if index == 0 else f"{DEMO_ALIAS}-{index + 1}"
        org_id = state.add_organization(alias, region=DEMO_REGION)
        entity_ids = _add_mailboxes(state, org_id, mailboxes, rng)
        _add_jobs(state, org_id, entity_ids, jobs, rng)
    _spoil_two_exports(state)
    return state


def _spoil_two_exports(state: EmulatorState) -> None:
    """In S3, one COMPLETED export of the first organization is missing and one is encrypted
    with another KMS key: what verification is there to find."""
    from wmtui.emulator.s3 import objects_of

    if not state.organization_ids:
        return
    completed = [job for job in state.jobs(state.organization_ids[0]) if job.state == "COMPLETED"]
    store = objects_of(state)
    for job, how in zip(completed[2:6:3], ("missing", "wrong-key"), strict=False):
        store.spoil_job(job, how)


def _add_mailboxes(state: EmulatorState, org_id: str, count: int, rng: random.Random) -> list[str]:
    """`count` mailboxes: a few resources and shared mailboxes, the rest people."""
    entity_ids: list[str] = []
    used: set[str] = set()
    resources = _RESOURCES[: max(0, min(len(_RESOURCES), count // 40))]
    for name, kind, description in resources:
        entity_ids.append(
            state.add_mailbox(org_id, name, kind=kind, display_name=None, description=description)
        )
        used.add(name)
    shared = _SHARED_MAILBOXES[: max(0, min(len(_SHARED_MAILBOXES), count // 25))]
    for name, display in shared:
        entity_ids.append(state.add_mailbox(org_id, name, display_name=display))
        used.add(name)
    people = count - len(entity_ids)
    for index in range(people):
        first = _FIRST_NAMES[rng.randrange(len(_FIRST_NAMES))]
        last = _LAST_NAMES[rng.randrange(len(_LAST_NAMES))]
        name = _ascii_slug(f"{first} {last}").replace("'", "")
        while name in used:
            name = f"{name.rstrip('0123456789')}{rng.randrange(2, 99)}"
        used.add(name)
        # Leavers: a few disabled accounts, as any organization has.
        disabled = index % 37 == 36
        entity_ids.append(
            state.add_mailbox(
                org_id,
                name,
                display_name=f"{first} {last}",
                state="DISABLED" if disabled else "ENABLED",
            )
        )
    return entity_ids


def _add_jobs(
    state: EmulatorState,
    org_id: str,
    entity_ids: list[str],
    count: int,
    rng: random.Random,
) -> None:
    if count <= 0 or not entity_ids:
        return
    enabled = [m.entity_id for m in state.mailboxes(org_id) if m.state == "ENABLED"]
    targets = rng.sample(enabled, k=min(count, len(enabled)))
    while len(targets) < count:
        targets.append(rng.choice(enabled))
    names = {m.entity_id: m.display_name or m.name for m in state.mailboxes(org_id)}
    running = min(8, max(1, count // 5), state.max_running)
    special = ["FAILED", "CANCELLED", "OLD"][: max(0, count - running)]
    plan = ["RUNNING"] * running + special
    plan += ["COMPLETED"] * (count - len(plan))
    add_job = functools.partial(
        state.add_job, s3_bucket=DEMO_BUCKET, role_arn=DEMO_ROLE_ARN, kms_key_arn=DEMO_KMS_KEY_ARN
    )
    for index, (kind, entity_id) in enumerate(zip(plan, targets, strict=True)):
        batch = 1 + index // 10
        description = _DESCRIPTIONS[index % len(_DESCRIPTIONS)].format(
            batch=batch, name=names.get(entity_id, entity_id)
        )
        prefix = f"pre-shutdown/batch-{batch}"
        add_job(org_id, entity_id, **_demo_job(kind, description, prefix, rng))


def _demo_job(kind: str, description: str, prefix: str, rng: random.Random) -> dict[str, Any]:
    """The add_job arguments for one job of the demo's plan (RUNNING, FAILED, CANCELLED, OLD
    or COMPLETED)."""
    if kind == "RUNNING":
        # Staggered so they finish one after another over the next few minutes.
        duration = timedelta(minutes=rng.uniform(4, 12))
        return {
            "state": "RUNNING",
            "progress": rng.randrange(5, 85),
            "duration": duration,
            "description": description,
            "s3_prefix": prefix,
        }
    if kind == "FAILED":
        return {
            "state": "FAILED",
            "progress": 37,
            "started_ago": timedelta(hours=5, minutes=12),
            "duration": timedelta(minutes=41),
            "description": description,
            "s3_prefix": prefix,
            "error_info": (
                "Unable to write to the S3 bucket example-corp-workmail-export: Access "
                "Denied. The role arn:aws:iam::123456789012:role/WorkMailExportRole needs "
                "s3:PutObject and s3:AbortMultipartUpload on the bucket."
            ),
        }
    if kind == "CANCELLED":
        return {
            "state": "CANCELLED",
            "progress": 12,
            "started_ago": timedelta(hours=2, minutes=40),
            "duration": timedelta(minutes=6),
            "description": "Started by mistake (wrong prefix)",
            "s3_prefix": "pre-shutdwon",
        }
    if kind == "OLD":
        return {
            "state": "COMPLETED",
            "started_ago": timedelta(days=9, hours=3),
            "duration": timedelta(minutes=52),
            "description": "Pilot export (first test)",
            "s3_prefix": "pilot",
        }
    # Spread over the last six days, a few minutes to an hour each.
    started_ago = timedelta(hours=rng.uniform(0.5, 6 * 24))
    return {
        "state": "COMPLETED",
        "started_ago": started_ago,
        "duration": timedelta(minutes=rng.uniform(3, 60)),
        "description": description,
        "s3_prefix": prefix,
    }


def build_small_state(*, clock: EmulatorClock | None = None, seed: int = 1) -> EmulatorState:
    """What the tests' `emulator` fixture serves: one organization, five mailboxes, two jobs.

    Users alice, bob, carol (DISABLED) and dave, the room `boardroom`; a RUNNING export of alice
    at 40 % (10 minutes long) and a COMPLETED one of bob from two days ago.
    """
    from wmtui.emulator.state import EmulatorState

    state = EmulatorState(clock=clock, seed=seed, failure_rate=0.0)
    org_id = state.add_organization("test-org", region=DEMO_REGION)
    alice = state.add_mailbox(org_id, "alice", display_name="Alice Example")
    bob = state.add_mailbox(org_id, "bob", display_name="Bob Example")
    state.add_mailbox(org_id, "carol", display_name="Carol Example", state="DISABLED")
    state.add_mailbox(org_id, "dave", display_name="Dave Example")
    state.add_mailbox(org_id, "boardroom", kind="ROOM", description="Boardroom, 4th floor")
    state.add_job(
        org_id,
        alice,
        state="RUNNING",
        progress=40,
        duration=timedelta(minutes=10),
        description="Pre-shutdown export batch 1",
    )
    state.add_job(
        org_id,
        bob,
        state="COMPLETED",
        started_ago=timedelta(days=2),
        duration=timedelta(minutes=20),
        description="Pre-shutdown export batch 1",
    )
    return state


def demo_job_keys(state: EmulatorState) -> list[JobKey]:
    """Every job of every organization (the nine-day-old one too), newest first."""
    keys: list[JobKey] = []
    for org_id in state.organization_ids:
        region = state.organization(org_id).region
        keys.extend(JobKey(region, org_id, job.job_id) for job in state.jobs(org_id))
    return keys


# ----------------------------------------------------------------------- `wmtui emulator`


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def add_emulator_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `wmtui emulator`."""
    parser.add_argument("--port", type=_non_negative_int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="same seed, same IDs and names (default: new ones each run, so two runs' jobs "
        "never share an ID)",
    )
    parser.add_argument("--orgs", type=_non_negative_int, default=1, help="organizations")
    parser.add_argument(
        "--mailboxes", type=_non_negative_int, default=200, help="mailboxes per organization"
    )
    parser.add_argument(
        "--jobs", type=_non_negative_int, default=40, help="existing export jobs per organization"
    )
    parser.add_argument(
        "--speed", type=_positive_float, default=1.0, help="emulated seconds per real second"
    )
    parser.add_argument(
        "--job-minutes",
        type=_positive_float,
        default=None,
        help="how long a newly started export runs, in emulated minutes (default 3)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument(
        "--throttle-rate", type=_probability, default=0.0, help="share answered Throttling"
    )
    parser.add_argument("--error-rate", type=_probability, default=0.0, help="share given 500/503")
    parser.add_argument("--hang-rate", type=_probability, default=0.0, help="share never answered")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="exactly the demo organization of `wmtui --demo` (ignores --orgs/--mailboxes/--jobs)",
    )


def run_emulator_command(args: argparse.Namespace) -> int:
    """Serve an emulated WorkMail on 127.0.0.1 until SIGINT or SIGTERM; returns the exit code."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Handlers first, so a Ctrl+C while the state is being built also ends quietly.
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        return _serve(args, stop)
    except KeyboardInterrupt:
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def emulator_state(args: argparse.Namespace, clock: EmulatorClock) -> tuple[EmulatorState, int]:
    """The state `wmtui emulator` serves, and the seed it was made from."""
    given = getattr(args, "seed", None)
    # IDs from a fixed seed would be the same in every run, and a job cache kept from an
    # earlier run would take them for its own jobs.
    seed = int(given) if given is not None else random.SystemRandom().randrange(2**31)
    if getattr(args, "demo", False):
        state = build_demo_state(clock=clock, seed=seed)
    else:
        state = build_demo_state(
            clock=clock,
            seed=seed,
            organizations=int(getattr(args, "orgs", 1)),
            mailboxes=int(getattr(args, "mailboxes", 200)),
            jobs=int(getattr(args, "jobs", 40)),
        )
    job_minutes = getattr(args, "job_minutes", None)
    if job_minutes is not None:
        state.job_duration = timedelta(minutes=float(job_minutes))
    return state, seed


def _serve(args: argparse.Namespace, stop: threading.Event) -> int:
    from wmtui.emulator.server import EmulatorServer
    from wmtui.emulator.state import EmulatorClock

    clock = EmulatorClock(speed=float(getattr(args, "speed", 1.0)))
    state, seed = emulator_state(args, clock)
    server = EmulatorServer(
        state,
        port=int(getattr(args, "port", 0)),
        latency_ms=float(getattr(args, "latency_ms", 0.0)),
        throttle_rate=float(getattr(args, "throttle_rate", 0.0)),
        error_rate=float(getattr(args, "error_rate", 0.0)),
        hang_rate=float(getattr(args, "hang_rate", 0.0)),
        seed=seed,
    )
    try:
        server.start()
    except OSError as exc:
        print(f"wmtui emulator: cannot listen on 127.0.0.1:{server.port}: {exc}", file=sys.stderr)
        return 255
    from wmtui.emulator.s3 import S3Server

    s3 = S3Server(state, latency=lambda: server.latency_ms)
    try:
        s3.start()
    except OSError as exc:
        server.stop()
        print(f"wmtui emulator: cannot listen for S3 on 127.0.0.1: {exc}", file=sys.stderr)
        return 255
    try:
        print(f"endpoint: {server.endpoint_url}")
        print(f"s3 endpoint: {s3.endpoint_url} (AWS_ENDPOINT_URL_S3)")
        print(f"region: {DEMO_REGION}")
        for org_id in state.organization_ids:
            org = state.organization(org_id)
            print(
                f"organization: {org_id} ({org.alias}, {len(state.mailboxes(org_id))} mailboxes,"
                f" {len(state.jobs(org_id))} jobs)"
            )
        print(
            "credentials: any (e.g. AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test); "
            "Ctrl+C stops",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    finally:
        s3.stop()
        server.stop()
    return 0
