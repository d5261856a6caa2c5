"""Repaints held back while another full screen covers a widget's screen.

Textual passes the repaints of a screen under the current one on to the current screen, and the
terminal is then sent that screen again whole: a refresh of the jobs while the mailboxes screen
is open cost about 22 KB each time, for nothing anyone could see. A widget built on this class
holds its repaints while covered (a dialog on top leaves its screen in sight, so not then) and
repaints itself once, whole, when its screen is back.

The covered screen itself is kept quiet as well (`QuietWhileCovered`): Textual repaints a screen
whole when another is pushed over it, and passes that on to the screen on top; from then on,
every message the covered screen handles (a refresh's worker and its result) sent the screen on
top to the terminal again, whole (22 to 44 KB a refresh under the mailboxes screen).
"""

from __future__ import annotations

from typing import Any, Self

from textual import events
from textual.geometry import Region
from textual.screen import ModalScreen, Screen
from textual.widget import Widget


def covered(screen: Screen[Any]) -> bool:
    """A full screen is above `screen` in the stack (dialogs leave what is under in sight)."""
    stack = screen.app.screen_stack
    if screen not in stack:
        return False
    above = stack[stack.index(screen) + 1 :]
    # A ModalScreen with an opaque background (the export's progress view) hides it all the same.
    return any(
        not isinstance(other, ModalScreen) or other.styles.background.a == 1 for other in above
    )


class HeldWhileCovered(Widget):
    """A widget whose repaints wait while its screen is covered by another full screen.

    Named after the widget's own base (`class StatusLine(SteadyText, HeldWhileCovered)`): Textual
    takes a widget's CSS types (and default CSS) from its first base only.
    """

    _held = False

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if not recompose and self.is_running and self.is_attached and covered(self.screen):
            if not self._held:
                self._held = True
                self.app.screen_change_signal.subscribe(self, self._screen_changed)
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _screen_changed(self, _screen: Screen[Any]) -> None:
        if not self._held or covered(self.screen):
            return
        self._held = False
        self.app.screen_change_signal.unsubscribe(self)
        # What changed meanwhile, shown in one go (the screen is being painted anew anyway).
        super().refresh(layout=True)


class QuietWhileCovered(Screen[None]):
    """A screen that does no screen update while another full screen covers it.

    Textual runs a screen's updates when it goes idle, and counts the screen directly under the
    top one as visible: what it repaints there, it repaints on the screen on top. Its idle
    handler is held back while covered (`prevent_default`, Textual's documented way to keep a
    base class's handler from running); back on top, Textual paints it anew, whole.
    """

    def on_idle(self, event: events.Idle) -> None:
        if covered(self):
            event.prevent_default()


class QuietModalWhileCovered(ModalScreen[None]):
    """`QuietWhileCovered` for a dialog that a full screen can be opened over (the O list)."""

    def on_idle(self, event: events.Idle) -> None:
        if covered(self):
            event.prevent_default()
