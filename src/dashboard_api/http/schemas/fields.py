"""Field types that bodies of several features share."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from dashboard_api.domain.limits import Id

# Ids, names and labels: sizes and patterns from domain/limits.py, which the tables use too.
TaskId = Id
LongText = Annotated[str, Meta(max_length=1_000_000)]
ShortText = Annotated[str, Meta(max_length=10_000)]
Tokens = Annotated[int, Meta(ge=0, le=10**12)]
