"""Feature flag evaluations recorded as span events → `flag_evaluations` rows.

LaunchDarkly's plugins add an event named `feature_flag` to an `evaluation` span for each
evaluation (Highlight's own LaunchDarkly integration names it `feature_flag.evaluation`), with
OpenTelemetry's feature-flag attributes: `feature_flag.key`, `feature_flag.result.value` (JSON
text), `feature_flag.result.variationIndex`, `feature_flag.result.reason.*`,
`feature_flag.context.id`, `feature_flag.contextKeys`, `feature_flag.provider.name`,
`feature_flag.set.id`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from hl_local.decode.attributes import json_text
from hl_local.decode.records import FlagEvaluationRow

if TYPE_CHECKING:
    from hl_local.decode.derived import Origin

FLAG_EVENTS = frozenset({"feature_flag", "feature_flag.evaluation"})
_REASON = "feature_flag.result.reason."


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json_text(value)


def _value(value: Any) -> str | None:
    """The flag's value as a person reads it: `"hello"` → hello; true, 3, {...} as JSON."""
    text = _text(value)
    if text is not None and text.startswith('"'):
        try:
            decoded = msgspec.json.decode(text)
        except msgspec.DecodeError:
            return text
        return decoded if isinstance(decoded, str) else text
    return text


def flag_row(
    origin: Origin, index: int, time_ns: int, attributes: dict[str, Any], received_ns: int
) -> FlagEvaluationRow | None:
    key = _text(attributes.get("feature_flag.key"))
    if key is None:
        return None
    reason = {k[len(_REASON) :]: v for k, v in attributes.items() if k.startswith(_REASON)}
    session = _text(attributes.get("highlight.session_id")) or origin.columns[3]
    return FlagEvaluationRow(
        origin.trace_id, origin.span_id, index, time_ns, session, key,
        _value(attributes.get("feature_flag.result.value")),
        _text(attributes.get("feature_flag.result.variationIndex")), _text(reason.get("kind")),
        json_text(reason), _text(attributes.get("feature_flag.context.id")),
        _text(attributes.get("feature_flag.contextKeys")),
        _text(attributes.get("feature_flag.provider.name")), _text(attributes.get("feature_flag.set.id")),
        origin.source, origin.columns[0], json_text(attributes), received_ns,
    )  # fmt: skip
