"""Which failures of the adapters mean a backing service is unavailable (a 503, not a 500) or
a value it cannot store: the root knows the concrete adapters, so the HTTP layer asks here."""

from dashboard_api.adapters.unavailable import (
    UNAVAILABLE_ERRORS,
    FailureLog,
    is_unavailable,
    is_unstorable_text,
)

__all__ = ["UNAVAILABLE_ERRORS", "FailureLog", "is_unavailable", "is_unstorable_text"]
