"""Call the service in a thread worker and post the answer, as one typed message, to the screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from textual.message import Message
from textual.widget import Widget

from wmtui.core.service import ErrorKind, ServiceError

T = TypeVar("T")


def unexpected_error(exc: Exception) -> ServiceError:
    """A bug or an odd backend, said as a ServiceError instead of ending the app."""
    return ServiceError(ErrorKind.OTHER, f"{type(exc).__name__}: {exc}")


def call_service(
    host: Widget,
    call: Callable[[], T],
    answer: Callable[[T | None, ServiceError | None], Message | None],
    *,
    group: str,
    description: str,
    unexpected: Callable[[Exception], ServiceError] = unexpected_error,
) -> None:
    """Run `call()` off the UI thread; post `answer(result, None)` or `answer(None, error)`.

    `answer` runs in the worker too (it may do more blocking work, such as a clipboard tool)
    and returns the message to post, or None to post nothing."""

    def work() -> None:
        try:
            result: T | None = call()
            error: ServiceError | None = None
        except ServiceError as exc:
            result, error = None, exc
        except Exception as exc:  # a bug or an odd backend must not end the app
            result, error = None, unexpected(exc)
        message = answer(result, error)
        if message is not None:
            host.post_message(message)

    host.run_worker(work, thread=True, group=group, exit_on_error=False, description=description)
