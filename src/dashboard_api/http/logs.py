"""One log pipeline: structlog's lines, the standard library's and uvicorn's, in one format,
with the request id of the request that wrote them, and no secret in any of them.

structlog's own lines keep the fast path (a bound logger printing to stdout); standard-library
records (uvicorn, websockets, asyncio, SQLAlchemy, ...) go through a root handler whose
`ProcessorFormatter` runs the same processors and renderer, so both kinds of line look alike.
Every line passes `redact` last, before rendering: a query parameter that carries a credential
(`?token=`, `?ticket=`), a bearer credential and each configured API secret become `[redacted]`,
whichever library wrote the line.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import unquote, urlsplit

import structlog
from structlog.typing import Processor

from dashboard_api.settings import Settings

REDACTED = "[redacted]"
# Query parameters that carry credentials, and `Bearer <credential>` (an Authorization header
# printed by a library at debug level). Values end at what ends a URL parameter or a header.
_CREDENTIALS = re.compile(
    r"(?i)((?:[?&;](?:token|ticket|access_token|api_key|apikey|secret|password)=)|\bbearer\s+)"
    r"[^&\s\"'#<>;,]+"
)
_LOGGERS_WE_FORMAT = ("uvicorn", "uvicorn.error", "uvicorn.asgi", "websockets")


class Redactor:
    """The structlog processor that scrubs credentials from every string value of a line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({secret for secret in secrets if secret}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _CREDENTIALS.sub(lambda found: found.group(1) + REDACTED, text)

    def __call__(
        self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in event_dict.items():
            if isinstance(value, str):
                event_dict[key] = self.scrub(value)
        return event_dict


def configured_secrets(settings: Settings) -> list[str]:
    """The API secrets of `DASHBOARD_API_TOKENS` (the third field of each entry) and the
    passwords in the database and Redis URLs (an error message may quote a URL)."""
    secrets = []
    for entry in settings.api_tokens.split(","):
        _name, _, rest = entry.strip().partition(":")
        _scopes, _, secret = rest.partition(":")
        if secret:
            secrets.append(secret)
    for url in (settings.database_url, settings.redis_url):
        try:
            password = urlsplit(url or "").password
        except ValueError:  # a malformed URL fails elsewhere, with its setting's name
            password = None
        if password:
            secrets += [password, unquote(password)]
    return secrets


def configure_logging(settings: Settings) -> None:
    """Send structlog and standard-library logging to stdout in one format: JSON lines
    (`timestamp`, `level`, `event`, `request_id`, ...) when `DASHBOARD_LOG_FORMAT=json`,
    readable lines otherwise."""
    level = getattr(logging, settings.log_level.upper())
    redact = Redactor(configured_secrets(settings))
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            timestamper,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                # Logging runs in the emitting task: its request id is in the context.
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                timestamper,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in _LOGGERS_WE_FORMAT:
        # uvicorn's own config would give these handlers (and its plain-text format): ours
        # propagate to the root handler instead.
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    # The access line is ours (http/observability.py: one per request, with the route and no
    # query string). uvicorn writes its own only while its logger has a handler somewhere.
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
