"""`POST /v1/traces`: OTLP/HTTP trace export from agents instrumented with OpenTelemetry."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, TooManyRequestsException
from litestar.params import HeaderParameter
from litestar.status_codes import HTTP_200_OK, HTTP_415_UNSUPPORTED_MEDIA_TYPE

from dashboard_api.http.auth import INGEST
from dashboard_api.http.browser import BODY_MEDIA_TYPES
from dashboard_api.http.otlp import OtlpReceiver
from dashboard_api.http.otlp_openapi import ExportTracesOperation
from dashboard_api.http.otlp_wire import (
    JSON,
    PROTOBUF,
    MalformedRequest,
    decode,
    encode_response,
    inflate,
)
from dashboard_api.http.problem_responses import GUARDED, errors

RETRY_AFTER_SECONDS = 1


@post(
    "/v1/traces",
    # Protobuf bodies too: the browser rules (http/browser.py) take this media type here.
    opt={**INGEST, BODY_MEDIA_TYPES: (PROTOBUF,)},
    status_code=HTTP_200_OK,
    tags=["ingest"],
    operation_id="exportTraces",
    summary="OTLP/HTTP trace export (JSON or protobuf, gzip): GenAI spans become tasks",
    responses=errors(400, 413, 415, *GUARDED),
    # The body in both encodings, answers in the request's, Retry-After (http/otlp_openapi.py).
    operation_class=ExportTracesOperation,
)
async def export_traces(
    request: Request[Any, Any, Any],
    otlp_receiver: NamedDependency[OtlpReceiver],
    content_encoding: Annotated[
        Literal["gzip", "deflate", "identity"] | None,
        HeaderParameter(name="content-encoding"),
    ] = None,
) -> Response[bytes]:
    # Read here, not declared: the request body's media types say it (a Content-Type
    # parameter is ignored by OpenAPI). Any case; parameters such as charset are ignored.
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in (JSON, PROTOBUF):
        # OTLP/HTTP: a server answers an unsupported Content-Type with 415.
        raise ClientException(
            detail=f"Content-Type must be {PROTOBUF} or {JSON}",
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        )
    try:
        decoded = decode(inflate(await request.body(), content_encoding), media)
    except MalformedRequest as exc:
        raise ClientException(detail=str(exc)) from exc
    if not otlp_receiver.try_enter():
        raise TooManyRequestsException(
            detail="too many trace exports at once; retry",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    try:
        result = await otlp_receiver.ingest.export(decoded.spans)
    finally:
        otlp_receiver.leave()
    errors = [*decoded.errors, result.error_message] if result.error_message else decoded.errors
    body = encode_response(media, decoded.rejected + result.rejected_spans, "; ".join(errors))
    return Response(body, media_type=media)
