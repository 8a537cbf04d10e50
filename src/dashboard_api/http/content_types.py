"""Success answers served in more than one content type, as the document should say.

Litestar documents a handler's 200 with one media type (its `media_type`, JSON by default),
while an export answers CSV or NDJSON (the `format` parameter picks) and the OTLP receiver
answers in the request's encoding. Litestar's `operation_class` hook is where a route says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema


def answered_as(description: str, *media_types: str) -> type[Operation]:
    """An `operation_class` whose success answer lists `media_types`, each a byte string."""

    @dataclass
    class AnsweredAs(Operation):
        def __post_init__(self) -> None:
            for status, answer in (self.responses or {}).items():
                if status.startswith("2") and isinstance(answer, OpenAPIResponse):
                    answer.description = description
                    answer.content = {
                        media_type: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
                        for media_type in media_types
                    }

    return AnsweredAs
