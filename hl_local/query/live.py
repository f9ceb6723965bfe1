"""/api/live: server-sent events telling the UI that new data of a kind was committed.

The writer counts, per kind of row, the commits that included it; this stream compares those
counters a few times a second and names the topics that moved. Pages refetch what they show
(first page only), so a burst of ingest costs one refetch per tick, not one per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Request, get
from litestar.openapi import ResponseSpec
from litestar.response import ServerSentEvent, ServerSentEventMessage

from hl_local.query.common import API_ERRORS, answers
from hl_local.query.responses import LiveChange, Topic
from hl_local.store.writer import Writer

TICK_S = 0.5
KEEPALIVE_S = 15.0
TOPICS: dict[Topic, tuple[str, ...]] = {  # row kinds (decode/records.py KINDS) → what the UI shows
    "sessions": ("session_inits", "session_identities", "session_properties", "replay_chunks",
                 "session_events", "session_feedback", "flag_evaluations"),
    "errors": ("errors", "error_groups", "error_group_states", "source_files"),  # source_files: an edit
    "logs": ("logs",),
    "traces": ("spans",),
    # spans: a LaunchDarkly session's requests are its browser request spans
    "network": ("network_requests", "websocket_events", "spans"),
    "metrics": ("metric_points",),
}  # fmt: skip


def _moved(before: dict[str, int], now: dict[str, int]) -> list[Topic]:
    return [topic for topic, kinds in TOPICS.items() if any(now.get(k, 0) != before.get(k, 0) for k in kinds)]


_STREAM = ResponseSpec(
    LiveChange,
    media_type="text/event-stream",
    description="server-sent events: `hello` first, `change` with a LiveChange as its data whenever "
    "something new was stored, `reload` (`hl-local --dev`) when the UI bundle was rebuilt",
    generate_examples=False,
)


@get("/api/live", responses={200: _STREAM, **answers()}, exception_handlers=API_ERRORS)
async def live(request: Request[Any, Any, Any]) -> ServerSentEvent:
    """`event: change` with `{"topics": [...]}` whenever something new was stored; with `--dev`,
    `event: reload` when the UI bundle was rebuilt."""
    writer: Writer = request.app.state.writer
    state = request.app.state
    sources = state.get("sources")

    def counters() -> dict[str, int]:
        # A source file shown next to a frame changed (hl_local/source/watch.py): error views refetch.
        return {**writer.commits_by_kind, "source_files": sources.version if sources is not None else 0}

    async def changes() -> AsyncIterator[ServerSentEventMessage]:
        seen = counters()
        ui_version = state.get("ui_version", 0)
        quiet = 0.0
        yield ServerSentEventMessage(event="hello", data="{}", retry=2000)
        while not _stopping(request):
            await asyncio.sleep(TICK_S)
            if state.get("ui_version", 0) != ui_version:
                ui_version = state.get("ui_version", 0)
                yield ServerSentEventMessage(event="reload", data="{}")
            now = counters()
            topics = _moved(seen, now)
            seen = now
            if topics:
                quiet = 0.0
                yield ServerSentEventMessage(
                    event="change", data=msgspec.json.encode(LiveChange(topics)).decode()
                )
            else:
                quiet += TICK_S
                if quiet >= KEEPALIVE_S:
                    quiet = 0.0
                    yield ServerSentEventMessage(comment="keep-alive")

    return ServerSentEvent(changes())


def _stopping(request: Request[Any, Any, Any]) -> bool:
    """True once the server is shutting down: an endless stream would hold the shutdown back."""
    server = request.app.state.get("server")
    return bool(server is not None and server.should_exit)
