"""Build the web UI (web/) into hl_local/static when a wheel or an editable install is built.

The bundle is never committed (it would hold rrweb's and preact's code, not ours), so installing
from a clone needs Node and npm; published wheels carry the built UI and need neither.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).parent
WEB = ROOT / "web"
STATIC = ROOT / "hl_local" / "static"
OUTPUTS = ("index.html", "app.js", "app.css")
OUTPUTS += ("export.js", "export.css", "export-loader.js")  # the page of HTML exports (export/html.py)


def ui_is_stale() -> bool:
    """True when an output is missing or older than any UI source, the build script or the lock file."""
    outputs = [STATIC / name for name in OUTPUTS]
    if not all(p.exists() for p in outputs):
        return True
    sources = [*WEB.joinpath("src").rglob("*"), WEB / "build.mjs", WEB / "package-lock.json"]
    newest_source = max(p.stat().st_mtime for p in sources if p.is_file())
    return min(p.stat().st_mtime for p in outputs) < newest_source


def build_ui() -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "the UI must be built: install Node 18+ (with npm) and retry, or install a published wheel"
        )
    if not (WEB / "node_modules" / ".package-lock.json").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True)


class UiBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if WEB.exists() and ui_is_stale():
            build_ui()
        if not (STATIC / "index.html").exists():
            raise RuntimeError("the UI was not built: hl_local/static/index.html is missing")
        build_data["artifacts"].append("hl_local/static")
