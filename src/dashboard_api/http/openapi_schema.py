"""How Python types become OpenAPI schemas where Litestar's defaults would not tell the truth.

Two schema plugins, consulted by Litestar before its own:
- money (`Decimal`) is a JSON `number`: http/encoding.py writes it as one, while Litestar
  declares Decimal a `string` (what msgspec writes by default);
- a request body that refuses unknown properties (`forbid_unknown_fields=True`) says so with
  `additionalProperties: false`, so a client generator and a fuzzer know it;
- a bound of 0 (`Meta(ge=0)`) is declared: Litestar drops falsy bounds;
- a money default is a number, as the value it describes.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

# Litestar exports no public base for its msgspec schema plugin; extending it keeps every
# other rule it applies (required fields, aliases, tagged unions). Pinned: litestar 2.25.
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition


class MoneyAsNumber(OpenAPISchemaPlugin):
    """`Decimal` fields are exact amounts written as JSON numbers (`decimal_format="number"`)."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return field_definition.is_subclass_of(Decimal)

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = Schema(type=OpenAPIType.NUMBER)
        # Bounds given with a KwargDefinition, 0 included (Litestar would drop a falsy one).
        for attr, name in _BOUNDS.items():
            value = getattr(field_definition.kwarg_definition, attr, None)
            if value is not None:
                setattr(schema, name, value)
        return schema


class ClosedStructs(StructSchemaPlugin):
    """Request bodies (Structs that refuse unknown fields) declare `additionalProperties:
    false`; response bodies declare every field msgspec always writes as required."""

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if not isinstance(info, msgspec.inspect.StructType):
            return schema
        request = info.forbid_unknown_fields  # every request body of this API refuses them
        if request:
            schema.additional_properties = False
        elif not info.cls.__struct_config__.omit_defaults:
            # A field with a default is still always written: a client may rely on it.
            schema.required = sorted(
                field.encode_name for field in info.fields if not _omitted_when_unset(field)
            )
        for field in info.fields:
            prop = (schema.properties or {}).get(field.encode_name)
            if not isinstance(prop, Schema):
                continue
            if isinstance(prop.default, Decimal):
                prop.default = float(prop.default)
            if request and prop.default is not None:
                # Generators (openapi-typescript) make a property with a default mandatory in
                # the request type, while the server fills it in: say the default in words.
                said = f"Default: `{json.dumps(prop.default)}`."
                prop.description = f"{prop.description} {said}" if prop.description else said
                prop.default = None
            for bound, value in _zero_bounds(field.type).items():
                setattr(prop, bound, value)
        return schema


def _omitted_when_unset(field: msgspec.inspect.Field) -> bool:
    # msgspec.inspect shows a field defaulting to UNSET as optional with no default.
    return not field.required and field.default is field.default_factory is msgspec.NODEFAULT


_BOUNDS = {"ge": "minimum", "gt": "exclusive_minimum", "le": "maximum", "lt": "exclusive_maximum"}


def _zero_bounds(kind: msgspec.inspect.Type) -> dict[str, int]:
    """The numeric bounds of a field that are 0, found through `| None` and `| UNSET`."""
    if isinstance(kind, msgspec.inspect.UnionType):
        numbers = [
            t
            for t in kind.types
            if isinstance(t, msgspec.inspect.IntType | msgspec.inspect.FloatType)
        ]
        kind = numbers[0] if len(numbers) == 1 else kind
    if not isinstance(kind, msgspec.inspect.IntType | msgspec.inspect.FloatType):
        return {}
    return {name: 0 for attr, name in _BOUNDS.items() if getattr(kind, attr) == 0}


SCHEMA_PLUGINS = (MoneyAsNumber(), ClosedStructs())
