"""DuckDB rows → response Structs, with stored JSON text sent as JSON, and how OpenAPI describes it.

Structs are built positionally from the rows DuckDB returns, in one place (`structs`), which first
checks that the SELECT's column names are the Struct's fields in order: a query and its Struct
cannot drift apart silently. A field annotated `Annotated[msgspec.Raw, JsonText(...)]` holds a JSON
text column; msgspec writes a Raw into the answer as it is, so stored JSON costs no parsing and no
re-encoding. `JsonText.of` is the type that JSON has, for the OpenAPI document (the `JsonTextSchema`
plugin); `trusted=False` marks text that is not always JSON (what an SDK sent as it sent it), which
is checked, and sent as a JSON string when it is not JSON.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from litestar.openapi.spec import Reference, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

if typing.TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

S = TypeVar("S", bound=msgspec.Struct)


@dataclass(frozen=True, slots=True)
class JsonText:
    """Marks a `msgspec.Raw` field filled from a JSON text column; see the module docstring."""

    of: Any
    trusted: bool = True


_raw = msgspec.json.Decoder(msgspec.Raw)
_encode = msgspec.json.encode


def trusted_json(text: str | None) -> msgspec.Raw | None:
    """JSON text our own encoder wrote, as it is (NULL and '' are null)."""
    return msgspec.Raw(text) if text else None


def checked_json(text: str | None) -> msgspec.Raw | None:
    """Text that may be JSON: as it is when it is (msgspec checks it without building objects),
    else as a JSON string; NULL and '' are null."""
    if not text:
        return None
    try:
        return _raw.decode(text)
    except msgspec.DecodeError:
        return msgspec.Raw(_encode(text))


def _json_text_of(annotation: Any) -> JsonText | None:
    """The JsonText mark of `Annotated[Raw, JsonText]`, also inside `... | None`."""
    if typing.get_origin(annotation) is typing.Annotated:
        return next((m for m in annotation.__metadata__ if isinstance(m, JsonText)), None)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return next((m for a in typing.get_args(annotation) if (m := _json_text_of(a))), None)
    return None


@functools.cache
def _builder(cls: type[S]) -> tuple[tuple[str, ...], Callable[[Sequence[Any]], S]]:
    """(the Struct's field names, a function building one from a row in that order)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    names: tuple[str, ...] = cls.__struct_fields__
    wraps = [
        (i, trusted_json if mark.trusted else checked_json)
        for i, name in enumerate(names)
        if (mark := _json_text_of(hints[name])) is not None
    ]
    if not wraps:
        return names, lambda row: cls(*row)

    def build(row: Sequence[Any]) -> S:
        values = list(row)
        for i, wrap in wraps:
            values[i] = wrap(values[i])
        return cls(*values)

    return names, build


def structs(cls: type[S], columns: Sequence[str], rows: Sequence[Sequence[Any]], skip: int = 0) -> list[S]:
    """`rows` as `cls` Structs; `columns` are the rows' column names, the first `skip` of them (and of
    each row) not part of the Struct (e.g. a sort key). The rest must be the Struct's fields, in order."""
    names, build = _builder(cls)
    if tuple(columns[skip:]) != names:
        raise TypeError(f"{cls.__name__} has fields {names}, the query gives {tuple(columns[skip:])}")
    if skip:
        return [build(row[skip:]) for row in rows]
    return [build(row) for row in rows]


class JsonTextSchema(OpenAPISchemaPlugin):
    """OpenAPI for JsonText fields: the schema of the type the JSON holds, not msgspec.Raw's `{}`."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return field_definition.annotation is msgspec.Raw and any(
            isinstance(m, JsonText) for m in field_definition.metadata
        )

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        mark = next(m for m in field_definition.metadata if isinstance(m, JsonText))
        schema = schema_creator.for_field_definition(FieldDefinition.from_annotation(mark.of))
        # JSON holding one Struct is a $ref; plugins return a Schema, which can hold one
        return Schema(all_of=[schema]) if isinstance(schema, Reference) else schema
