"""Moved to wmtui.core.destinations (it holds no Textual): kept for the importers left."""

from wmtui.core.destinations import *  # noqa: F403
