"""The domain's error hierarchy; the HTTP layer maps each class once to a problem type."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a caller can cause by what it asks for."""

    code = "domain-error"

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = context


class NotFound(DomainError):
    code = "not-found"


class Conflict(DomainError):
    code = "conflict"


class InvalidInput(DomainError):
    """A value that parses but breaks a rule; `field` names the offending input."""

    code = "invalid-input"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message, field=field)
        self.field = field


class MalformedInput(InvalidInput):
    """Input that is not even well-formed (a body that is not JSON, a cursor this API did not
    issue): a 400, where a well-formed value that breaks a rule is a 422."""

    code = "bad-request"  # the problem type of Litestar's own 400s
