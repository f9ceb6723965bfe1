"""Links that open a local file at a line in the developer's editor (`--editor`).

Each editor registers a URL scheme with the desktop: a click on `vscode://file/path:line:col` in
the browser hands the path to VS Code. Links are built only for files source context located under
the roots (never from recorded text), with the path percent-encoded.
"""

from __future__ import annotations

import os
import shlex
import urllib.parse
from collections.abc import Mapping

EDITORS = ("vscode", "cursor", "idea", "zed", "file")

# The command names $VISUAL / $EDITOR hold for each (the first word, without its directory).
_COMMANDS = {
    "code": "vscode", "code-insiders": "vscode", "codium": "vscode", "vscodium": "vscode",
    "cursor": "cursor",
    "idea": "idea", "idea.sh": "idea", "idea64": "idea", "idea64.exe": "idea",
    "zed": "zed", "zeditor": "zed", "zedit": "zed",
}  # fmt: skip


def parse_editor(value: str) -> str:
    name = value.strip().lower()
    if name not in EDITORS:
        raise ValueError(f"{value!r} is not one of {', '.join(EDITORS)}")
    return name


def editor_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The editor $VISUAL (else $EDITOR) names, when it is one we can link to."""
    env = os.environ if env is None else env
    for variable in ("VISUAL", "EDITOR"):
        try:
            words = shlex.split(env.get(variable, ""))
        except ValueError:
            continue
        if words:
            return _COMMANDS.get(os.path.basename(words[0]).lower())
    return None


def editor_url(editor: str | None, path: str, line: int | None, column: int | None = None) -> str | None:
    """The URL that opens `path` (absolute, local) at `line` in `editor`; None without an editor."""
    if editor is None:
        return None
    quoted = urllib.parse.quote(path)
    where = f":{line}" + (f":{column}" if column else "") if line else ""
    if editor in ("vscode", "cursor", "zed"):
        return f"{editor}://file{quoted}{where}"
    if editor == "idea":
        return f"idea://open?file={urllib.parse.quote(path, safe='')}" + (f"&line={line}" if line else "")
    return f"file://{quoted}"
