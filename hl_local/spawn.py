"""Starting child processes: another hl-local (this same program), or a user's command.

Verbs that start processes (`hl-local run -- CMD` starts a server, then the command) use these, so
the executable built by packaging/build-binary behaves as the pip install does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping


def is_frozen() -> bool:
    """True in the executable built by packaging/build-binary (PyInstaller sets sys.frozen)."""
    return bool(getattr(sys, "frozen", False))


def self_command(*args: str) -> list[str]:
    """The command that runs this same hl-local with `args`: the executable itself when frozen.

    Start it with `child_env()`, as any child process.
    """
    if is_frozen():
        return [sys.executable, *args]
    return [sys.executable, "-m", "hl_local", *args]


def child_env(env: Mapping[str, str] | None = None, frozen: bool | None = None) -> dict[str, str]:
    """`env` (by default this process's environment) as a child process should get it.

    The executable's loader points LD_LIBRARY_PATH at its own libraries (keeping the user's in
    LD_LIBRARY_PATH_ORIG) and marks the environment with _PYI_* variables. A user's command must not
    load our copies of libssl or libstdc++, and another hl-local must set itself up anew: both get the
    environment the user gave.
    """
    env = dict(os.environ if env is None else env)
    if not (is_frozen() if frozen is None else frozen):
        return env
    for name in [n for n in env if n.startswith("_PYI_")]:
        del env[name]
    original = env.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is None:
        env.pop("LD_LIBRARY_PATH", None)
    else:
        env["LD_LIBRARY_PATH"] = original
    return env
