"""The errors a caller can act on, one type per kind; every protocol maps them to its status.

* :class:`InvalidArgument`: the request is wrong. Its message starts with the field
  (``config.sample_rate_hertz: must be ...``); :meth:`InvalidArgument.within` prefixes the
  path of the enclosing message, so an adapter can say ``streaming_config.config...``.
* :class:`Unavailable`: the service cannot take calls yet (models loading) or any more
  (draining).
* :class:`ResourceExhausted`: a limit is reached (concurrent streams); ``retry_after_s``
  says when trying again makes sense.
* :class:`Unimplemented`: the feature is switched off on this server.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the errors the service reports to callers (never a bug: those are others)."""


class InvalidArgument(ServiceError, ValueError):
    """A request field is invalid; ``field`` names it (dotted path), ``reason`` says why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason

    def within(self, prefix: str) -> InvalidArgument:
        """The same error seen from the message that holds this field under ``prefix``."""
        if not prefix:
            return self
        return type(self)(f"{prefix}.{self.field}" if self.field else prefix, self.reason)

    def renamed(self, names: dict[str, str]) -> InvalidArgument:
        """The same error with its field renamed when ``names`` maps it (a door's own names)."""
        return type(self)(names[self.field], self.reason) if self.field in names else self

    @classmethod
    def from_message(cls, message: str) -> InvalidArgument:
        """From a ``"field: reason"`` message (a library's ValueError that follows that rule)."""
        field, sep, reason = message.partition(": ")
        if not sep or " " in field:
            return cls("", message)
        return cls(field, reason)


class Unavailable(ServiceError):
    """Not serving now (models still loading, or shutting down); try again later."""


class ResourceExhausted(ServiceError):
    """A limit is reached; ``retry_after_s`` hints when a retry may succeed."""

    def __init__(self, message: str, retry_after_s: float = 1.0):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unimplemented(ServiceError):
    """The feature is not available on this server (switched off in its configuration)."""
