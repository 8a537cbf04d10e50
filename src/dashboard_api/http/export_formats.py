"""Rows of an export as CSV or NDJSON bytes, one chunk per keyset page.

NDJSON lines are the REST list items exactly (money as numbers, UTC times with `Z`). CSV cells
are the same values as text, empty for null; a text cell a spreadsheet would run as a formula
(starting with = + - @ or a tab/CR) gets a leading apostrophe, as OWASP advises.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any

import msgspec

_NDJSON = msgspec.json.Encoder(decimal_format="number")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"

    @property
    def media_type(self) -> str:
        return "text/csv; charset=utf-8" if self is ExportFormat.CSV else "application/x-ndjson"


def csv_cell(value: Any) -> str:
    """One CSV cell: what `msgspec.to_builtins` makes of a field, as text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)


async def render(
    chunks: AsyncIterator[list[Any]], columns: tuple[str, ...], fmt: ExportFormat
) -> AsyncIterator[bytes]:
    """Encode each page of Structs as it arrives; CSV starts with its header row."""
    if fmt is ExportFormat.CSV:
        yield _csv_rows([list(columns)])
    async for rows in chunks:
        if fmt is ExportFormat.NDJSON:
            buffer = bytearray()
            for row in rows:
                _NDJSON.encode_into(row, buffer, -1)
                buffer += b"\n"
            yield bytes(buffer)
        else:
            cells = []
            for row in rows:
                values = msgspec.to_builtins(row)
                cells.append([csv_cell(values.get(column)) for column in columns])
            yield _csv_rows(cells)


def _csv_rows(rows: list[list[Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerows(rows)
    return text.getvalue().encode()
