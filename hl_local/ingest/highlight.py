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

from hl_local.decode import highlight, push
from hl_local.decode.nesting import depth_bounded
from hl_local.decode.records import Batch
from hl_local.errors import DecodeError, Overloaded
from hl_local.ingest.body import MAX_BODY_BYTES, in_flight, read_request_body
from hl_local.ingest.cors import cors_headers, origin_allowed, preflight, refused_origin
from hl_local.ingest.failures import answer_for
from hl_local.store.db import Store
from hl_local.store.writer import Writer

HttpRequest = Request[Any, Any, Any]

PROJECT_ID = "1"  # hl-local is single-project; the SDK needs a non-zero numeric id
OVERLOAD_WAIT_S = 8.0  # the SDK treats >15 s as a failure
_CLICK_TAILS_KEPT = 10_000

_encode = msgspec.json.encode


class _ClickTails:
    """The last clicks of recent sessions, so a rage-click burst split over two pushes is seen."""

    def __init__(self) -> None:
        self._tails: OrderedDict[str, list[push.Click]] = OrderedDict()

    def get(self, session_id: str) -> list[push.Click]:
        return self._tails.get(session_id, [])

    def put(self, session_id: str, tail: list[push.Click]) -> None:
        self._tails[session_id] = tail
        self._tails.move_to_end(session_id)
        while len(self._tails) > _CLICK_TAILS_KEPT:
            self._tails.popitem(last=False)


_click_tails = _ClickTails()

SessionService = tuple[str | None, str | None, str | None]  # service name, version, environment


class _SessionServices:
    """What each session's H.init said of its app (serviceName, version, environment), so the
    errors its pushes carry (which do not say it) carry it, as backend errors carry theirs.

    Learned from initializeSession; a session first seen in a push after a restart is looked up in
    the store, once. Only a push with errors needs it.
    """

    def __init__(self) -> None:
        self._known: OrderedDict[str, SessionService] = OrderedDict()

    def learn(self, variables: dict[str, Any]) -> None:
        said = [variables.get(k) for k in ("serviceName", "appVersion", "environment")]
        name, version, environment = (v if isinstance(v, str) and v else None for v in said)
        self._put(str(variables.get("session_secure_id")), (name, version, environment))

    def _put(self, session_id: str, service: SessionService) -> None:
        self._known[session_id] = service
        self._known.move_to_end(session_id)
        while len(self._known) > _CLICK_TAILS_KEPT:
            self._known.popitem(last=False)

    async def of(self, request: HttpRequest, session_id: str) -> SessionService:
        if session_id not in self._known:
            store: Store = request.app.state.store
            found = await store.read(
                lambda cur: cur.execute(
                    "SELECT service_name, app_version, environment FROM sessions WHERE session_id = ?",
                    [session_id],
                ).fetchall()
            )
            name, version, environment = found[0] if found else (None, None, None)
            self._put(session_id, (name or None, version or None, environment or None))
        return self._known[session_id]


_session_services = _SessionServices()


async def _with_session_service(request: HttpRequest, batch: Batch) -> Batch:
    """The batch's browser errors with their session's service, version and environment."""
    if not any(e.service_name is None and e.session_id for e in batch.errors):
        return batch
    errors = []
    for error in batch.errors:
        if error.service_name is None and error.session_id:
            name, version, environment = await _session_services.of(request, error.session_id)
            error = msgspec.structs.replace(
                error, service_name=name, service_version=version, environment=environment
            )
        errors.append(error)
    return msgspec.structs.replace(batch, errors=errors)


def _client(request: HttpRequest) -> highlight.Client:
    return highlight.Client(
        user_agent=request.headers.get("user-agent"),
        ip=request.client.host if request.client else None,
        language=request.headers.get("accept-language"),
        origin=request.headers.get("origin"),
    )


def _push(variables: dict[str, Any], payload: push.Payload) -> Batch:
    session_id = highlight.session_id_of(variables)
    payload_id = variables.get("payload_id")
    if isinstance(payload_id, int):
        payload_id = str(payload_id)
    if not isinstance(payload_id, str) or not payload_id:
        raise DecodeError("variables.payload_id is missing")
    result = push.push_to_batch(session_id, payload_id, payload, _click_tails.get(session_id))
    _click_tails.put(session_id, result.clicks_tail)
    return result.batch


def _push_events(variables: dict[str, Any], request: HttpRequest) -> Batch:
    return _push(variables, push.decode_push_data(variables.get("data")))


def _push_legacy(variables: dict[str, Any], request: HttpRequest) -> Batch:
    return _push(variables, push.legacy_payload(variables))


def _initialize(variables: dict[str, Any], request: HttpRequest) -> Batch:
    batch = highlight.initialize_session(variables, _client(request))
    _session_services.learn(variables)
    return batch


def _metrics(variables: dict[str, Any], request: HttpRequest) -> Batch:
    return highlight.push_metrics(variables)


Handler = Callable[[dict[str, Any], HttpRequest], Batch]

# lower-cased operation → (root field, handler, reply: "session" = the secure id, "count", None)
OPERATIONS: dict[str, tuple[str, Handler | None, str | None]] = {
    "initializesession": ("initializeSession", lambda v, r: _initialize(v, r), "init"),
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
    # LaunchDarkly's observability plugin asks before it sends anything (query GetSamplingConfig)
    "getsamplingconfig": ("sampling", None, "sampling"),
}

# "Sample everything": no span or log rule, so the SDK's sampler keeps every span and log.
SAMPLE_EVERYTHING: dict[str, Any] = {"spans": [], "logs": []}


def _reply(field: str, kind: str | None, variables: dict[str, Any], batch: Batch | None) -> Any:
    if kind == "init":
        return {"secure_id": variables.get("session_secure_id"), "project_id": PROJECT_ID, "sampling": None}
    if kind == "session":
        return variables.get("session_secure_id") or ""
    if kind == "sampling":
        return SAMPLE_EVERYTHING
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
        request.app.state.writer.check_writable()
        async with in_flight.held() as reservation:  # the body's bytes count until its rows are committed
            body = await read_request_body(request, reservation)
            with depth_bounded("the request (or the payload inside it)"):
                graphql = highlight.parse_request(body)
                name = highlight.operation_name(graphql)
                field, handler, reply = OPERATIONS.get(
                    name.lower(), (highlight.root_field(graphql), None, None)
                )
                variables = graphql.variables or {}
                batch = handler(variables, request) if handler else None
            if batch is not None:
                await _write(request.app.state.writer, await _with_session_service(request, batch))
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
