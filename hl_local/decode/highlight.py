"""Highlight browser SDK (`highlight.run`) GraphQL operations → rows. Pure functions, no I/O.

The SDK posts `{"query", "variables", "operationName"}` to its `backendUrl`. Pushes (the replay,
console, network and errors) are decoded by push.py and push_rows.py; this module parses the request
and decodes the session calls. Wire facts: shared/docs/highlight-browser-protocol.md.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import msgspec

from hl_local.decode.attributes import json_text
from hl_local.decode.records import (
    Batch,
    FeedbackRow,
    MetricPointRow,
    SessionIdentity,
    SessionProperties,
    SessionRow,
)
from hl_local.decode.sdk_values import iso_ns as _iso_ns
from hl_local.decode.sdk_values import number as _float
from hl_local.decode.sdk_values import object_text as _object_text
from hl_local.decode.sdk_values import string as _string
from hl_local.errors import DecodeError


class GraphQLRequest(msgspec.Struct, gc=False):
    query: str = ""
    variables: dict[str, Any] | None = None
    operationName: str | None = None  # the wire's own camelCase name


_FIRST_FIELD = re.compile(r"\{\s*(\w+)")


def parse_request(body: bytes) -> GraphQLRequest:
    try:
        request = msgspec.json.decode(body, type=GraphQLRequest)
    except msgspec.DecodeError as exc:
        raise DecodeError(
            f"body is not a GraphQL request (JSON with query, variables, operationName): {exc}"
        ) from None
    return request


def root_field(request: GraphQLRequest) -> str:
    """The first field of the selection set: what a reply's `data` is keyed by (`ignore` if none)."""
    match = _FIRST_FIELD.search(request.query)
    return match.group(1) if match else (request.operationName or "ignore")


def operation_name(request: GraphQLRequest) -> str:
    """The operation: `operationName`, else the first field of the selection set."""
    if request.operationName:
        return request.operationName
    match = _FIRST_FIELD.search(request.query)
    return match.group(1) if match else ""


# ---------------------------------------------------------------- session calls


@dataclass(frozen=True)
class Client:
    """What initializeSession learns from the HTTP request itself."""

    user_agent: str | None
    ip: str | None
    language: str | None
    origin: str | None = None


def session_id_of(variables: dict[str, Any]) -> str:
    session_id = variables.get("session_secure_id")
    if not isinstance(session_id, str) or not session_id:
        raise DecodeError("variables.session_secure_id is missing or not a string")
    # The id is a path segment of the session's page and API (/sessions/<id>): a "/" in it could
    # never be opened. The SDK's own ids are 28 letters and digits.
    if "/" in session_id:
        raise DecodeError(f"variables.session_secure_id {session_id[:64]!r} contains '/'")
    return session_id


def initialize_session(variables: dict[str, Any], client: Client) -> Batch:
    now = time.time_ns()
    domains = variables.get("network_recording_domains")
    row = SessionRow(
        session_id_of(variables),
        True,
        _string(variables.get("organization_verbose_id")),
        _string(variables.get("client_id") or variables.get("id")),
        _string(variables.get("session_key")),
        _string(variables.get("clientVersion")),
        _string(variables.get("firstloadVersion")),
        _string(variables.get("clientConfig")),
        _string(variables.get("environment")),
        _string(variables.get("appVersion")),
        _string(variables.get("serviceName")),
        _string(variables.get("privacy_setting")),
        _bool(variables.get("enable_strict_privacy")),
        _bool(variables.get("enable_recording_network_contents")),
        _bool(variables.get("disable_session_recording")),
        json_text(domains) if domains is not None else None,
        client.user_agent,
        client.ip,
        client.language,
        None,  # identifier, user_object and properties come with identify and addSessionProperties
        None,
        None,
        now,
        now,
        client.origin,
    )
    return Batch(session_inits=[row])


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def identify_session(variables: dict[str, Any]) -> Batch:
    now = time.time_ns()
    identifier = variables.get("user_identifier")
    user_object = _object_text(variables.get("user_object"), "variables.user_object")
    row = SessionIdentity(session_id_of(variables), _string(identifier), user_object, now, now)
    return Batch(session_identities=[row])


def add_session_properties(variables: dict[str, Any]) -> Batch:
    now = time.time_ns()
    properties = _object_text(variables.get("properties_object"), "variables.properties_object")
    return Batch(session_properties=[SessionProperties(session_id_of(variables), properties, now, now)])


def add_session_feedback(variables: dict[str, Any]) -> Batch:
    now = time.time_ns()
    verbatim = variables.get("verbatim")
    if not isinstance(verbatim, str):
        raise DecodeError("variables.verbatim is missing")
    time_ns = _iso_ns(variables.get("timestamp")) or now
    row = FeedbackRow(
        session_id_of(variables),
        time_ns,
        _string(variables.get("user_name")),
        _string(variables.get("user_email")),
        verbatim,
        now,
    )
    return Batch(session_feedback=[row])


def push_metrics(variables: dict[str, Any]) -> Batch:
    """pushMetrics (schema only in 10.x): each metric becomes a gauge point of its session."""
    metrics = variables.get("metrics")
    if not isinstance(metrics, list):
        raise DecodeError("variables.metrics must be a list")
    now = time.time_ns()
    rows: list[MetricPointRow] = []
    for metric in metrics:
        if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
            raise DecodeError("every metric needs a name")
        tags = metric.get("tags")
        tags = tags if isinstance(tags, list) else []
        attributes = {
            t["name"]: t.get("value") for t in tags if isinstance(t, dict) and isinstance(t.get("name"), str)
        }
        for key in ("category", "group", "parent_span_id"):
            if metric.get(key) is not None:
                attributes[key] = metric[key]
        time_ns = _iso_ns(metric.get("timestamp")) or now
        session_id = _string(metric.get("session_secure_id"))
        rows.append(
            _gauge_point(time_ns, metric["name"], _float(metric.get("value")), session_id, attributes, now)
        )
    return Batch(metric_points=rows)


def _gauge_point(
    time_ns: int, name: str, value: float | None, session_id: str | None, attributes: dict[str, Any], now: int
) -> MetricPointRow:
    return MetricPointRow(
        time_ns=time_ns, start_ns=0, metric_name=name, description="", unit="", metric_type="gauge",
        temporality=None, is_monotonic=None, value=value, count=None, sum=None, min=None, max=None,
        bucket_counts=None, explicit_bounds=None, exp_scale=None, exp_zero_count=None,
        exp_zero_threshold=None, exp_positive_offset=None, exp_positive_counts=None,
        exp_negative_offset=None, exp_negative_counts=None, quantiles=None, flags=0, exemplars="[]",
        service_name="", service_version="", environment="", session_id=session_id, request_id=None,
        project_id=None, scope_name="highlight.run", scope_version="", attributes=json_text(attributes),
        resource_attributes="{}", received_ns=now,
    )  # fmt: skip
