"""POST /v1/{traces,logs,metrics}: OTLP/HTTP in protobuf or JSON, answered as the spec asks.

200 with an empty Export*ServiceResponse in the request's own encoding once the rows are
committed; 400 (undecodable), 413 (too big), 415 (content type or encoding) with a
google.rpc.Status that names the problem; 503 + Retry-After when the writer is saturated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, Router, route
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from hl_local.decode import otlp_json, otlp_proto
from hl_local.decode.otlp import DecodeError
from hl_local.decode.records import Batch
from hl_local.errors import Overloaded, RowsRejected, WriteFailed
from hl_local.ingest.body import MAX_BODY_BYTES, BodyError, decode_off_loop, read_body
from hl_local.ingest.cors import cors_headers, preflight
from hl_local.ingest.status import GRPC_CODE_FOR_HTTP, status_json, status_protobuf

log = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_PROTOBUF_TYPES = {PROTOBUF, "application/protobuf", "application/vnd.google.protobuf"}

Decoder = Callable[[bytes], Batch]
# signal → (protobuf decoder, JSON decoder)
SIGNALS: dict[str, tuple[Decoder, Decoder]] = {
    "traces": (otlp_proto.decode_traces, otlp_json.decode_traces),
    "logs": (otlp_proto.decode_logs, otlp_json.decode_logs),
    "metrics": (otlp_proto.decode_metrics, otlp_json.decode_metrics),
}


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def export(request: Request, signal: str) -> Response[bytes]:
    decode_protobuf, decode_json = SIGNALS[signal]
    media_type = _media_type(request)
    if media_type in _PROTOBUF_TYPES:
        decode, reply_type = decode_protobuf, PROTOBUF
    elif media_type == JSON:
        decode, reply_type = decode_json, JSON
    else:
        return _failure(request, PROTOBUF, 415, f"Content-Type {media_type or '(none)'!r} is not "
                        f"supported: send {PROTOBUF} or {JSON}")  # fmt: skip
    try:
        body = await read_body(
            request.stream(), request.headers.get("content-length"), request.headers.get("content-encoding")
        )
        await request.app.state.writer.write(await decode_off_loop(decode, body))
    except BodyError as exc:
        return _failure(request, reply_type, exc.status, str(exc))
    except RequestEntityTooLarge:
        # litestar's own stream limit (MAX_BODY_BYTES + 1) can trip before our reader on a chunked
        # body; answer with our Status body in the request's encoding, not litestar's JSON.
        return _failure(request, reply_type, 413, f"body is over the {MAX_BODY_BYTES}-byte limit")
    except (DecodeError, RowsRejected) as exc:
        return _failure(request, reply_type, 400, str(exc))
    except Overloaded as exc:
        return _failure(
            request, reply_type, 503, "hl-local is busy writing; retry shortly", exc.retry_after_s
        )
    except WriteFailed as exc:
        return _failure(request, reply_type, 500, f"the database refused the batch: {exc}")
    # An empty Export*ServiceResponse: partial_success unset means everything was accepted.
    return Response(b"" if reply_type == PROTOBUF else b"{}", media_type=reply_type,
                    headers=cors_headers(request))  # fmt: skip


def _failure(
    request: Request, reply_type: str, status: int, message: str, retry_after_s: int | None = None
) -> Response[bytes]:
    code = GRPC_CODE_FOR_HTTP.get(status, GRPC_CODE_FOR_HTTP[400])
    body = status_protobuf(code, message) if reply_type == PROTOBUF else status_json(code, message)
    headers = cors_headers(request)
    if retry_after_s is not None:
        headers["retry-after"] = str(retry_after_s)
    log.info("%s %s -> %d: %s", request.method, request.url.path, status, message)
    return Response(body, status_code=status, media_type=reply_type, headers=headers)


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
    async def otlp_route(request: Request, signal: str) -> Response[bytes]:
        if request.method == "OPTIONS":
            return preflight(request)
        if signal not in SIGNALS:
            return _failure(request, PROTOBUF, 404, f"no OTLP signal {signal!r}: use traces, logs or metrics")
        return await export(request, signal)

    return otlp_route


# `/otel/v1/...` is the path Highlight's own backend used behind its collector.
otlp_http_router = Router(path="/", route_handlers=[_handler(""), _handler("/otel")])
