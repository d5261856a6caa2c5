"""Exit codes and the one expected failure a command raises.

The AWS CLI's convention, which scripts already know: 0 all good, 252 bad parameters (also a
refusal: read-only mode, an unconfirmed cancel), 253 configuration or credentials (also a broken
watch list or export state file), 254 a service error (also `export-org` finishing with mailboxes
that failed after retries), 255 anything else, 130 interrupted (Ctrl+C), 143 stopped by SIGTERM,
129 hung up (SIGHUP), and 75 for `export-org --once` with work still to do (sysexits' EX_TEMPFAIL:
run again later).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BAD_PARAMETERS = 252
EXIT_CONFIGURATION = 253
EXIT_SERVICE = 254
EXIT_OTHER = 255
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports it
EXIT_HANGUP = 129  # 128 + SIGHUP: the terminal (an SSH session) went away
EXIT_MORE_TO_DO = 75  # export-org --once: not finished, run it again (EX_TEMPFAIL)


class CliError(Exception):
    """An expected failure: one line for the user, the fix, and the exit code."""

    def __init__(self, message: str, fix: str = "", exit_code: int = EXIT_OTHER) -> None:
        self.message = message
        self.fix = fix
        self.exit_code = exit_code
        super().__init__(message)
