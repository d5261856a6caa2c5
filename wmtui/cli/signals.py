"""Signal handlers put in place and back, shared by export-org and the TUI."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import signal


def set_signal_handlers(
    handlers: Mapping[signal.Signals, Callable[[int, Any], None]],
) -> Callable[[], None]:
    """Put these handlers in place (from the main thread only: elsewhere Python refuses);
    returns what puts the previous ones back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in handlers}
    for sig, handler in handlers.items():
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
