"""POST /v1/{traces,logs,metrics}: OTLP/HTTP in protobuf or JSON, answered as the spec asks.

200 with an empty Export*ServiceResponse in the request's own encoding once the rows are
committed; 400 (undecodable), 413 (too big), 415 (content type or encoding) with a
google.rpc.Status that names the problem; 503 + Retry-After when the writer is saturated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from litestar import Request, Response, Router, route

from hl_local.decode import otlp_json, otlp_proto
from hl_local.decode.records import Batch
from hl_local.errors import UnsupportedMedia
from hl_local.ingest.body import MAX_BODY_BYTES, decode_off_loop, in_flight, read_request_body
from hl_local.ingest.cors import cors_headers, origin_allowed, preflight, refused_origin
from hl_local.ingest.failures import answer_for
from hl_local.ingest.status import status_json, status_protobuf

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_PROTOBUF_TYPES = {PROTOBUF, "application/protobuf", "application/vnd.google.protobuf"}

HttpRequest = Request[Any, Any, Any]
Decoder = Callable[[bytes], Batch]
# signal → (protobuf decoder, JSON decoder)
SIGNALS: dict[str, tuple[Decoder, Decoder]] = {
    "traces": (otlp_proto.decode_traces, otlp_json.decode_traces),
    "logs": (otlp_proto.decode_logs, otlp_json.decode_logs),
    "metrics": (otlp_proto.decode_metrics, otlp_json.decode_metrics),
}


def _media_type(request: HttpRequest) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def export(request: HttpRequest, signal: str) -> Response[bytes]:
    decode_protobuf, decode_json = SIGNALS[signal]
    media_type = _media_type(request)
    # A failure is answered in the request's own encoding; an unknown one gets protobuf.
    reply_type = JSON if media_type == JSON else PROTOBUF
    try:
        request.app.state.writer.check_writable()
        if media_type in _PROTOBUF_TYPES:
            decode = decode_protobuf
        elif media_type == JSON:
            decode = decode_json
        else:
            raise UnsupportedMedia(
                f"Content-Type {media_type or '(none)'!r} is not supported: send {PROTOBUF} or {JSON}"
            )
        async with in_flight.held() as reservation:  # the body's bytes count until its rows are committed
            body = await read_request_body(request, reservation)
            await request.app.state.writer.write(await decode_off_loop(decode, body))
    except Exception as exc:  # every failure is answered (ingest/failures.py); none escapes as a bare 500
        return _failure(request, reply_type, exc)
    forwarder = request.app.state.get("forwarder")
    if forwarder is not None:  # after the commit: sending on never delays or fails this answer
        forwarder.offer(signal, body, decode is decode_json)
    # An empty Export*ServiceResponse: partial_success unset means everything was accepted.
    return Response(b"" if reply_type == PROTOBUF else b"{}", media_type=reply_type,
                    headers=cors_headers(request))  # fmt: skip


def _failure(request: HttpRequest, reply_type: str, exc: Exception) -> Response[bytes]:
    answer = answer_for(exc, f"{request.method} {request.url.path}")
    code = answer.grpc_code.value[0]
    message = answer.message
    body = (
        status_protobuf(code, message, answer.retry_after_s)
        if reply_type == PROTOBUF
        else status_json(code, message)
    )
    headers = cors_headers(request)
    if answer.retry_after_s is not None:
        headers["retry-after"] = str(answer.retry_after_s)
    return Response(body, status_code=answer.http_status, media_type=reply_type, headers=headers)


def _handler(prefix: str) -> Any:
    # One handler for POST and OPTIONS: litestar would otherwise answer preflights itself,
    # without the CORS headers browsers need.
    @route(
        f"{prefix}/v1/{{signal:str}}",
        http_method=["POST", "OPTIONS"],
        status_code=200,
        request_max_body_size=MAX_BODY_BYTES + 1,  # our own reader enforces the limit, with a better message
        name=f"otlp{prefix}",
    )
    async def otlp_route(request: HttpRequest, signal: str) -> Response[bytes]:
        if request.method == "OPTIONS":
            return preflight(request)
        if not origin_allowed(request):
            return refused_origin(request)
        if signal not in SIGNALS:
            code = grpc.StatusCode.NOT_FOUND.value[0]
            body = status_protobuf(code, f"no OTLP signal {signal!r}: use traces, logs or metrics")
            return Response(body, status_code=404, media_type=PROTOBUF, headers=cors_headers(request))
        return await export(request, signal)

    return otlp_route


# `/otel/v1/...` is the path Highlight's own backend used behind its collector.
otlp_http_router = Router(path="/", route_handlers=[_handler(""), _handler("/otel")])
