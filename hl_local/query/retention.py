"""What is kept and for how long (/api/stats' `retention`), and removing data by hand (DELETE /api/data).

`hl-local prune` and `hl-local clear` call DELETE /api/data when an hl-local is running on the
database. A browser cannot send a cross-origin DELETE without a preflight, which the API never
allows; an Origin other than the API's own host is refused as well.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import duckdb
from litestar import Request, Router, delete
from litestar.exceptions import PermissionDeniedException

from hl_local.cli.options import age_s
from hl_local.config import host_name
from hl_local.query.common import API_ERRORS, answers, bad_request
from hl_local.query.responses import PruneAnswer, RetentionInfo
from hl_local.store import retention as store_retention
from hl_local.store.retention import Retention
from hl_local.store.writer import Writer


def retention_info(cur: duckdb.DuckDBPyConnection, kept: Retention) -> RetentionInfo:
    return RetentionInfo(
        file_bytes=store_retention.file_bytes(kept.path),
        data_bytes=store_retention.data_bytes(cur, kept.path) if kept.path else None,
        max_size_bytes=kept.limits.max_size_bytes,
        max_age_s=kept.limits.max_age_ns // 1_000_000_000,
        oldest_received_ns=store_retention.oldest_ns(cur),
        last_pruned_ns=kept.last_pruned_ns,
        pruned_rows=kept.pruned_rows,
        longest_step_ms=round(kept.longest_step_s * 1000, 1),
        longest_checkpoint_ms=round(kept.longest_checkpoint_s * 1000, 1),
    )


@delete("/data", status_code=200, responses=answers(400, 403))
async def delete_data(
    request: Request[Any, Any, Any], older_than: str | None = None, everything: bool = False
) -> PruneAnswer:
    """Remove data received longer ago than `older_than` (`1d`, `12h`), or all of it (`everything=true`)."""
    origin = request.headers.get("origin")
    if origin is not None and host_name(origin.split("://", 1)[-1]) != host_name(
        request.headers.get("host", "")
    ):
        raise PermissionDeniedException(f"Origin {origin!r} may not remove data")
    writer: Writer = request.app.state.writer
    if everything:
        if older_than is not None:
            raise bad_request("give older_than or everything=true, not both")
        await writer.clear()
        return PruneAnswer(True, None, {})
    if older_than is None:
        raise bad_request("say what to remove: older_than (like 1d, 12h) or everything=true")
    try:
        seconds = age_s(older_than)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise bad_request(f"older_than: {exc}") from None
    result = await writer.prune(time.time_ns() - int(seconds * 1e9))
    return PruneAnswer(False, result.cutoff_ns, result.rows)


router = Router(path="/api", route_handlers=[delete_data], exception_handlers=API_ERRORS)
