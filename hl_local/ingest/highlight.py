"""POST /public (and /): the Highlight browser SDK's GraphQL API, dispatched on operationName.

No GraphQL engine: the SDK's operations are few and fixed. Every success is 200,
`application/json`, a non-null `data` and no `errors` (the SDK counts anything else as a
failure and stops recording after five). A corrupt request gets a GraphQL-shaped error for that
request only, with nothing written. When the writer is saturated, a push waits (bounded, well
under the SDK's 15 s timeout) rather than being refused.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Request, Response, route

from hl_local.decode import highlight
from hl_local.decode.nesting import depth_bounded
from hl_local.decode.records import Batch
from hl_local.errors import DecodeError, Overloaded
from hl_local.ingest.body import MAX_BODY_BYTES, in_flight, read_request_body
from hl_local.ingest.cors import cors_headers, origin_allowed, preflight, refused_origin
from hl_local.ingest.failures import answer_for
from hl_local.store.writer import Writer

HttpRequest = Request[Any, Any, Any]

PROJECT_ID = "1"  # hl-local is single-project; the SDK needs a non-zero numeric id
OVERLOAD_WAIT_S = 8.0  # the SDK treats >15 s as a failure
_CLICK_TAILS_KEPT = 10_000

_encode = msgspec.json.encode


class _ClickTails:
    """The last clicks of recent sessions, so a rage-click burst split over two pushes is seen."""

    def __init__(self) -> None:
        self._tails: OrderedDict[str, list[highlight.Click]] = OrderedDict()

    def get(self, session_id: str) -> list[highlight.Click]:
        return self._tails.get(session_id, [])

    def put(self, session_id: str, tail: list[highlight.Click]) -> None:
        self._tails[session_id] = tail
        self._tails.move_to_end(session_id)
        while len(self._tails) > _CLICK_TAILS_KEPT:
            self._tails.popitem(last=False)


_click_tails = _ClickTails()


def _client(request: HttpRequest) -> highlight.Client:
    return highlight.Client(
        user_agent=request.headers.get("user-agent"),
        ip=request.client.host if request.client else None,
        language=request.headers.get("accept-language"),
        origin=request.headers.get("origin"),
    )


def _push(variables: dict[str, Any], payload: highlight.Payload) -> Batch:
    session_id = highlight.session_id_of(variables)
    payload_id = variables.get("payload_id")
    if isinstance(payload_id, int):
        payload_id = str(payload_id)
    if not isinstance(payload_id, str) or not payload_id:
        raise DecodeError("variables.payload_id is missing")
    result = highlight.push_to_batch(session_id, payload_id, payload, _click_tails.get(session_id))
    _click_tails.put(session_id, result.clicks_tail)
    return result.batch


def _push_events(variables: dict[str, Any], request: HttpRequest) -> Batch:
    return _push(variables, highlight.decode_push_data(variables.get("data")))


def _push_legacy(variables: dict[str, Any], request: HttpRequest) -> Batch:
    return _push(variables, highlight.legacy_payload(variables))


def _metrics(variables: dict[str, Any], request: HttpRequest) -> Batch:
    return highlight.push_metrics(variables)


Handler = Callable[[dict[str, Any], HttpRequest], Batch]

# lower-cased operation → (root field, handler, reply: "session" = the secure id, "count", None)
OPERATIONS: dict[str, tuple[str, Handler | None, str | None]] = {
    "initializesession": (
        "initializeSession",
        lambda v, r: highlight.initialize_session(v, _client(r)),
        "init",
    ),
    "pushsessionevents": ("pushSessionEvents", _push_events, None),
    "pushpayloadcompressed": ("pushPayloadCompressed", _push_events, None),
    "pushpayload": ("pushPayload", _push_legacy, "count"),
    "identifysession": ("identifySession", lambda v, r: highlight.identify_session(v), "session"),
    "addsessionproperties": (
        "addSessionProperties",
        lambda v, r: highlight.add_session_properties(v),
        "session",
    ),
    "addsessionfeedback": ("addSessionFeedback", lambda v, r: highlight.add_session_feedback(v), "session"),
    "pushmetrics": ("pushMetrics", _metrics, "count"),
}


def _reply(field: str, kind: str | None, variables: dict[str, Any], batch: Batch | None) -> Any:
    if kind == "init":
        return {"secure_id": variables.get("session_secure_id"), "project_id": PROJECT_ID, "sampling": None}
    if kind == "session":
        return variables.get("session_secure_id") or ""
    if kind == "count":
        return batch.row_count if batch else 0
    return None


async def _write(writer: Writer, batch: Batch) -> None:
    """Write, waiting out a saturated writer rather than failing the SDK's request."""
    deadline = time.monotonic() + OVERLOAD_WAIT_S
    while True:
        try:
            await writer.write(batch)
            return
        except Overloaded:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def _json(body: Any, request: HttpRequest, status: int = 200) -> Response[bytes]:
    return Response(
        _encode(body), status_code=status, media_type="application/json", headers=cors_headers(request)
    )


def _error(request: HttpRequest, exc: Exception) -> Response[bytes]:
    answer = answer_for(exc, f"{request.method} {request.url.path}")
    body = {
        "data": None,
        "errors": [{"message": answer.message, "extensions": {"code": answer.graphql_code}}],
    }
    response = _json(body, request, answer.http_status)
    if answer.retry_after_s is not None:
        response.headers["retry-after"] = str(answer.retry_after_s)
    return response


async def handle(request: HttpRequest) -> Response[bytes]:
    try:
        async with in_flight.held() as reservation:  # the body's bytes count until its rows are committed
            body = await read_request_body(request, reservation)
            with depth_bounded("the request (or the payload inside it)"):
                graphql = highlight.parse_request(body)
                name = highlight.operation_name(graphql)
                field, handler, reply = OPERATIONS.get(name.lower(), (name or "ignore", None, None))
                variables = graphql.variables or {}
                batch = handler(variables, request) if handler else None
            if batch is not None:
                await _write(request.app.state.writer, batch)
    except Exception as exc:  # every failure is answered (ingest/failures.py), GraphQL-shaped
        return _error(request, exc)
    # Unknown but well-formed operations (Ignore, markBackendSetup, ...) succeed doing nothing.
    return _json({"data": {field: _reply(field, reply, variables, batch)}}, request)


def _handler(path: str) -> Any:
    @route(
        path,
        http_method=["POST", "OPTIONS"],
        status_code=200,
        request_max_body_size=MAX_BODY_BYTES + 1,
        name=f"highlight{path.replace('/', '-')}",
    )
    async def public_route(request: HttpRequest) -> Response[bytes]:
        if request.method == "OPTIONS":
            return preflight(request)
        if not origin_allowed(request):
            return refused_origin(request)
        return await handle(request)

    return public_route


# `/public` is where the self-hosted Highlight served it (`backendUrl: "http://localhost:8082/public"`).
highlight_handlers = [_handler("/public"), _handler("/")]
