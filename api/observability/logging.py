"""Log lines that carry the request id: JSON with DESKPILOT_LOG_FORMAT=json, human-readable by default.

Exceptions are logged by type and stack only: an exception's message can quote customer text.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any, Literal

from opentelemetry import trace

from api.observability.context import current_request_id

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_OURS = "deskpilot_observability"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (and the current trace and span ids) to every record the handler sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id() or "-"
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


def _exception_without_message(exc_info: ExcInfo) -> str:
    kind, _, tb = exc_info
    stack = "".join(traceback.format_tb(tb)) if tb else ""
    return f"Traceback (most recent call last):\n{stack}{kind.__name__ if kind else 'Exception'}"


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatException(self, ei: Any) -> str:  # noqa: N802  (logging's name)
        return _exception_without_message(ei)

    def format(self, record: logging.LogRecord) -> str:
        # logging caches the traceback text on the record: another handler's formatter may have put the
        # exception's message there, and the stock format() would reuse it.
        cached, record.exc_text = record.exc_text, None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached


class JsonFormatter(logging.Formatter):
    """One JSON object a line; fields passed with `extra=` are kept."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                body[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            body["exc_type"] = record.exc_info[0].__name__
            body["stack"] = _exception_without_message(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


def configure_logging(*, level: str = "INFO", fmt: LogFormat = "text", stream: IO[str] | None = None) -> None:
    """Installs one root handler (replacing the one installed before, so it is safe to call again).

    The root level only ever becomes more verbose here: a test or a host that asked for DEBUG keeps it.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _OURS, True)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    wanted = logging.getLevelName(level.upper())
    if isinstance(wanted, int) and (root.level == logging.NOTSET or root.level > wanted):
        root.setLevel(wanted)
