"""`wmtui export-org` in a terminal that closes (an SSH session dropped mid-export).

The command keeps Python's default for SIGHUP: the kernel ends it on the spot. What matters
is what it leaves: no lock held (the same command must be able to resume), the state file and
the watch list whole, nothing half-written. Run several times, the terminal closing at a
random moment while the export polls and writes its progress line.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from test_cli_e2e import Shell
from test_hangup import (
    BUCKET,
    KMS,
    ORG,
    PREFIX,
    REGION,
    ROLE,
    ROUNDS,
    hung_up_status,
    lock_is_free,
    organization,
    session,
    wait_for_export_lock,
)

from wmtui.core.export import MailboxStatus, read_export_state
from wmtui.core.watchlist import WatchList


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_export_org_in_a_terminal_that_closes(tmp_path: Path, seed: int) -> None:
    shell = Shell(tmp_path)
    env = {**shell.env, "TERM": "xterm-256color", "WMTUI_EXPORT_POLL_SECONDS": "0.05"}
    argv = [
        "-m",
        "wmtui",
        "--region",
        REGION,
        "export-org",
        ORG,
        "--bucket",
        BUCKET,
        "--prefix",
        PREFIX,
        "--role-arn",
        ROLE,
        "--kms-key-arn",
        KMS,
    ]
    moment = random.Random(seed).uniform(0.0, 1.0)
    with organization(25) as server:
        argv[2:2] = ["--endpoint-url", server.endpoint_url]
        with session(argv, env, tmp_path) as running:
            lock = wait_for_export_lock(running, shell)
            running.wait_for(b"running", "showed its progress")
            time.sleep(moment)
            code = running.hang_up_and_wait()
    assert hung_up_status(code), (code, running.tail())
    assert lock_is_free(lock)
    saved = read_export_state(lock.with_name(lock.name.removesuffix(".lock")))
    assert saved is not None
    started = {record.job_id for record in saved.records if record.job_id}
    assert started, "the export started nothing before the terminal closed"
    assert all(record.job_id for record in saved.records if record.status is MailboxStatus.RUNNING)
    # Readable, and nothing the export added lost to a half-written file.
    watched = {key.job_id for key in WatchList(shell.config_dir / "watchlist.json").load()}
    assert watched <= started
    for folder in (shell.config_dir, shell.home / "cache", shell.home / "data"):
        if folder.exists():
            assert not [path.name for path in folder.rglob("*.tmp")]
