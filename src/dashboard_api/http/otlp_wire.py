"""OTLP/HTTP trace requests and responses on the wire: protobuf (the official generated
classes of `opentelemetry-proto`) and JSON (OTLP's own mapping: hex ids, int64 values as
decimal strings, integer enums, unknown fields ignored), both read into `otel_spans.Span`."""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from dashboard_api.domain.errors import MalformedInput
from dashboard_api.domain.json_input import decode_json
from dashboard_api.domain.model.otel_spans import AttributeValue, Span

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_INFLATED_BYTES = 32 * 1024 * 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MalformedRequest(ValueError):
    """The body is not an OTLP trace export request: a 400, nothing applied."""


class Decoded(msgspec.Struct, kw_only=True):
    spans: list[Span]
    rejected: int  # spans whose ids or times cannot be read
    errors: list[str]


def inflate(body: bytes, encoding: str | None) -> bytes:
    """The body without its `Content-Encoding` (gzip, deflate or none), bounded in size."""
    if not encoding or encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise MalformedRequest(f"unsupported Content-Encoding {encoding[:32]!r}")
    wbits = 31 if encoding == "gzip" else 15
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, MAX_INFLATED_BYTES)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise MalformedRequest(f"the body is not valid {encoding}: {exc}") from exc
    if inflater.unconsumed_tail:
        raise MalformedRequest(f"the inflated body is larger than {MAX_INFLATED_BYTES} bytes")
    return data


def decode(body: bytes, content_type: str) -> Decoded:
    if content_type == PROTOBUF:
        return _from_protobuf(body)
    if content_type == JSON:
        return _from_json(body)
    raise MalformedRequest(f"Content-Type must be {PROTOBUF} or {JSON}")


def encode_response(content_type: str, rejected: int, message: str) -> bytes:
    """OTLP's answer: empty on full success, else a partial success with the count."""
    if content_type == PROTOBUF:
        response = ExportTraceServiceResponse()
        if rejected or message:
            response.partial_success.CopyFrom(
                ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
            )
        serialized: bytes = response.SerializeToString()
        return serialized
    if not rejected and not message:
        return b"{}"
    partial = {"partialSuccess": {"rejectedSpans": rejected, "errorMessage": message}}
    return msgspec.json.encode(partial)


# -- protobuf -------------------------------------------------------------------------------


def _from_protobuf(body: bytes) -> Decoded:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise MalformedRequest(f"not an OTLP protobuf trace request: {exc}") from exc
    out = Decoded(spans=[], rejected=0, errors=[])
    for resource_spans in request.resource_spans:
        resource = _pb_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                trace_id, span_id = span.trace_id.hex(), span.span_id.hex()
                if len(trace_id) != 32 or len(span_id) != 16 or not int(trace_id, 16):
                    _refuse(out, "a span without a valid trace and span id")
                    continue
                out.spans.append(
                    Span(
                        trace_id=trace_id,
                        span_id=span_id,
                        parent_span_id=span.parent_span_id.hex() or None,
                        name=span.name[:256],
                        start=_time(span.start_time_unix_nano),
                        end=_time(span.end_time_unix_nano) if span.end_time_unix_nano else None,
                        attributes=_pb_attributes(span.attributes),
                        resource=resource,
                        status_code=span.status.code,
                        status_message=span.status.message[:1000],
                    )
                )
    return out


def _pb_attributes(pairs: Any) -> dict[str, AttributeValue]:
    return {pair.key: _pb_value(pair.value) for pair in pairs}


def _pb_value(value: AnyValue) -> AttributeValue:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_pb_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        items: list[KeyValue] = list(value.kvlist_value.values)
        return {item.key: _pb_value(item.value) for item in items}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if kind is None:
        return None
    result: AttributeValue = getattr(value, kind)
    return result


# -- JSON -----------------------------------------------------------------------------------


