"""Every error becomes an RFC 9457 problem details answer with a stable `type`, mapped here once."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import ExceptionHandlersMap

from dashboard_api.bootstrap.failures import is_unavailable, is_unstorable_text
from dashboard_api.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    MalformedInput,
    NotFound,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 2
TYPE_BASE = "https://dashboard-api.dev/problems/"

_log = structlog.get_logger("dashboard_api.http")

# First match wins: MalformedInput is an InvalidInput that is a 400, not a 422.
_DOMAIN_STATUS: dict[type[DomainError], int] = {
    MalformedInput: HTTP_400_BAD_REQUEST,
    NotFound: HTTP_404_NOT_FOUND,
    Conflict: HTTP_409_CONFLICT,
    InvalidInput: HTTP_422_UNPROCESSABLE_ENTITY,
}

_HTTP_TYPES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "request-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
    503: "service-unavailable",
}


def problem(
    request: Request[Any, Any, Any],
    *,
    status: int,
    type_: str,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + type_,
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    if extra:
        body.update({key: value for key, value in extra.items() if value is not None})
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    status = next(
        (code for kind, code in _DOMAIN_STATUS.items() if isinstance(exc, kind)),
        HTTP_400_BAD_REQUEST,
    )
    title = {400: "Bad request", 404: "Not found", 409: "Conflict"}.get(status, "Invalid input")
    return problem(
        request, status=status, type_=exc.code, title=title, detail=exc.message, extra=exc.context
    )


def _validation_error(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    errors = exc.extra if isinstance(exc.extra, list) else None
    return problem(
        request,
        status=HTTP_400_BAD_REQUEST,
        type_="validation-failed",
        title="Validation failed",
        detail=_first_message(errors) or exc.detail,
        extra={"errors": [_field_error(error) for error in errors]} if errors else None,
    )


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return problem(
        request,
        status=status,
        type_=_HTTP_TYPES.get(status, "http-error"),
        title=title,
        detail=exc.detail if exc.detail and exc.detail != title else None,
        headers=exc.headers,
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # Whatever the exception's own class, what it wraps decides: a lost database or Redis is
    # a 503 (wrapped or not, on the SQLAlchemy or the native path), text PostgreSQL cannot
    # store is the client's 422; anything else is a bug of ours, logged with the stack.
    if is_unavailable(exc):
        return _unavailable(request, exc)
    if is_unstorable_text(exc):
        return problem(
            request,
            status=HTTP_422_UNPROCESSABLE_ENTITY,
            type_="invalid-input",
            title="Invalid input",
            detail="text contains a character that cannot be stored (NUL)",
        )
    _log.exception("unhandled error", path=request.url.path, error=type(exc).__name__)
    return problem(
        request,
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        type_="internal-error",
        title="Internal server error",
    )


def _unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # The database or Redis is unreachable or saturated: an outage to retry, not a defect.
    _log.warning("backing service unavailable", path=request.url.path, error=repr(exc)[:300])
    return problem(
        request,
        status=HTTP_503_SERVICE_UNAVAILABLE,
        type_="service-unavailable",
        title="Service unavailable",
        detail="a backing service (database or event bus) is unreachable or busy; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _field_error(error: Any) -> dict[str, Any]:
    if not isinstance(error, dict):
        return {"message": str(error)}
    return {
        "field": error.get("key"),
        "source": error.get("source"),
        "message": error.get("message"),
    }


def _first_message(errors: list[Any] | None) -> str | None:
    if not errors or not isinstance(errors[0], dict):
        return None
    first = errors[0]
    key = first.get("key")
    message = first.get("message")
    return f"{key}: {message}" if key else str(message)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: _domain_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
