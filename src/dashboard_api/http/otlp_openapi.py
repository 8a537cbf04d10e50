"""What the document says of `POST /v1/traces`: its request body in both encodings and its
answers, through Litestar's `operation_class` hook (the handler reads the raw body, so Litestar
would document none).

The JSON body is OTLP's JSON mapping of `ExportTraceServiceRequest`
(opentelemetry-proto, `collector/trace/v1`): lowerCamelCase names, trace and span ids in hex,
int64 values as decimal strings (integers are taken too), enums as integers. Nested attribute
values (`arrayValue`, `kvlistValue`) are declared one level deep. As OTLP/HTTP requires, a
receiver ignores unknown fields and answers a request it can partly read with a 200 partial
success that counts the spans it rejected: only a body that is not such a request at all (not
an object, `resourceSpans` not a list, not protobuf, a bad `Content-Encoding`) is a 400.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)

from dashboard_api.http.otlp_wire import JSON, PROTOBUF

_STRING = Schema(type=OpenAPIType.STRING)
_BINARY = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
_COUNT = Schema(type=OpenAPIType.INTEGER, minimum=0)


def _hex(length: int, what: str) -> Schema:
    return Schema(
        type=OpenAPIType.STRING,
        pattern=f"^[0-9a-fA-F]{{{length}}}$",
        description=f"{what}: {length} hex digits (OTLP JSON, not base64)",
    )


def _int64(description: str) -> Schema:
    return Schema(
        one_of=[
            Schema(type=OpenAPIType.STRING, pattern=r"^[0-9]{1,20}$"),
            Schema(type=OpenAPIType.INTEGER, minimum=0),
        ],
        description=f"{description}; an int64, a decimal string in OTLP JSON",
    )


def _object(title: str, properties: dict[str, Schema | Reference], description: str = "") -> Schema:
    return Schema(
        type=OpenAPIType.OBJECT,
        title=title,
        properties=properties,
        description=description or None,
    )


def _array(items: Schema) -> Schema:
    return Schema(type=OpenAPIType.ARRAY, items=items)


_NESTED = Schema(
    type=OpenAPIType.OBJECT,
    properties={"values": _array(Schema(type=OpenAPIType.OBJECT))},
    description="Nested values (AnyValue, or KeyValue for kvlistValue)",
)
ANY_VALUE = _object(
    "AnyValue",
    {
        "stringValue": _STRING,
        "boolValue": Schema(type=OpenAPIType.BOOLEAN),
        "intValue": Schema(
            one_of=[
                Schema(type=OpenAPIType.STRING, pattern=r"^-?[0-9]{1,19}$"),
                Schema(type=OpenAPIType.INTEGER),
            ]
        ),
        "doubleValue": Schema(type=OpenAPIType.NUMBER),
        "arrayValue": _NESTED,
        "kvlistValue": _NESTED,
        "bytesValue": Schema(type=OpenAPIType.STRING, description="base64"),
    },
    "One of its fields is set",
)
KEY_VALUE = _object("KeyValue", {"key": _STRING, "value": ANY_VALUE})
_ATTRIBUTES = _array(KEY_VALUE)
SPAN = _object(
    "Span",
    {
        "traceId": _hex(32, "The trace"),
        "spanId": _hex(16, "The span"),
        "parentSpanId": Schema(
            type=OpenAPIType.STRING,
            pattern="^([0-9a-fA-F]{16})?$",
            description="The parent span (16 hex digits); empty or absent for a root span",
        ),
        "traceState": _STRING,
        "flags": _COUNT,
        "name": _STRING,
        "kind": Schema(type=OpenAPIType.INTEGER, minimum=0, maximum=5),
        "startTimeUnixNano": _int64("Start, nanoseconds since the Unix epoch"),
        "endTimeUnixNano": _int64("End, nanoseconds since the Unix epoch"),
        "attributes": _ATTRIBUTES,
        "droppedAttributesCount": _COUNT,
        "events": _array(
            _object(
                "SpanEvent",
                {
                    "timeUnixNano": _int64("When"),
                    "name": _STRING,
                    "attributes": _ATTRIBUTES,
                    "droppedAttributesCount": _COUNT,
                },
            )
        ),
        "droppedEventsCount": _COUNT,
        "links": _array(
            _object(
                "SpanLink",
                {
                    "traceId": _hex(32, "The linked trace"),
                    "spanId": _hex(16, "The linked span"),
                    "traceState": _STRING,
                    "attributes": _ATTRIBUTES,
                    "droppedAttributesCount": _COUNT,
                    "flags": _COUNT,
                },
            )
        ),
        "droppedLinksCount": _COUNT,
        "status": _object(
            "Status",
            {
                "code": Schema(
                    type=OpenAPIType.INTEGER,
                    minimum=0,
                    maximum=2,
                    description="0 unset, 1 ok, 2 error (the task fails)",
                ),
                "message": _STRING,
            },
        ),
    },
    "GenAI spans (`gen_ai.*` attributes) become usage, lifecycle and output of a task "
    "(docs/engines.md); a span without a valid trace and span id is rejected and counted",
)
EXPORT_TRACE_SERVICE_REQUEST = _object(
    "ExportTraceServiceRequest",
    {
        "resourceSpans": _array(
            _object(
                "ResourceSpans",
                {
                    "resource": _object(
                        "Resource",
                        {"attributes": _ATTRIBUTES, "droppedAttributesCount": _COUNT},
                        "`service.name` names the agent when no span does",
                    ),
                    "scopeSpans": _array(
                        _object(
                            "ScopeSpans",
                            {
                                "scope": _object(
                                    "InstrumentationScope",
                                    {
                                        "name": _STRING,
                                        "version": _STRING,
                                        "attributes": _ATTRIBUTES,
                                        "droppedAttributesCount": _COUNT,
                                    },
                                ),
                                "spans": _array(SPAN),
                                "schemaUrl": _STRING,
                            },
                        )
                    ),
                    "schemaUrl": _STRING,
                },
            )
        )
    },
    "OTLP/HTTP JSON; unknown fields are ignored",
)
EXPORT_TRACE_SERVICE_RESPONSE = _object(
    "ExportTraceServiceResponse",
    {
        "partialSuccess": _object(
            "ExportTracePartialSuccess",
            {
                "rejectedSpans": Schema(
                    type=OpenAPIType.INTEGER,
                    minimum=0,
                    description="Spans not applied (an invalid id or time, a refused change)",
                ),
                "errorMessage": _STRING,
            },
        )
    },
    "`{}` when every span was applied; else a partial success",
)

_RETRY_AFTER = {
    "Retry-After": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.INTEGER, minimum=0),
        description="Seconds to wait: OTLP exporters retry a 429 or 503 after it",
        required=True,
    )
}
_DESCRIPTIONS = {
    "200": "Accepted. `{}` (an empty message in protobuf) when every span was applied; a "
    "partial success counts the spans rejected and says why. Answered in the request's "
    "encoding.",
    "400": "Not an OTLP trace request: not a JSON object, `resourceSpans` not a list, not "
    "protobuf; a `Content-Encoding` other than gzip, deflate or identity, a body that does "
    "not inflate with it, or that inflates to more than 32 MiB.",
    "413": "The body as sent is larger than `DASHBOARD_MAX_BODY_BYTES`.",
    "415": "`Content-Type` is neither `application/json` nor `application/x-protobuf`.",
    "429": "Too many exports at once, or the ingest rate limit: retry after `Retry-After`.",
    "503": "The database or event bus is unavailable: retry after `Retry-After`.",
}


@dataclass
class ExportTracesOperation(Operation):
    """`POST /v1/traces` as the receiver serves it (module docstring)."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="An OTLP ExportTraceServiceRequest, optionally gzip- or "
            "deflate-compressed (`Content-Encoding`).",
            content={
                JSON: OpenAPIMediaType(schema=EXPORT_TRACE_SERVICE_REQUEST),
                PROTOBUF: OpenAPIMediaType(schema=_BINARY),
            },
        )
        for status, answer in (self.responses or {}).items():
            if not isinstance(answer, OpenAPIResponse):
                continue
            answer.description = _DESCRIPTIONS.get(status, answer.description)
            if status == "200":
                answer.content = {
                    JSON: OpenAPIMediaType(schema=EXPORT_TRACE_SERVICE_RESPONSE),
                    PROTOBUF: OpenAPIMediaType(schema=_BINARY),
                }
            if status in ("429", "503"):
                answer.headers = dict(_RETRY_AFTER)
