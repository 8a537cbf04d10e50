"""Client frames of the `/ws` protocol: what is accepted and how each mistake is named."""

from __future__ import annotations

import pytest

from dashboard_api.domain.realtime.protocol import ErrorCode, FrameError, parse_frame


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", ErrorCode.INVALID_JSON),
        ("[1, 2]", ErrorCode.INVALID_FRAME),
        ('{"channel": "tasks"}', ErrorCode.INVALID_FRAME),
        ('{"type": 5}', ErrorCode.INVALID_FRAME),
        ('{"type": "shout"}', ErrorCode.UNKNOWN_TYPE),
        ('{"type": "subscribe"}', ErrorCode.MISSING_CHANNEL),
        ('{"type": "unsubscribe", "channel": ""}', ErrorCode.MISSING_CHANNEL),
        ('{"type": "subscribe", "channel": "secrets"}', ErrorCode.UNKNOWN_CHANNEL),
        ('{"type": "subscribe", "channel": "task:"}', ErrorCode.UNKNOWN_CHANNEL),
        ('{"type": "subscribe", "channel": "task:a b"}', ErrorCode.UNKNOWN_CHANNEL),
        ('{"type": "subscribe", "channel": "task:a/b"}', ErrorCode.UNKNOWN_CHANNEL),
        (
            '{"type": "subscribe", "channel": "conversation:' + "c" * 129 + '"}',
            ErrorCode.UNKNOWN_CHANNEL,
        ),
        # Nested too deeply for the decoder (RecursionError): bad JSON, the connection stays.
        ('{"type": "ping", "x": ' + "[" * 5000 + "]" * 5000 + "}", ErrorCode.INVALID_JSON),
        (
            '{"type": "subscribe", "channel": "tasks", "since": "yesterday"}',
            ErrorCode.INVALID_SINCE,
        ),
        (
            '{"type": "subscribe", "channel": "tasks", "since": "18446744073709551616-0"}',
            ErrorCode.INVALID_SINCE,
        ),
        ('{"type": "ping", "since": 1e999}', ErrorCode.INVALID_FRAME),
        ('{"type": "\\udc80"}', ErrorCode.INVALID_JSON),
        ('{"type": "subscribe", "channel": "tasks", "epoch": 7}', ErrorCode.INVALID_FRAME),
    ],
)
def test_a_bad_frame_is_refused_with_its_reason(text: str, code: ErrorCode) -> None:
    with pytest.raises(FrameError) as refused:
        parse_frame(text)
    assert refused.value.code is code


@pytest.mark.parametrize(
    "channel", ["tasks", "webhooks", "task:0193-abc", "conversation:c1", "task:repo.issue@12"]
)
def test_every_channel_kind_is_accepted(channel: str) -> None:
    frame = parse_frame(f'{{"type": "subscribe", "channel": "{channel}", "since": "12-0"}}')
    assert (frame.channel, frame.since) == (channel, "12-0")


def test_ping_needs_nothing_else() -> None:
    assert parse_frame('{"type": "ping"}').type == "ping"


def test_the_largest_stream_id_is_a_valid_since() -> None:
    largest = f"{2**64 - 1}-{2**64 - 1}"
    assert parse_frame(f'{{"type": "subscribe", "channel": "tasks", "since": "{largest}"}}').since
