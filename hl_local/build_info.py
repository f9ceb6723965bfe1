"""What `hl-local --version` says: the version and the commit this copy was built from.

A wheel, an sdist and the executable carry the commit in `hl_local/_commit`, written by the build hook
(hatch_build.py); a source checkout (an editable install) asks git, so the answer follows new commits.
Either is read only when `--version` is asked for.
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Sequence
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
COMMIT_FILE = PACKAGE / "_commit"


def git_commit(checkout: Path) -> str | None:
    """The checkout's HEAD as 12 hex digits, with `-dirty` when tracked files differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, timeout=10)
        return done.stdout.strip() if done.returncode == 0 else ""

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = head and git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.TimeoutExpired):  # no git on PATH
        return None
    return (head + "-dirty" if dirty else head) or None


def commit() -> str | None:
    checkout = PACKAGE.parent
    if (checkout / ".git").exists():
        return git_commit(checkout)
    try:
        return COMMIT_FILE.read_text().strip() or None
    except OSError:
        return None


def version_line() -> str:
    from hl_local import __version__  # here: hatch_build.py loads this file alone, without hl_local

    return f"hl-local {__version__} (commit {commit() or 'unknown'})"


class VersionAction(argparse.Action):
    """`--version`: like argparse's own, but the line is worked out only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        help_text = "show the version and the commit it was built from, then exit"
        hidden = argparse.SUPPRESS
        super().__init__(option_strings, hidden, nargs=0, default=hidden, help=help_text)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(version_line())
        parser.exit()
