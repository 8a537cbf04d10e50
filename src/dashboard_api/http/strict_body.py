"""JSON bodies decoded strictly, straight into their Struct: what the document forbids is refused.

Litestar decodes a body to Python values, then converts them to the handler's type with
msgspec in lax mode: `"5"` became an int, `0` a datetime (1970), `0` a boolean, none of which
the OpenAPI document allows (schemathesis: "schema-violating request accepted"). This DTO, set
with `dto=StrictBody[Model], return_dto=None`, decodes the bytes with msgspec's strict rules
and documents the body as `Model` itself.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from litestar.dto import AbstractDTO, DTOFieldDefinition
from litestar.exceptions import ValidationException
from litestar.typing import FieldDefinition

from dashboard_api.domain.json_input import JSON_DECODE_FAILURES, decode_json

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Reference, Schema


StructT = TypeVar("StructT", bound=msgspec.Struct)


class StrictBody(AbstractDTO[StructT]):
    """Decode a JSON body into the DTO's Struct type in msgspec's strict mode."""

    def decode_bytes(self, value: bytes) -> Any:
        try:
            return msgspec.json.decode(value, type=self.model_type)
        except msgspec.ValidationError as exc:
            raise _validation_failed(exc) from exc
        except JSON_DECODE_FAILURES:
            # Not JSON at all (or too deep, or not UTF-8): the one decoder says so (a 400).
            return decode_json(value, field="body")

    def decode_builtins(self, value: dict[str, Any]) -> Any:
        return msgspec.convert(value, type=self.model_type)

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        # No transfer models to build: msgspec decodes into the Struct itself.
        return None

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(cls.model_type))

    @classmethod
    def generate_field_definitions(
        cls, model_type: type[Any]
    ) -> Generator[DTOFieldDefinition, None, None]:
        yield from ()  # never asked: this DTO builds no transfer model

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False


def _validation_failed(exc: msgspec.ValidationError) -> ValidationException:
    # msgspec says "Expected `int`, got `str` - at `$.input_tokens`": name the field.
    message, _, path = str(exc).partition(" - at `$")
    field = path.rstrip("`").lstrip(".").split(".")[0].split("[")[0] or "body"  # "" is the root
    return ValidationException(
        detail=str(exc), extra=[{"key": field, "message": message, "source": "body"}]
    )
