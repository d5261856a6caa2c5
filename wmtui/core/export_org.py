"""Moved to the package wmtui.core.export; kept for the importers left."""

from wmtui.core.export import *  # noqa: F403
