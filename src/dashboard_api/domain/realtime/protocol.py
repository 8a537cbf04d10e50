"""The `/ws` protocol (SPEC §6): what a client may send, and the frames the server answers."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import msgspec

from dashboard_api.domain.json_input import JSON_DECODE_FAILURES, failure_reason
from dashboard_api.domain.limits import is_id
from dashboard_api.domain.model.channels import CLIENT_CHANNELS, SCOPED_KINDS
from dashboard_api.domain.realtime.event_ids import is_event_id


def is_channel(name: str) -> bool:
    """Whether a client may subscribe to `name`."""
    if name in CLIENT_CHANNELS:
        return True
    kind, separator, scope = name.partition(":")
    return bool(separator) and kind in SCOPED_KINDS and is_id(scope)  # the REST API's ids


class ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    INVALID_FRAME = "invalid_frame"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_CHANNEL = "missing_channel"
    UNKNOWN_CHANNEL = "unknown_channel"
    INVALID_SINCE = "invalid_since"
    BINARY_FRAME = "binary_frame"
    FRAME_TOO_LARGE = "frame_too_large"
    TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"
    BUS_UNAVAILABLE = "bus_unavailable"
    INTERNAL_ERROR = "internal_error"


class FrameError(Exception):
    """A client frame the server refuses; answered with an `error` frame, the socket stays."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ClientFrame(msgspec.Struct, kw_only=True, frozen=True):
    type: str
    channel: str | None = None
    since: str | None = None
    # The history epoch the client saw with `since`: a different one means history was lost.
    epoch: Annotated[str, msgspec.Meta(max_length=64)] | None = None


_decoder = msgspec.json.Decoder(ClientFrame)
_KNOWN_TYPES = frozenset({"subscribe", "unsubscribe", "ping"})


def parse_frame(text: str) -> ClientFrame:
    """Decode and check one client frame, or raise `FrameError` saying what is wrong."""
    try:
        frame = _decoder.decode(text)
    except msgspec.ValidationError as exc:
        raise FrameError(ErrorCode.INVALID_FRAME, f"invalid frame: {exc}") from exc
    except JSON_DECODE_FAILURES as exc:  # RecursionError too: a frame nested too deeply
        raise FrameError(
            ErrorCode.INVALID_JSON, f"a frame is one JSON object: {failure_reason(exc)}"
        ) from exc
    if frame.type not in _KNOWN_TYPES:
        raise FrameError(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown type {frame.type[:64]!r}: expected subscribe, unsubscribe or ping",
        )
    if frame.type == "ping":
        return frame
    if not frame.channel:
        raise FrameError(ErrorCode.MISSING_CHANNEL, f"{frame.type} needs a channel")
    if not is_channel(frame.channel):
        raise FrameError(
            ErrorCode.UNKNOWN_CHANNEL,
            "channels are task:{id}, tasks, conversation:{id} and webhooks",
        )
    if frame.since is not None and not is_event_id(frame.since):
        raise FrameError(
            ErrorCode.INVALID_SINCE,
            "since is an event id such as 1700000000000-0 (two numbers below 2^64)",
        )
    return frame


def error_frame(code: ErrorCode, message: str) -> str:
    return msgspec.json.encode({"type": "error", "code": code.value, "message": message}).decode()


def reply_frame(kind: str, channel: str | None = None) -> str:
    body: dict[str, str] = {"type": kind}
    if channel is not None:
        body["channel"] = channel
    return msgspec.json.encode(body).decode()


PONG = reply_frame("pong")


def subscribed_frame(channel: str, recovered: bool, epoch: str) -> str:
    """`subscribed`: whether everything after the client's `since` was replayed (always true
    without `since`) and the channel's history epoch, which changes when history is lost."""
    body = {"type": "subscribed", "channel": channel, "recovered": recovered, "epoch": epoch}
    return msgspec.json.encode(body).decode()


def event_frame(channel_prefix: bytes, message: bytes) -> str:
    """A bus message as a client frame: the channel spliced in as the object's first member."""
    return (channel_prefix + message[1:]).decode()


def channel_prefix(channel: str) -> bytes:
    return b'{"channel":' + msgspec.json.encode(channel) + b","


def is_event_object(message: bytes) -> bool:
    """A raw publish is forwarded only when it is a JSON object with a string `type`."""
    try:
        decoded = msgspec.json.decode(message)
    except JSON_DECODE_FAILURES:
        return False
    return isinstance(decoded, dict) and isinstance(decoded.get("type"), str) and bool(decoded)
