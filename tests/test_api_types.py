"""web/src/api.gen.ts is what tools/api_types.py makes of the server's OpenAPI document: change a
response Struct without regenerating it, and this fails (regenerate with
`.venv/bin/python tools/api_types.py`). The document is built in process, as the tool builds it;
tests/test_api_schema.py checks that a running server serves that same document."""

from __future__ import annotations

from pathlib import Path

from hl_local.app import openapi_document
from tools.api_types import OUTPUT, typescript

ROOT = Path(__file__).parent.parent


def test_the_ui_types_are_the_servers() -> None:
    assert OUTPUT == ROOT / "web" / "src" / "api.gen.ts"
    current = typescript(openapi_document())
    assert OUTPUT.read_text() == current, (
        "web/src/api.gen.ts is stale: run .venv/bin/python tools/api_types.py"
    )


def test_the_generator_writes_each_shape_as_typescript() -> None:
    schemas = {
        "Thing": {
            "type": "object",
            "required": ["id", "tags", "kind", "extra"],
            "properties": {
                "id": {"type": "integer"},
                "tags": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "null"}]}},
                "kind": {"type": "string", "const": "thing"},
                "extra": {"additionalProperties": {}, "type": "object"},
                "parent": {"oneOf": [{"$ref": "#/components/schemas/Thing"}, {"type": "null"}]},
            },
        },
        "Level": {"type": ["null", "string"], "enum": ["info", "warn", None]},
    }
    paths = {"/api/things/{id}": {"get": {"responses": {"200": {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Thing"}}}}}}}}  # fmt: skip
    text = typescript({"components": {"schemas": schemas}, "paths": paths})
    assert 'export type Level = "info" | "warn" | null;' in text
    assert (
        'export interface Thing {\n  id: number;\n  tags: (string | null)[];\n  kind: "thing";\n'
        "  extra: Record<string, unknown>;\n  parent?: Thing | null;\n}"
    ) in text
    assert 'export interface ApiGet {\n  "/api/things/{id}": Thing;\n}' in text
