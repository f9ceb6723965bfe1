"""Asking the running hl-local to do something (its API on its real port, from its run file)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from hl_local.errors import HlLocalError
from hl_local.instance import Instance


def delete_data(running: Instance, query: str) -> dict[str, Any]:
    """DELETE /api/data?<query> on the running hl-local; its answer."""
    request = urllib.request.Request(f"{running.ui_url}/api/data?{query}", method="DELETE")
    try:
        with urllib.request.urlopen(request, timeout=3600) as reply:
            answer: dict[str, Any] = json.load(reply)
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("detail", exc.reason)
        raise HlLocalError(f"the running hl-local (pid {running.pid}) refused: {detail}") from None
    except OSError as exc:
        raise HlLocalError(
            f"cannot reach the running hl-local (pid {running.pid}) at {running.ui_url}: {exc}"
        ) from None
    return answer
