"""The environment `hl-local run` gives its command, so that unmodified SDKs send to the run's server.

What each client reads, from its own source (docs/ci.md has the table for users):

- OpenTelemetry SDKs, every language: `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL: HTTP exporters
  append `/v1/<signal>`) and `OTEL_EXPORTER_OTLP_PROTOCOL`. The per-signal variables
  (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `..._PROTOCOL`, …) win over those, so they are set too: one
  inherited from the CI job would otherwise send that signal elsewhere. The protocol matters for
  Python's auto-configuration (`opentelemetry-instrument`), which speaks gRPC when it is not set.
- highlight-io 0.10 (Python) and @highlight-run/node 3.12 read no variable for where to send: they
  take `otlp_endpoint` / `otlpEndpoint` in code (default: Highlight's cloud) and give it to their
  OTel exporters as an explicit URL, which wins over every `OTEL_*` variable. The command reads
  `HL_LOCAL_OTLP_GRPC_ENDPOINT` (the Python SDK speaks only gRPC) or `HL_LOCAL_OTLP_HTTP_ENDPOINT`
  (Node) and passes it on.
- `highlight.run` in a browser test: `H.init(…, {backendUrl: HL_LOCAL_BACKEND_URL, otlpEndpoint:
  HL_LOCAL_OTLP_HTTP_ENDPOINT})`; `HL_LOCAL_URL` is the UI and API (the pytest plugin's wait calls).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from hl_local.cli.server_process import Listeners

Protocol = Literal["http/protobuf", "http/json", "grpc"]
PROTOCOLS: tuple[Protocol, ...] = ("http/protobuf", "http/json", "grpc")
SIGNALS = ("TRACES", "LOGS", "METRICS")

_PROXIES = ("http_proxy", "https_proxy", "all_proxy", "grpc_proxy")
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def command_environment(
    inherited: Mapping[str, str], listeners: Listeners, protocol: Protocol
) -> dict[str, str]:
    """`inherited` with the variables that point every SDK at the server of `listeners`."""
    env = dict(inherited)
    env.update(
        HL_LOCAL_URL=listeners.ui_url,
        HL_LOCAL_BACKEND_URL=f"{listeners.ui_url}/public",
        HL_LOCAL_OTLP_HTTP_ENDPOINT=listeners.otlp_http_url,
        HL_LOCAL_OTLP_GRPC_ENDPOINT=listeners.otlp_grpc_url,
    )
    env.update(otel_variables(listeners, protocol))
    env.update(_no_proxy(env, listeners.ui_url))
    return env


def otel_variables(listeners: Listeners, protocol: Protocol) -> dict[str, str]:
    grpc = protocol == "grpc"
    base = listeners.otlp_grpc_url if grpc else listeners.otlp_http_url
    variables = {"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
    for signal in SIGNALS:
        # An HTTP exporter takes a per-signal endpoint as the whole URL; gRPC only reads host:port.
        variables[f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"] = base if grpc else f"{base}/v1/{signal.lower()}"
        variables[f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL"] = protocol
    return variables


def _no_proxy(env: Mapping[str, str], ui_url: str) -> dict[str, str]:
    """NO_PROXY with loopback added, when a proxy is configured: HTTP clients (Python's requests,
    gRPC, Node's) would otherwise send the telemetry for 127.0.0.1 to the CI's proxy."""
    if not any(env.get(name) or env.get(name.upper()) for name in _PROXIES):
        return {}
    host = ui_url.split("//", 1)[-1].rsplit(":", 1)[0].strip("[]")
    current = env.get("NO_PROXY") or env.get("no_proxy") or ""
    names = [name for name in current.split(",") if name.strip()]
    names += [name for name in (*_LOOPBACK_NAMES, host) if name not in names]
    value = ",".join(names)
    return {"NO_PROXY": value, "no_proxy": value}
