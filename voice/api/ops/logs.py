"""Request ids and structured logs.

A call's id comes from the client (gRPC metadata or HTTP header ``x-request-id``) or is made
here; :data:`REQUEST_ID` holds it for the call's task and every task it starts, so each log
line of that call carries it (``--log-format json``: one JSON object a line, field
``request_id``; text logs append ``[id]``). Worker threads do not inherit it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
MAX_ID_CHARS = 128
_ID_OK = re.compile(r"^[A-Za-z0-9._:/@+=-]{1,128}$")


def request_id(given: str | None) -> str:
    """The client's id when it is sane (<= 128 printable characters, no spaces), else a new one."""
    if given and _ID_OK.match(given):
        return given
    return secrets.token_hex(8)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request id of the call that logs it (a handler's filter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id,
    and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", "") or REQUEST_ID.get()
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        rid = getattr(record, "request_id", "")
        return f"{text} [{rid}]" if rid else text


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Root logging for ``voice serve``: text (as before, plus the request id) or JSON lines."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
