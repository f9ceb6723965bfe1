"""Checks an answer of the API against the OpenAPI document the same server serves.

The API tests pass each reply through `conforms`: its body must be what the document says for that
path, method and status, field by field (a field the document does not name fails too). A small
validator for the JSON Schema litestar writes (type, enum, const, properties, required, items,
additionalProperties, oneOf/anyOf/allOf, $ref), so the suite needs no JSON Schema package.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import httpx

Json = dict[str, Any]
_TYPES: dict[str, tuple[type, ...]] = {
    "null": (type(None),),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "array": (list,),
    "object": (dict,),
}


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool):  # a bool is an int in Python, not in JSON
        return kind == "boolean"
    return isinstance(value, _TYPES[kind])


@functools.cache
def document(base_url: str) -> Json:
    reply = httpx.get(f"{base_url}/api/schema/openapi.json", timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def operation(doc: Json, method: str, path: str) -> Json:
    """The document's operation for a concrete path (`/api/sessions/abc` → `/api/sessions/{session_id}`)."""
    found = []
    for template, item in doc["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in item:
            found.append((template.count("{"), item[method.lower()]))
    assert found, f"the OpenAPI document has no {method} {path}"
    return min(found, key=lambda f: f[0])[1]  # a literal segment wins over a parameter


def schema_of(doc: Json, method: str, path: str, status: int) -> tuple[str, Json]:
    """(media type, schema) of the answer with `status`."""
    responses = operation(doc, method, path)["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, which the document does not list"
    [(media_type, body)] = responses[str(status)]["content"].items()
    return media_type, body["schema"]


def conforms(reply: httpx.Response) -> Any:
    """`reply`'s JSON body, after checking it against the document of the server that sent it."""
    request = reply.request
    base = f"{request.url.scheme}://{request.url.netloc.decode()}"
    doc = document(base)
    media_type, schema = schema_of(doc, request.method, request.url.path, reply.status_code)
    assert reply.headers["content-type"].startswith(media_type), (request.url.path, reply.headers)
    body = reply.json()
    problems = check(body, schema, doc)
    assert not problems, f"{request.method} {request.url.path} {reply.status_code}: " + "; ".join(
        problems[:5]
    )
    return body


def check(value: Any, schema: Json, doc: Json, where: str = "$") -> list[str]:
    """What in `value` does not fit `schema` (empty when it fits)."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        return check(value, doc["components"]["schemas"][name], doc, where)
    problems: list[str] = []
    for part in schema.get("allOf", []):
        problems += check(value, part, doc, where)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            tried = [check(value, option, doc, where) for option in schema[key]]
            if all(tried):
                return [f"{where}: fits none of {key} ({min(tried, key=len)[0]})"]
    if "const" in schema and value != schema["const"]:
        return [f"{where}: {value!r} is not {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, kind) for kind in kinds):
            return [f"{where}: {type(value).__name__} {value!r:.60} is not {'/'.join(kinds)}"]
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += check(item, schema["items"], doc, f"{where}[{i}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        problems += [f"{where}: {key!r} is missing" for key in schema.get("required", []) if key not in value]
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                problems += check(item, properties[key], doc, f"{where}.{key}")
            elif isinstance(extra, dict):
                problems += check(item, extra, doc, f"{where}.{key}")
            elif properties or extra is False:
                problems.append(f"{where}: {key!r} is not in the document")
    return problems
