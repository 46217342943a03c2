"""Request ids, structured logs and traces: what an operator follows from one HTTP request to a model call."""

from api.observability.context import bound_request_id, current_request_id, new_request_id
from api.observability.logging import configure_logging
from api.observability.middleware import RequestContextMiddleware
from api.observability.tracing import configure_tracing

__all__ = [
    "RequestContextMiddleware",
    "bound_request_id",
    "configure_logging",
    "configure_tracing",
    "current_request_id",
    "new_request_id",
]
