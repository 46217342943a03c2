"""The request id of the work in progress, in a context variable that tasks and thread pools inherit."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

MAX_REQUEST_ID_CHARS = 128
# Visible ASCII only: the id is echoed in a response header and written into logs and audit payloads.
_VALID = re.compile(rf"[!-~]{{1,{MAX_REQUEST_ID_CHARS}}}")

_request_id: ContextVar[str | None] = ContextVar("deskpilot_request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def valid_request_id(value: str | None) -> bool:
    return value is not None and _VALID.fullmatch(value) is not None


@contextmanager
def bound_request_id(request_id: str | None) -> Iterator[str | None]:
    """Runs the block under `request_id` (None clears it), restoring the previous one afterwards."""
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)
