"""The ``syncmcp`` command line (``python -m syncmcp``); see :mod:`syncmcp.cli`.

Example:
    $ python -m syncmcp tools
    $ syncmcp serve --root ~/project --sandbox workspace-write
"""

from __future__ import annotations

import sys

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
