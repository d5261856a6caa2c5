"""When an organization export may call the service and start jobs: retries, back-off, waits.

Throttling, timeouts, 5xx and LimitExceeded are waited out (reported as `waiting`); what waiting
will not cure (credentials, access denied, a wrong bucket, role or key) is raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from wmtui.core.export.spec import SERVICE_MAX_RUNNING
from wmtui.core.export.state import MailboxRecord, MailboxStatus
from wmtui.core.service import ErrorKind, ServiceError

# Why a mailbox is skipped when it is disabled; a later run may lift it.
DISABLED_PREFIX = "the mailbox is "


def hms(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%H:%M:%S UTC")


def exponential(base: timedelta, exponent: int, ceiling: timedelta) -> timedelta:
    factor: int = 2 ** max(0, min(exponent, 30))
    return min(ceiling, base * factor)


@dataclass(frozen=True)
class RetryPolicy:
    """How often a mailbox is tried again, and how long each kind of wait lasts."""

    max_retries: int = 2
    retry_backoff: timedelta = timedelta(minutes=1)
    limit_wait: timedelta = timedelta(seconds=30)
    transient_backoff: timedelta = timedelta(seconds=5)
    max_backoff: timedelta = timedelta(minutes=15)

    def retry_delay(self, attempt: int) -> timedelta:
        """The wait before trying again a mailbox whose attempt `attempt` failed."""
        return exponential(self.retry_backoff, attempt - 1, self.max_backoff)


class Pacing:
    """The waits that apply to the whole export rather than one mailbox, and what a refused
    start means for its mailbox and for the round."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.calls_paused_until: datetime | None = None  # throttled / unreachable
        self._calls_wait_reason = ""
        self._transient_failures = 0
        self.starts_paused_until: datetime | None = None  # organization at its limit
        self._starts_wait_reason = ""
        self.full_reason: str | None = None  # every slot taken at the last sweep
        self._limit_refusals = 0  # LimitExceeded answers in the current round

    def calls_paused(self, now: datetime) -> bool:
        """Whether calls wait out a pause; forgets a pause that has ended."""
        if self.calls_paused_until is not None and now < self.calls_paused_until:
            return True
        self.calls_paused_until = None
        return False

    def starts_paused(self, now: datetime) -> bool:
        """Whether starts wait out a pause; forgets a pause that has ended."""
        if self.starts_paused_until is not None and now < self.starts_paused_until:
            return True
        self.starts_paused_until = None
        return False

    def swept(self) -> None:
        """The organization's jobs were read: the service answers again."""
        self._transient_failures = 0
        self.full_reason = None

    def new_round(self) -> None:
        self._limit_refusals = 0

    def pauses(self) -> tuple[datetime | None, datetime | None]:
        return self.calls_paused_until, self.starts_paused_until

    def transient_or_raise(self, exc: ServiceError, now: datetime) -> None:
        if exc.kind.is_transient or exc.kind is ErrorKind.OTHER:
            self._transient_failures += 1
            wait = exponential(
                self.policy.transient_backoff,
                self._transient_failures - 1,
                self.policy.max_backoff,
            )
            self.calls_paused_until = now + wait
            self._calls_wait_reason = (
                f"{exc.kind.value}: {exc.message}; trying again at {hms(now + wait)}"
            )
            return
        raise exc

    def pause_starts(self, now: datetime, why: str) -> None:
        self.starts_paused_until = now + self.policy.limit_wait
        self._starts_wait_reason = f"{why}; starting more at {hms(now + self.policy.limit_wait)}"

    def waiting(self, now: datetime) -> str | None:
        if self.calls_paused_until is not None and now < self.calls_paused_until:
            return self._calls_wait_reason
        if self.starts_paused_until is not None and now < self.starts_paused_until:
            return self._starts_wait_reason
        return self.full_reason

    def refused(
        self,
        record: MailboxRecord,
        exc: ServiceError,
        now: datetime,
        running: int,
        *,
        any_start_succeeded: bool,
    ) -> bool:
        """Handle a start the service refused; returns whether to stop starting this round.

        The record stays STARTING (same attempt, same token: sending it again can only return
        the job a lost answer made) unless the refusal settles it.
        """
        kind = exc.kind
        if kind is ErrorKind.LIMIT_EXCEEDED:
            return self._limit_exceeded(record, exc, now, running)
        if kind is ErrorKind.JOB_NOT_FOUND:
            record.status = MailboxStatus.SKIPPED
            record.reason = f"the mailbox was not found: {exc.message}"
            return False
        if exc.code == "EntityStateException":
            # Disabled or deleted since the organization was listed.
            record.status = MailboxStatus.SKIPPED
            record.reason = DISABLED_PREFIX + "disabled or deleted"
            return False
        if kind is ErrorKind.INVALID_PARAMETER:
            if not any_start_succeeded:
                # Most likely the bucket, role or key: every mailbox would fail the same way.
                raise exc
            record.status = MailboxStatus.FAILED
            record.error = f"refused: {exc.message}"
            return False
        if kind.is_transient or kind is ErrorKind.OTHER:
            # The request may or may not have reached the service: it is sent again, same
            # token, after the pause.
            record.start_errors += 1
            record.error = f"start not confirmed ({kind.value}): {exc.message}"
            if kind is ErrorKind.OTHER and record.start_errors > self.policy.max_retries + 2:
                # The same unexplained refusal again and again: leave it to a person. The
                # attempt (and token) stays, so a later retry cannot make a second job.
                record.status = MailboxStatus.FAILED
                record.error = f"refused {record.start_errors} times: {exc.message}"
            self.transient_or_raise(exc, now)
            return True
        raise exc

    def _limit_exceeded(
        self, record: MailboxRecord, exc: ServiceError, now: datetime, running: int
    ) -> bool:
        if running >= SERVICE_MAX_RUNNING:
            self.pause_starts(now, "LimitExceeded: 10 exports running in the organization")
            return True
        # Fewer than 10 running that we know of: jobs started elsewhere since the sweep,
        # or this mailbox's one export a day. Back this mailbox off; a second refusal in
        # the round means the organization is full.
        record.limit_waits += 1
        wait = exponential(self.policy.limit_wait, record.limit_waits - 1, timedelta(hours=1))
        record.not_before = now + wait
        record.error = f"LimitExceeded: {exc.message}; trying again at {hms(now + wait)}"
        self._limit_refusals += 1
        if self._limit_refusals > 1:
            self.pause_starts(now, "LimitExceeded from the service")
            return True
        return False
