"""A local OpenAI-compatible HTTP server for tests: scripted answers, every request recorded byte-exact."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.openai_items import (
    Answer,
    Completion,
    Fail,
    Hang,
    Item,
    Reply,
    Structured,
    ToolCalls,
    Usage,
    error_body,
    estimate_tokens,
)

__all__ = [
    "CapturedRequest",
    "Fail",
    "Hang",
    "Item",
    "OpenAIStub",
    "Reply",
    "Structured",
    "ToolCalls",
    "Usage",
]

Default: TypeAlias = Item | Callable[[dict[str, Any]], Item]
DEFAULT_REPLY = Reply("This is the OpenAI test server's default reply.")
MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4o-2024-11-20", "text-embedding-3-small")


@dataclass(frozen=True)
class CapturedRequest:
    """One request as the server received it; `raw` holds the body bytes exactly as sent."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    received_at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.raw) if self.raw else {}


class OpenAIStub:
    """Serves `/v1/chat/completions`, `/v1/embeddings` and `/v1/models` on 127.0.0.1 from a thread.

    Answers come from a queue filled by `enqueue(...)`, in order; when it is empty, `default` answers
    (an item, or a callable taking the request JSON and returning one, to script behaviour by content).
    """

    def __init__(self, default: Default = DEFAULT_REPLY) -> None:
        self.default: Default = default
        self._queue: deque[Item] = deque()
        self._requests: list[CapturedRequest] = []
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAIStub:
        if self._server is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))  # the OS picks a free port; uvicorn serves on this very socket
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(), log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._stopping = False
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="openai-stub", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the OpenAI test server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._stopping = True  # wakes any Hang in progress
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- scripting and inspection ------------------------------------------------------------------

    def enqueue(self, *items: Item) -> None:
        with self._lock:
            self._queue.extend(items)

    def reset(self) -> None:
        """Forget requests and queued items and restore the default reply (between tests)."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
        self.default = DEFAULT_REPLY

    @property
    def requests(self) -> list[CapturedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[CapturedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def pending(self) -> int:
        """How many queued items are still unconsumed."""
        with self._lock:
            return len(self._queue)

    def _next_item(self, body: dict[str, Any]) -> Item:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.default(body) if callable(self.default) else self.default

    # --- HTTP --------------------------------------------------------------------------------------

    def _app(self) -> Starlette:
        routes = [
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/{path:path}", self._not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        ]
        return Starlette(routes=routes)

    async def _capture(self, request: Request) -> CapturedRequest:
        captured = CapturedRequest(
            method=request.method,
            path=request.url.path,
            headers=dict(request.headers),
            raw=await request.body(),
        )
        with self._lock:
            self._requests.append(captured)
        return captured

    async def _chat(self, request: Request) -> Response:
        captured = await self._capture(request)
        try:
            body = captured.json
        except json.JSONDecodeError:
            return JSONResponse(error_body(400, "The body is not valid JSON."), status_code=400)
        item = self._next_item(body)
        if isinstance(item, Hang):
            # Decide the answer now: after the sleep the test that queued the Hang may have finished.
            seconds, item = item.seconds, item.then or self._next_default(body)
            await self._hang(seconds)
        if isinstance(item, Fail):
            return self._fail(item)
        completion = Completion(
            item=item, model=str(body.get("model", "gpt-4o")), usage=self._usage(item, captured.raw)
        )
        if not body.get("stream"):
            return JSONResponse(completion.body(), headers={"x-request-id": completion.id})
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(
            _sse(completion, include_usage),
            media_type="text/event-stream",
            headers={"x-request-id": completion.id},
        )

    def _next_default(self, body: dict[str, Any]) -> Answer:
        item = self.default(body) if callable(self.default) else self.default
        return DEFAULT_REPLY if isinstance(item, Hang) else item

    async def _hang(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))

    @staticmethod
    def _fail(item: Fail) -> Response:
        headers = {}
        if item.retry_after is not None:
            headers["retry-after"] = f"{item.retry_after:g}"
            headers["retry-after-ms"] = f"{item.retry_after * 1000:g}"
        body = item.body if item.body is not None else error_body(item.status)
        return JSONResponse(body, status_code=item.status, headers=headers)

    @staticmethod
    def _usage(item: Reply | Structured | ToolCalls, raw: bytes) -> Usage:
        if item.usage is not None:
            return item.usage
        if isinstance(item, ToolCalls):
            produced = json.dumps(item.calls)
        else:
            produced = item.text if isinstance(item, Reply) else json.dumps(item.obj)
        return Usage(prompt_tokens=estimate_tokens(raw), completion_tokens=estimate_tokens(produced))

    async def _embeddings(self, request: Request) -> Response:
        captured = await self._capture(request)
        body = captured.json
        inputs = body.get("input", [])
        # A single input may be a string or a list of token ids; a batch is a list of either.
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        dims = int(body.get("dimensions") or 1536)
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, value in enumerate(inputs):
            vector = embed(value if isinstance(value, str) else json.dumps(value), dims)
            encoded: Any = base64.b64encode(vector.tobytes()).decode() if as_base64 else vector.tolist()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(estimate_tokens(v if isinstance(v, str) else json.dumps(v)) for v in inputs)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "text-embedding-3-small"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _models(self, request: Request) -> Response:
        await self._capture(request)
        models = [{"id": m, "object": "model", "created": 0, "owned_by": "deskpilot-stub"} for m in MODELS]
        return JSONResponse({"object": "list", "data": models})

    async def _not_found(self, request: Request) -> Response:
        await self._capture(request)
        message = f"The OpenAI test server does not serve {request.method} {request.url.path}."
        return JSONResponse(error_body(404, message), status_code=404)


def embed(text: str, dims: int) -> np.ndarray:
    """A deterministic unit vector seeded by the text's hash: equal texts embed equally."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dims).astype("<f4")
    return (vector / np.linalg.norm(vector)).astype("<f4")


async def _sse(completion: Completion, include_usage: bool) -> AsyncIterator[bytes]:
    for chunk in completion.chunks(include_usage):
        yield f"data: {json.dumps(chunk)}\n\n".encode()
        await asyncio.sleep(0)  # flush each chunk separately, as a real stream arrives
    yield b"data: [DONE]\n\n"
