"""Moved to wmtui.core.destinations (it holds no Textual): kept for the importers left."""

from wmtui.core.destinations import (
    Destination as Destination,
)
from wmtui.core.destinations import (
    last_organization as last_organization,
)
from wmtui.core.destinations import (
    remember_destination as remember_destination,
)
from wmtui.core.destinations import (
    remembered_destination as remembered_destination,
)
