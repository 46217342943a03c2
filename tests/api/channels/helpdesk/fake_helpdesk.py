"""A local fake of the Zendesk, Freshdesk and Jira Service Management APIs (and a generic callback receiver).

Serves on 127.0.0.1 from a thread, records every request, keeps each ticket's notes, and answers the
next writes from a script: `Respond(429, retry_after=1)`, `Respond(500)`, `Hang(30)` (the note is not kept).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class Respond:
    status: int
    retry_after: float | None = None


@dataclass(frozen=True)
class Hang:
    seconds: float


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


class FakeHelpdesk:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.notes: dict[str, list[str]] = defaultdict(list)  # ticket -> note bodies kept
        self.script: deque[Respond | Hang] = deque()
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method in ("PUT", "POST")]

    # --- the app ---------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/v2/tickets/{id}.json", self._zendesk_put, methods=["PUT"]),
                Route("/api/v2/tickets/{id}/comments.json", self._zendesk_comments, methods=["GET"]),
                Route("/api/v2/tickets/{id}/notes", self._freshdesk_note, methods=["POST"]),
                Route("/api/v2/tickets/{id}/conversations", self._freshdesk_list, methods=["GET"]),
                Route("/rest/servicedeskapi/request/{id}/comment", self._jira, methods=["GET", "POST"]),
                Route("/callback", self._callback, methods=["POST"]),
            ]
        )

    async def _record(self, request: Request) -> tuple[Recorded, Response | None]:
        recorded = Recorded(request.method, request.url.path, dict(request.headers), await request.body())
        with self._lock:
            self.requests.append(recorded)
            step = self.script.popleft() if self.script and request.method != "GET" else None
        if isinstance(step, Hang):
            await asyncio.sleep(step.seconds)
            return recorded, Response(status_code=504)
        if isinstance(step, Respond):
            headers = {"Retry-After": str(step.retry_after)} if step.retry_after is not None else None
            return recorded, JSONResponse({"error": "scripted"}, status_code=step.status, headers=headers)
        return recorded, None

    def _keep(self, ticket: str, body: str) -> None:
        with self._lock:
            self.notes[ticket].append(body)

    async def _zendesk_put(self, request: Request) -> Response:
        recorded, scripted = await self._record(request)
        if scripted is not None:
            return scripted
        self._keep(request.path_params["id"], recorded.json["ticket"]["comment"]["body"])
        return JSONResponse({"ticket": {"id": int(request.path_params["id"])}})

    async def _zendesk_comments(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({"comments": [{"body": b} for b in self.notes[request.path_params["id"]]]})

    async def _freshdesk_note(self, request: Request) -> Response:
        recorded, scripted = await self._record(request)
        if scripted is not None:
            return scripted
        self._keep(request.path_params["id"], recorded.json["body"])
        return JSONResponse({"id": 1, "private": True}, status_code=201)

    async def _freshdesk_list(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse([{"body": b} for b in self.notes[request.path_params["id"]]])

    async def _jira(self, request: Request) -> Response:
        recorded, scripted = await self._record(request)
        if request.method == "GET":
            return JSONResponse({"values": [{"body": b} for b in self.notes[request.path_params["id"]]]})
        if scripted is not None:
            return scripted
        self._keep(request.path_params["id"], recorded.json["body"])
        return JSONResponse({"id": "1", "public": False}, status_code=201)

    async def _callback(self, request: Request) -> Response:
        recorded, scripted = await self._record(request)
        if scripted is not None:
            return scripted
        self._keep(recorded.json["ticket_id"], recorded.json["note"])
        return JSONResponse({"ok": True})

    # --- running ---------------------------------------------------------------------------------

    def start(self) -> FakeHelpdesk:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app(), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-helpdesk", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake helpdesk did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeHelpdesk:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
