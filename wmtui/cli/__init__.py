"""The `wmtui` command: the TUI without a subcommand, or one of the commands for scripts.

parser      the command line (argparse), one function per group of commands
arguments   the command line's values checked (IDs, region, read-only)
output      terminal-safe text, stdout for scripts, stderr for people, tables, JSON
errors      exit codes (the AWS CLI's: 0, 252, 253, 254, 255; 130, 143, 129) and CliError
jobs        add, remove, list, and the job table
status      status: every watched job refreshed once (core's JobBoard and NameLearner)
operations  start, cancel, presign
export      export-org and its progress, stop and resume
report      report
run         main: settings, the backend, the TUI or a command, signals, exit codes

Subcommands never import textual, and nothing imports boto3 before its first call; run.py
imports a command's module only when that command runs.
"""

from __future__ import annotations

from wmtui.cli.run import main

__all__ = ["main"]
