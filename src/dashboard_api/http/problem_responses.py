"""The error answers each route declares in the OpenAPI document, all RFC 9457 problem details.

`ProblemDetails` describes what http/problems.py serves; a route lists the statuses it can
answer with `responses=errors(...)` (or the `READ_ERRORS` / `WRITE_ERRORS` shorthands), which
replaces Litestar's default `{status_code, detail, extra}` schema for 400.
"""

from __future__ import annotations

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from msgspec import UNSET, UnsetType

from dashboard_api.http.problems import PROBLEM_MEDIA_TYPE


class FieldError(msgspec.Struct, kw_only=True):
    """One input that failed validation."""

    message: str
    field: str | None = None
    source: str | None = None  # where the field was: body, query, path or header


class ProblemDetails(msgspec.Struct, kw_only=True):
    """An error (RFC 9457). `type` is stable per kind of error: branch on it, not on `title`.

    Extension members that an error of that kind carries (`field`, `errors`, `current_status`,
    ...) are declared; others may appear, as RFC 9457 allows."""

    type: str
    title: str
    status: int
    instance: str
    detail: str | UnsetType = UNSET
    errors: list[FieldError] | UnsetType = UNSET
    field: str | UnsetType = UNSET
    current_status: str | UnsetType = UNSET
    requested_status: str | UnsetType = UNSET


# Why each status is answered, as the document says it.
_DESCRIPTIONS = {
    400: "The request is malformed: a value of the wrong type or shape (`errors` names each).",
    401: "No valid bearer token (only when the service has tokens configured).",
    403: "The token lacks the scope this route needs (read, write or ingest), or the request's "
    "Origin is not allowed.",
    404: "No such resource.",
    409: "The change conflicts with the current state (`current_status` when it is a status).",
    413: "The body is larger than the configured limit.",
    415: "The body is not JSON (send `Content-Type: application/json`).",
    422: "The request is well-formed but breaks a rule (`field` names the input).",
    429: "Rate limit reached: retry after `Retry-After` seconds.",
    503: "A backing service (database or event bus) is unavailable: retry after `Retry-After`.",
}


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """The problem answers of a route, one per status, in the order of the codes."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            description=_DESCRIPTIONS[status],
            media_type=PROBLEM_MEDIA_TYPE,
            # Generated examples would be random: the committed document must be stable.
            generate_examples=False,
        )
        for status in sorted(set(statuses))
    }


# Every route behind the token guard, the rate limiter and a backing service.
GUARDED = (401, 403, 429, 503)
# A route that takes query or path parameters.
READ_ERRORS = (400, 422, *GUARDED)
# A route that takes a JSON body: it can also be too large or not JSON.
WRITE_ERRORS = (400, 413, 415, 422, *GUARDED)