def _from_json(body: bytes) -> Decoded:
    try:
        request = decode_json(body, field="body")
    except MalformedInput as exc:
        raise MalformedRequest(exc.message) from exc
    if not isinstance(request, dict):
        raise MalformedRequest("an OTLP request is a JSON object")
    out = Decoded(spans=[], rejected=0, errors=[])
    for resource_spans in _list(request, "resourceSpans"):
        resource = _json_attributes(_object(resource_spans, "resource").get("attributes"))
        for scope_spans in _list(resource_spans, "scopeSpans"):
            for span in _list(scope_spans, "spans"):
                parsed = _json_span(span, resource)
                if isinstance(parsed, str):
                    _refuse(out, parsed)
                else:
                    out.spans.append(parsed)
    return out


def _json_span(span: dict[str, Any], resource: dict[str, AttributeValue]) -> Span | str:
    trace_id, span_id = span.get("traceId"), span.get("spanId")
    if not (_hex(trace_id, 32) and _hex(span_id, 16)):
        return "a span without a valid hex trace and span id"
    parent = span.get("parentSpanId") or None
    if parent is not None and not _hex(parent, 16):
        return "a span with an invalid parent span id"
    try:
        start = _time(int(span.get("startTimeUnixNano", 0)))
        end_nanos = int(span.get("endTimeUnixNano", 0) or 0)
        end = _time(end_nanos) if end_nanos else None
    except (TypeError, ValueError, OverflowError):  # 1e300 overflowed a datetime: was a 500
        return f"span {str(span_id)[:16]}: times are not integers in range"
    status = span.get("status") if isinstance(span.get("status"), dict) else {}
    code = status.get("code", 0) if isinstance(status, dict) else 0
    message = status.get("message", "") if isinstance(status, dict) else ""
    return Span(
        trace_id=str(trace_id).lower(),
        span_id=str(span_id).lower(),
        parent_span_id=str(parent).lower() if parent else None,
        name=str(span.get("name", ""))[:256],
        start=start,
        end=end,
        attributes=_json_attributes(span.get("attributes")),
        resource=resource,
        status_code=code if isinstance(code, int) else 0,
        status_message=str(message)[:1000],
    )


def _json_attributes(pairs: Any, depth: int = 0) -> dict[str, AttributeValue]:
    if not isinstance(pairs, list):
        return {}
    return {
        pair["key"]: _json_value(pair.get("value"), depth)
        for pair in pairs
        if isinstance(pair, dict) and isinstance(pair.get("key"), str)
    }


MAX_VALUE_DEPTH = 32


def _json_value(value: Any, depth: int = 0) -> AttributeValue:
    if not isinstance(value, dict) or depth > MAX_VALUE_DEPTH:
        return None
    if "stringValue" in value:
        return str(value["stringValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:  # int64: a decimal string in OTLP JSON, a number from some
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    if "doubleValue" in value:
        try:
            return float(value["doubleValue"])
        except (TypeError, ValueError):
            return None
    if "arrayValue" in value:
        array = value["arrayValue"]
        items = array.get("values", []) if isinstance(array, dict) else []
        if not isinstance(items, list):
            return None
        return [_json_value(item, depth + 1) for item in items]
    if "kvlistValue" in value and isinstance(value["kvlistValue"], dict):
        return _json_attributes(value["kvlistValue"].get("values"), depth + 1)
    if "bytesValue" in value:
        return str(value["bytesValue"])
    return None


def _list(parent: Any, key: str) -> list[Any]:
    value = parent.get(key, []) if isinstance(parent, dict) else []
    if not isinstance(value, list):
        raise MalformedRequest(f"{key} is not a list")
    return [item for item in value if isinstance(item, dict)]


def _object(parent: Any, key: str) -> dict[str, Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def _hex(value: Any, length: int) -> bool:
    if not isinstance(value, str) or len(value) != length:
        return False
    try:
        return int(value, 16) != 0
    except ValueError:
        return False


def _time(nanos: int) -> datetime:
    return _EPOCH + timedelta(microseconds=max(nanos, 0) // 1000)


def _refuse(out: Decoded, reason: str) -> None:
    out.rejected += 1
    if len(out.errors) < 10:
        out.errors.append(reason)
