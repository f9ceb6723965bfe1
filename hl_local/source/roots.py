"""Which local files source context may read, and how a recorded path becomes one of them.

The one rule: a file is read only when its real path (os.path.realpath: every symlink and `..`
followed) lies under one of the roots, resolved the same way. The roots are the targets of
`--source-root FROM=TO` (or a plain `--source-root DIR`) and the working directory hl-local started
in, unless that directory is `/`, the home directory or one of its parents: started from `~`, a
recorded stack naming `~/.ssh/id_rsa` would otherwise be "under the working directory". What an
error's text names is only ever a candidate that goes through this check; the check comes before
any look at the file, so a refusal does not even say whether the file exists.

Inside the roots a few names that only ever hold secrets (`.ssh/`, `.env`, `id_rsa`, `*.pem`, …)
are refused as well: a root like `~/src` may be wider than its owner thinks. `files.py` checks the
opened file again (Linux: its /proc/self/fd link), so a symlink swapped in between the check and
the open does not get around this.
"""

from __future__ import annotations

import fnmatch
import os
import re
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MAX_PATH_CHARS = 4096
LOCATED_KEPT = 4096  # recorded paths whose answer is remembered…
LOCATED_TTL_S = 5.0  # …this long
# Where a bundle served at http://host/assets/app.js usually is in a checkout.
BUILD_DIRS = ("dist", "build", "public", "out", "static", "www")
# Names (of any path part below a root) that hold secrets and never source code.
SECRET_DIRS = frozenset({".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".password-store"})
SECRET_NAMES = (".env", ".env.*", ".netrc", ".pgpass", ".git-credentials", ".npmrc", ".pypirc",
                "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
                "*.pem", "*.key", "*.p12", "*.pfx")  # fmt: skip
_SECRET_NAME = re.compile("|".join(fnmatch.translate(pattern) for pattern in SECRET_NAMES))
# Frame "files" that are not files: runtimes' own code and placeholders.
_NOT_FILES = ("<", "node:", "internal/", "native", "[native code]", "wasm:", "eval at ", "blob:", "data:")

Refusal = Literal["outside_roots", "missing", "not_a_file", "refused"]


@dataclass(frozen=True, slots=True)
class SourceRoot:
    """One `--source-root`: recorded paths starting with `prefix` are read from `target`."""

    prefix: str
    target: Path

    def __str__(self) -> str:
        return str(self.target) if self.prefix == str(self.target) else f"{self.prefix}={self.target}"


def parse_source_root(text: str) -> SourceRoot:
    """`FROM=TO` (a path or URL prefix as the stacks name it = a local directory) or a plain `DIR`."""
    prefix, equals, target = text.rpartition("=")
    if not equals:
        prefix, target = "", text
    if "\x00" in text or not target.strip():
        raise ValueError(f"{text!r} is not FROM=TO (e.g. /app=~/src/app) or a directory")
    local = Path(target).expanduser().absolute()
    return SourceRoot(prefix or str(local), local)


@dataclass(frozen=True, slots=True)
class Located:
    """A local file that may be read: its real path and the root it is under."""

    path: str
    root: str

    @property
    def shown(self) -> str:
        """The path relative to its root, as the UI shows it."""
        return os.path.relpath(self.path, self.root) if self.path != self.root else self.path


@dataclass(frozen=True, slots=True)
class Refused:
    status: Refusal
    detail: str


class SourceRoots:
    def __init__(
        self, mappings: Sequence[SourceRoot], cwd: Path | None = None, home: Path | None = None
    ) -> None:
        cwd = Path(os.path.realpath(cwd or Path.cwd()))
        home = Path(os.path.realpath(home or Path.home()))
        self.mappings = sorted(mappings, key=lambda m: len(m.prefix), reverse=True)
        roots = [os.path.realpath(m.target) for m in mappings]
        self.cwd_used = not (cwd == home or home.is_relative_to(cwd))
        if self.cwd_used:
            roots.insert(0, str(cwd))
        self.roots: tuple[str, ...] = tuple(dict.fromkeys(roots))
        self.cwd = str(cwd)
        self._located: dict[str, tuple[float, Located | Refused]] = {}

    def describe(self) -> str:
        """For the start-up lines: what may be read."""
        parts = [f"{self.cwd} (working directory)"] if self.cwd_used else []
        parts += [str(m) for m in self.mappings]
        text = ", ".join(parts) or "none"
        if not self.cwd_used:
            text += f" (not {self.cwd}: it holds your home directory; add --source-root DIR)"
        return text

    def contain(self, real: str) -> Located | Refused:
        """`real` (already a real path) if it lies under a root and is not a secret's name."""
        for root in self.roots:
            if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
                parts = real[len(root) :].split(os.sep)
                if not SECRET_DIRS.isdisjoint(parts) or _SECRET_NAME.match(parts[-1]):
                    return Refused(
                        "refused", f"{real} looks like a secret (key, credentials or .env), not source"
                    )
                return Located(real, root)
        return Refused(
            "outside_roots", f"{real} is outside the source roots ({', '.join(self.roots) or 'none'})"
        )

    def locate(self, recorded: str) -> Located | Refused:
        """The local file a frame's recorded file names, or why there is none to read.

        Remembered per recorded text for LOCATED_TTL_S (stacks repeat their files; resolving costs a
        few lstat calls per path part), or until `forget` (the watcher saw a change). files.py checks
        the opened file's own path again, so a stale answer can never widen what is read.
        """
        now = time.monotonic()
        known = self._located.get(recorded)
        if known is None or known[0] < now:
            known = (now + LOCATED_TTL_S, self._locate(recorded))
            if len(self._located) >= LOCATED_KEPT:
                self._located.clear()
            self._located[recorded] = known
        return known[1]

    def forget(self) -> None:
        self._located.clear()

    def _locate(self, recorded: str) -> Located | Refused:
        candidates = self.candidates(recorded)
        if isinstance(candidates, Refused):
            return candidates
        first: Refused | None = None
        for candidate in candidates:
            found = self.contain(os.path.realpath(candidate))
            if isinstance(found, Refused):
                first = first or found
                continue
            if os.path.exists(found.path):
                return found
            if first is None or first.status == "outside_roots":
                first = Refused("missing", f"{found.path} does not exist on this machine")
        return first or Refused("missing", f"{recorded} is not under any source root")

    def candidates(self, recorded: str) -> list[str] | Refused:
        """Local paths `recorded` may mean, most likely first (none is checked yet)."""
        if "\x00" in recorded:
            return Refused("refused", "the recorded path holds a NUL byte")
        if len(recorded) > MAX_PATH_CHARS or not recorded.strip():
            return Refused("not_a_file", "the recorded path is empty or too long")
        if recorded.startswith(_NOT_FILES):
            return Refused("not_a_file", f"{recorded[:80]} is the runtime's own code, not a file")
        for mapping in self.mappings:
            prefix = mapping.prefix.rstrip("/")
            if prefix and (recorded == prefix or recorded.startswith(prefix + "/")):
                rest = recorded[len(prefix) :]
                if "://" in mapping.prefix:
                    rest = urllib.parse.unquote(rest.split("?")[0].split("#")[0])
                return [os.path.join(mapping.target, rest.lstrip("/"))]
        url = urllib.parse.urlsplit(recorded)
        if url.scheme == "file":
            if url.netloc not in ("", "localhost"):
                return Refused("not_a_file", f"{recorded[:80]} is a file on another machine")
            return [urllib.parse.unquote(url.path)]
        if len(url.scheme) > 1 and recorded.startswith(url.scheme + "://"):  # http://…/app.js, webpack://…
            path = urllib.parse.unquote(url.path).lstrip("/")
            if url.scheme == "webpack":  # webpack://name/./src/x.js: the name is the host part
                path = path.removeprefix("./")
            if not path:
                return Refused("not_a_file", f"{recorded[:80]} names no file")
            return list(self._under_roots(path, BUILD_DIRS if url.scheme in ("http", "https") else ()))
        if os.path.isabs(recorded):
            return [recorded]
        return list(self._under_roots(recorded.removeprefix("./"), ()))

    def _under_roots(self, relative: str, subdirs: Iterable[str]) -> Iterable[str]:
        for root in self.roots:
            yield os.path.join(root, relative)
            for sub in subdirs:
                yield os.path.join(root, sub, relative)
