"""The one error family that write services raise. Each interface (admin, pages, commands,
API) turns it into its own answer: a form error, a message, a CommandError, a JSON body.

Services never raise Django's ValidationError or Http404 at their callers: those belong to
one interface each. A service that refuses raises one of these, with words a trader reads.
"""

from __future__ import annotations


class ApplicationError(Exception):
    """Base of every refusal a service makes. `code` is stable (the API's error code)."""

    code = "error"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "fields": self.fields}


class NotFound(ApplicationError):
    """The object does not exist, or the actor may not know it exists."""

    code = "not_found"


class NotAllowed(ApplicationError):
    """The actor may see the object but not do this to it (role or membership)."""

    code = "not_allowed"


class Invalid(ApplicationError):
    """Bad input: `fields` maps each bad field to its messages, every field at once."""

    code = "invalid"

    @classmethod
    def from_fields(cls, fields: dict[str, list[str] | str], message: str | None = None) -> Invalid:
        normalised = {name: [msgs] if isinstance(msgs, str) else list(msgs) for name, msgs in fields.items()}
        summary = message or "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in normalised.items())
        return cls(summary, fields=normalised)


class Conflict(ApplicationError):
    """The request is valid but the object's state forbids it now (already closed, in flight)."""

    code = "conflict"
