"""Logs for operators: JSON lines (or plain text) that carry the request id.

The data plane sets ``current_request_id`` when it starts a request (the id of
its lineage, the one in ``x-pinyard-request-id``); every log line emitted while
that request runs, uvicorn's access line included, then carries it. ``pinyard
serve`` installs this configuration (``PINYARD_LOG_FORMAT=json|text``); an
embedding application keeps its own logging.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

current_request_id: ContextVar[str | None] = ContextVar("pinyard_request_id", default=None)

# LogRecord attributes that are not ``extra=`` fields.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, None, None, None).__dict__.keys()
    | {"message", "asctime", "request_id", "color_message", "taskName"}
)
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request id of the context that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id and request_id != "-":
            entry["request_id"] = request_id
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            entry.update(zip(_ACCESS_FIELDS, args, strict=True))
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def log_config(log_format: str = "json", level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the gateway (also given to uvicorn)."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    # uvicorn's own loggers hand their lines to the root handler, so every line
    # in the process shares one format.
    passthrough = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"pinyard": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "pinyard",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {**passthrough, "level": level.upper()},
            "uvicorn.error": passthrough,
            "uvicorn.access": passthrough,
        },
    }
