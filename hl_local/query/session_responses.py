"""What /api/sessions and a session's parts answer, as msgspec Structs (the rest: responses.py)."""

from __future__ import annotations

from typing import Any

import msgspec

from hl_local.query.responses import (
    AnyJson,
    ErrorColumns,
    Frames,
    JsonObject,
    SentObject,
    SentStrings,
    SourcedFrame,
)


class SessionRow(msgspec.Struct):
    session_id: str
    identifier: str | None
    user_object: SentObject | None
    started_ns: int
    last_activity_ns: int
    duration_ms: int
    active_ms: int
    page_count: int
    error_count: int  # as its Errors tab lists them: its own, and the backend errors of its traces
    console_error_count: int
    click_count: int
    has_rage_clicks: bool
    first_url: str | None
    environment: str | None
    service_name: str | None
    sdk_version: str | None
    user_agent: str | None
    is_initialized: bool
    live: bool  # data in the last 60 s


class SessionPage(msgspec.Struct):
    items: list[SessionRow]
    next_cursor: str | None


class Feedback(msgspec.Struct):
    time_ns: int
    user_name: str | None
    user_email: str | None
    verbatim: str


class SessionDetail(SessionRow):
    client_config: AnyJson | None  # the H.init options as sent
    properties: SentObject | None
    project_id: str | None
    client_id: str | None
    app_version: str | None
    firstload_version: str | None
    privacy_setting: str | None
    enable_strict_privacy: bool | None
    enable_recording_network_contents: bool | None
    disable_session_recording: bool | None
    network_recording_domains: SentStrings | None
    ip: str | None
    language: str | None
    origin: str | None  # the Origin header initializeSession came with: the page that sent the session
    first_event_ms: int | None
    last_event_ms: int | None
    push_count: int
    event_count: int
    feedback: list[Feedback]
    web_vitals: dict[str, float]  # LCP, FCP, CLS, INP, TTFB: the latest of each


class RrwebEvent(msgspec.Struct):
    """One event of /api/sessions/{id}/events (never built: the events are sent as stored)."""

    type: int
    timestamp: float
    data: Any
    sid: int = msgspec.field(default=0, name="_sid")  # highlight.run's sequence number within a page load
    hl_keyframe: bool = False  # present (true) on synthetic keyframe events only


class EventDetail(msgspec.Struct):
    """A Highlight custom event, or the same read from a browser span (LaunchDarkly's plugins send
    `launchdarkly.track` and `page_view` spans instead: tag Track / Navigate, selector and text null)."""

    tag: str  # the custom event's tag: Click, Navigate, Reload, Track, Identify
    payload: Any
    selector: str | None
    text: str | None


class ErrorMark(msgspec.Struct):
    error_id: str
    time_ns: int
    type: str
    message: str
    group_id: str
    source: str
    url: str | None


class _Marker(msgspec.Struct, tag_field="kind"):
    time_ms: int
    label: str


class ClickMarker(_Marker, tag="click"):
    detail: EventDetail


class NavigateMarker(_Marker, tag="navigate"):
    detail: EventDetail


class TrackMarker(_Marker, tag="track"):
    detail: EventDetail


class IdentifyMarker(_Marker, tag="identify"):
    detail: EventDetail


class ErrorMarker(_Marker, tag="error"):
    detail: ErrorMark


class FeedbackMarker(_Marker, tag="feedback"):
    detail: Feedback


class FlagEvaluation(msgspec.Struct):
    """A feature flag evaluation the SDK recorded (LaunchDarkly's `feature_flag` span events)."""

    flag_key: str
    value: str | None  # a string value as it is, others as JSON text (true, 3, {...})
    variation_index: str | None
    reason_kind: str | None
    reason: JsonObject  # every feature_flag.result.reason.* attribute
    context_id: str | None
    provider: str | None
    trace_id: str
    span_id: str


class FlagMarker(_Marker, tag="flag"):
    detail: FlagEvaluation


Marker = (
    ClickMarker | NavigateMarker | TrackMarker | IdentifyMarker | ErrorMarker | FeedbackMarker | FlagMarker
)


class Timeline(msgspec.Struct):
    items: list[Marker]


class ConsoleLine(msgspec.Struct):
    time_ns: int
    level: str
    severity_text: str
    body: str
    attributes: JsonObject
    frames: Frames


class ConsoleLines(msgspec.Struct):
    items: list[ConsoleLine]


class NetworkRequest(msgspec.Struct):
    payload_id: str
    start_ms: float
    end_ms: float | None
    duration_ms: float | None
    initiator_type: str
    method: str | None
    url: str
    status: int | None
    request_id: str | None
    trace_id: str | None  # from the traceparent request header
    request_headers: SentObject | None
    request_body: AnyJson | None
    response_headers: SentObject | None
    response_body: AnyJson | None
    response_size: int | None
    transfer_size: int | None
    encoded_body_size: int | None
    decoded_body_size: int | None
    next_hop_protocol: str | None
    timings: SentObject | None
    url_blocked: bool | None
    backend_trace_id: str | None  # the backend trace the request started


class NetworkRequests(msgspec.Struct):
    items: list[NetworkRequest]


class SessionError(ErrorColumns):
    # Through source maps, with lines for the first 128 frames of the answer (source_all fills it).
    frames: list[SourcedFrame]  # type: ignore[assignment]  # ErrorColumns' stored text, sourced
    offset_ms: int | None  # into the replay


class SessionErrors(msgspec.Struct):
    items: list[SessionError]
