"""OTLP/gRPC: the trace, logs and metrics `Export` services on a `grpc.aio` server.

Requests arrive as raw bytes (no deserializer) so they take the same fast protobuf path as
OTLP/HTTP. gzip is undone by grpcio itself. OK is answered only after the commit; a saturated
writer answers UNAVAILABLE with a RetryInfo detail, which OTLP exporters honour.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import grpc
from grpc import aio

from hl_local.decode import otlp_proto
from hl_local.decode.records import Batch
from hl_local.errors import PortInUse
from hl_local.ingest.body import MAX_DECODED_BYTES, decode_off_loop, in_flight
from hl_local.ingest.failures import answer_for
from hl_local.ingest.status import status_protobuf
from hl_local.store.writer import Writer

if TYPE_CHECKING:
    from hl_local.forward import Forwarder, Signal

_SERVICES = {
    "opentelemetry.proto.collector.trace.v1.TraceService": otlp_proto.decode_traces,
    "opentelemetry.proto.collector.logs.v1.LogsService": otlp_proto.decode_logs,
    "opentelemetry.proto.collector.metrics.v1.MetricsService": otlp_proto.decode_metrics,
}
_SIGNALS: dict[str, Signal] = {
    "opentelemetry.proto.collector.trace.v1.TraceService": "traces",
    "opentelemetry.proto.collector.logs.v1.LogsService": "logs",
    "opentelemetry.proto.collector.metrics.v1.MetricsService": "metrics",
}

Handler = Callable[[bytes, aio.ServicerContext[bytes, bytes]], Awaitable[bytes]]


def _export_handler(
    writer: Writer, service: str, decode: Callable[[bytes], Batch], forwarder: Forwarder | None
) -> Handler:
    where = f"gRPC {service.rsplit('.', 1)[-1]}/Export"

    async def export(request: bytes, context: aio.ServicerContext[bytes, bytes]) -> bytes:
        try:
            writer.check_writable()
            async with in_flight.held() as reservation:  # grpcio has read the message already
                reservation.grow(len(request))
                await writer.write(await decode_off_loop(decode, request))
        except Exception as exc:  # every failure is answered (ingest/failures.py)
            answer = answer_for(exc, where)
            if answer.retry_after_s is not None:
                details = status_protobuf(answer.grpc_code.value[0], answer.message, answer.retry_after_s)
                context.set_trailing_metadata((("grpc-status-details-bin", details),))
            await context.abort(answer.grpc_code, answer.message)
        if forwarder is not None:  # after the commit, as OTLP/HTTP does
            forwarder.offer(_SIGNALS[service], request, False)
        return b""  # an empty Export*ServiceResponse: everything accepted

    return export


async def start_grpc_server(
    writer: Writer, host: str, port: int, forwarder: Forwarder | None = None
) -> tuple[aio.Server, int]:
    """Start the server; return it with the port it really got (port 0 picks one)."""
    server = aio.server(
        options=[
            ("grpc.so_reuseport", 0),  # a busy port must be an error, not silently shared
            ("grpc.max_receive_message_length", MAX_DECODED_BYTES),
            # A connection must finish its handshake in 10 s and is closed after 5 idle minutes
            # (exporters reconnect): idle sockets must not pile up (hl_local/connections.py).
            ("grpc.server_handshake_timeout_ms", 10_000),
            ("grpc.max_connection_idle_ms", 300_000),
        ]
    )
    handlers = [
        grpc.method_handlers_generic_handler(
            service,
            {
                "Export": grpc.unary_unary_rpc_method_handler(
                    _export_handler(writer, service, decode, forwarder)
                )
            },
        )
        for service, decode in _SERVICES.items()
    ]
    server.add_generic_rpc_handlers(handlers)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise PortInUse("OTLP/gRPC", host, port, str(exc)) from None
    if bound == 0:
        raise PortInUse("OTLP/gRPC", host, port, "the address is in use")
    await server.start()
    return server, bound
