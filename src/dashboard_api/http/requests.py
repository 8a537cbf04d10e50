"""The request class of the app: its JSON body goes through the service's one JSON decoder."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.types import Empty

from dashboard_api.domain.json_input import decode_json


class JsonRequest(Request[Any, Any, Any]):
    """Litestar decodes a body with msgspec and turns only `msgspec.DecodeError` into a 400:
    a body nested too deeply (RecursionError) or not UTF-8 (UnicodeDecodeError) would be a
    500. Here every decoding failure is a 400 problem naming `body`."""

    async def json(self) -> Any:
        if self._json is Empty:
            if (decoded := self._connection_state.json) is Empty:
                decoded = decode_json(await self.body() or b"null", field="body")
                self._connection_state.json = decoded
            self._json = decoded
        return self._json
