"""Organization exports as the app lists them: one `wmtui export-org` running in another process
is seen running, with its progress read from its state file; stopped, it is paused."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from test_cli_e2e import KMS, ORG, ROLE, Shell

from wmtui.core.export import find_exports
from wmtui.core.export_list import export_summaries
from wmtui.emulator.server import EmulatorServer
from wmtui.emulator.state import EmulatorClock, EmulatorState


def test_an_export_run_by_another_process_is_seen_running_then_paused(tmp_path: Path) -> None:
    state = EmulatorState(clock=EmulatorClock(manual=True), failure_rate=0)
    state.add_organization("example", ORG)
    for name in ("alice", "bob", "carol"):
        state.add_mailbox(ORG, name)
    state.add_job(ORG, "alice", state="COMPLETED", started_ago=timedelta(days=3))
    shell = Shell(tmp_path)
    data_dir = tmp_path / "data"
    with EmulatorServer(state) as server:
        command = [
            sys.executable, "-m", "wmtui", "export-org", ORG, "--bucket", "wm-export",
            "--prefix", "pre-shutdown", "--role-arn", ROLE, "--kms-key-arn", KMS,
            "--endpoint-url", server.endpoint_url, "--region", "us-east-1",
        ]  # fmt: skip
        # The emulator's clock stands still: the jobs it starts stay RUNNING, the export waits.
        process = subprocess.Popen(
            command,
            env=shell.env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            for _ in range(300):
                found = find_exports(data_dir)
                if found and sum(r.job_id is not None for r in found[0].records) == 3:
                    break
                time.sleep(0.1)
            summaries = export_summaries(data_dir)
            assert len(summaries) == 1
            running = summaries[0]
            assert running.running and running.state == "running"
            assert (running.done, running.total) == (0, 3)
            assert running.short() == f"exporting org {ORG}: 0/3"
            assert "3 running" in running.line()
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
        assert process.returncode == 143, err
        stopped = export_summaries(data_dir)[0]
        assert not stopped.running and stopped.state == "paused"
