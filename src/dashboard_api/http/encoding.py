"""JSON rendering: money (Decimal) goes out as a JSON number, exactly as stored.

Litestar hands Decimal to msgspec, which writes it as a string by default; the contract says
money is a number. One cached encoder also skips building an encoder per response.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response
from litestar.serialization import default_serializer
from litestar.types import Serializer

_ENCODER = msgspec.json.Encoder(enc_hook=default_serializer, decimal_format="number")


class JSONResponse(Response[Any]):
    def render(
        self, content: Any, media_type: str, enc_hook: Serializer = default_serializer
    ) -> bytes:
        if media_type == "application/json" and not isinstance(content, bytes | str):
            return _ENCODER.encode(content)
        return super().render(content, media_type, enc_hook)


def encode_json(content: Any) -> bytes:
    """The body `JSONResponse` renders for `content`."""
    return _ENCODER.encode(content)
