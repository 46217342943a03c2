"""Domain errors and their one mapping to HTTP: every client mistake is a 4xx with a JSON body."""

from __future__ import annotations

import logging
import math
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(ApiError):
    status_code = 422
    code = "invalid_request"


class NotFoundError(ApiError):
    status_code = 404
    code = "not_found"


class ConflictError(ApiError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "unsupported_media_type"


class Unavailable(ApiError):
    status_code = 503
    code = "unavailable"


class RateLimited(ApiError):
    """A rate limit, a concurrency limit or a daily quota is spent; `Retry-After` says when to come back."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float, **details: object) -> None:
        super().__init__(message, retry_after_s=max(1, math.ceil(retry_after_s)), **details)
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after_s)))}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the API has this shape."""

    error: ErrorDetail


_ERROR_DESCRIPTIONS = {
    400: "Malformed request (unparsable or too deeply nested body)",
    401: "Missing, invalid, revoked or expired API key (or a bad webhook signature)",
    403: "The key lacks the required scope",
    404: "Not found in the caller's tenant",
    409: "Conflicts with the resource's current state",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request: each problem names its field",
    429: "Rate limit, concurrent-turn limit or daily quota reached; see Retry-After",
    500: "Unexpected server error (no details are echoed)",
    503: "A dependency is unavailable, or the turn could not finish (retry it)",
}
# What the API can answer besides success; document_errors adds them to every /v1 operation.
ERROR_RESPONSES: dict[int, dict[str, Any]] = {
    code: {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for code, text in _ERROR_DESCRIPTIONS.items()
}
_WRITE_ONLY = {409, 415}  # a conflict or a body's media type: only where something is sent or changed


def document_errors(app: FastAPI) -> None:
    """The error answers in each /v1 operation of the OpenAPI document, with the one ErrorBody schema.

    Applied to the generated document rather than per router, so a router added later is covered too;
    FastAPI's own 422 schema is replaced, since our handler answers 422 in the ErrorBody shape."""
    generate = app.openapi
    done = False

    def openapi() -> dict[str, Any]:
        nonlocal done
        schema = generate()
        if done:
            return schema
        body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(body.pop("$defs", {}))
        components["ErrorBody"] = body
        for path, item in schema.get("paths", {}).items():
            if not path.startswith("/v1/"):
                continue
            for method, operation in item.items():
                responses = operation.setdefault("responses", {})
                for code, response in ERROR_RESPONSES.items():
                    if method == "get" and code in _WRITE_ONLY:
                        continue
                    if str(code) not in responses or code == 422:
                        responses[str(code)] = response
        done = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def error_body(code: str, message: str, **details: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **({"details": details} if details else {})}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.details),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RecursionError)
    async def _too_deep(_: Request, exc: RecursionError) -> JSONResponse:
        # A body (or an uploaded JSON document) nested deeper than Python will parse: the caller's doing.
        return JSONResponse(error_body("bad_request", "the request is nested too deeply"), status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body",
                "problem": err.get("msg", "invalid"),
            }
            for err in exc.errors()
        ]
        message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems) or "invalid request"
        return JSONResponse(error_body("invalid_request", message, problems=problems), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
            415: "unsupported_media_type",
            429: "rate_limited",
        }.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        # A value the database refuses, whatever the route: a NUL character (PostgreSQL text cannot hold
        # one) or an integer past the column's range (32 bits on PostgreSQL). The caller's input, not a bug.
        log.info("value refused by the database: %s", type(exc.orig).__name__)
        return JSONResponse(
            error_body(
                "invalid_request",
                "a value is out of range or holds a character that cannot be stored (NUL)",
            ),
            status_code=422,
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(ConnectionError)
    @app.exception_handler(httpx.TransportError)
    async def _dependency_down(_: Request, exc: Exception) -> JSONResponse:
        # The database restarting, the Chroma server stopped: not a bug here, and over once it is back.
        # psycopg's own errors (AdminShutdown...) come unwrapped from the graph's PostgreSQL checkpointer.
        log.warning("dependency unavailable: %s", type(exc).__name__)
        return JSONResponse(
            error_body("unavailable", "a service this request needs is unavailable; retry shortly"),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    try:
        import psycopg
    except ImportError:  # pragma: no cover - PostgreSQL support not installed
        pass
    else:
        app.exception_handler(psycopg.OperationalError)(_dependency_down)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Never echo the exception text: it may carry customer data.
        log.error("unhandled error: %s", type(exc).__name__, exc_info=False)
        return JSONResponse(error_body("internal_error", "something went wrong on our side"), status_code=500)
