"""The app's state saved for an exit the main thread may never finish (the terminal hung up).

The usual exit saves in `JobsScreen.shutdown`, from the app's unmount. After a hang-up that
may never run: Textual's shutdown first writes to the terminal, and a dead terminal can hold
it for good (issue 18). So `wmtui.cli.hangup` calls this from a thread of its own, first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wmtui.ui.app import WmtuiApp

# How long the organization exports get to let go of their locks (their worker finishes the
# call it is in). Past that, the process ending lets go of them.
EXPORT_STOP_WAIT = 1.5


def save_for_exit(app: WmtuiApp) -> None:
    """From any thread: stop the organization exports (each lets go of its lock once its
    worker notices) and write the job cache. The watch list and an export's state file are
    written as they change: nothing of theirs waits for the exit."""
    try:
        screen = app.jobs_screen
    except AssertionError:  # before the app made its screen: nothing of its own to save
        return
    screen.export_flow.stop_all(wait=EXPORT_STOP_WAIT)
    screen.cache_writer.write_now()
