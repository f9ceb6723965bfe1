"""How hl-local starts another hl-local: the one place that knows whether it is a frozen executable."""

from __future__ import annotations

import sys


def hl_local_command(*args: str) -> list[str]:
    """The argv that runs `hl-local ARGS` with this very installation.

    A frozen single-file build is its own interpreter and takes the verb directly; an installed
    package is run by this Python with `-m hl_local` (no PATH lookup: the `hl-local` script on PATH
    may be another installation, or missing in a bare venv).
    """
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "hl_local", *args]
