"""`python -m wmtui`: the same as the `wmtui` command."""

from __future__ import annotations

import sys

from wmtui.cli import main

if __name__ == "__main__":
    sys.exit(main())
