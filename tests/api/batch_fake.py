"""A local OpenAI Batch API fake: files, batches and their output file, on 127.0.0.1 from a thread.

A batch is `in_progress` for its first `polls_before_done` reads, then `completed`; each request of the
input file is answered with a strict-JSON Triage (from the offline classifier, confidence 0.97 so a test
can tell it from a local fallback) and usage. `fail_ids` answer a 500 for those custom ids.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from agent.triage import classify_offline


class BatchFake:
    def __init__(self, *, polls_before_done: int = 2, fail_ids: tuple[str, ...] = ()) -> None:
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        self.polls_before_done = polls_before_done
        self.fail_ids = fail_ids
        self.requests: list[tuple[str, str]] = []
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/files", self._upload, methods=["POST"]),
                Route("/v1/files/{id}/content", self._content, methods=["GET"]),
                Route("/v1/batches", self._create, methods=["POST"]),
                Route("/v1/batches/{id}", self._retrieve, methods=["GET"]),
            ]
        )

    async def _upload(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        form = await request.form()
        upload: Any = form["file"]
        data = await upload.read()
        file_id = f"file-{uuid.uuid4().hex[:12]}"
        self.files[file_id] = data
        return JSONResponse(_file(file_id, len(data), str(form.get("purpose", "batch"))))

    async def _create(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        body = await request.json()
        if body["input_file_id"] not in self.files or body["endpoint"] != "/v1/chat/completions":
            return JSONResponse(
                {"error": {"message": "bad batch", "type": "invalid_request_error"}}, status_code=400
            )
        batch_id = f"batch_{uuid.uuid4().hex[:12]}"
        lines = self.files[body["input_file_id"]].decode().splitlines()
        self.batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "input_file_id": body["input_file_id"],
            "completion_window": body["completion_window"],
            "status": "validating",
            "created_at": int(time.time()),
            "output_file_id": None,
            "error_file_id": None,
            "metadata": body.get("metadata"),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
        }
        return JSONResponse(self.batches[batch_id])

    async def _retrieve(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        batch = self.batches[request.path_params["id"]]
        self.polls[batch["id"]] = self.polls.get(batch["id"], 0) + 1
        if batch["status"] != "completed":
            if self.polls[batch["id"]] > self.polls_before_done:
                batch["output_file_id"] = self._answer(batch)
                batch["status"] = "completed"
                total = batch["request_counts"]["total"]
                failed = sum(1 for i in self._inputs(batch) if i["custom_id"] in self.fail_ids)
                batch["request_counts"] = {"total": total, "completed": total - failed, "failed": failed}
            else:
                batch["status"] = "in_progress"
        return JSONResponse(batch)

    async def _content(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        return PlainTextResponse(self.files[request.path_params["id"]].decode())

    def _inputs(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.files[batch["input_file_id"]].decode().splitlines() if line]

    def _answer(self, batch: dict[str, Any]) -> str:
        out = []
        for item in self._inputs(batch):
            if item["custom_id"] in self.fail_ids:
                response = {"status_code": 500, "request_id": "req", "body": {"error": {"message": "boom"}}}
            else:
                text = item["body"]["messages"][-1]["content"]
                triage = classify_offline(text).model_copy(update={"confidence": 0.97})
                response = {
                    "status_code": 200,
                    "request_id": "req",
                    "body": {
                        "id": "chatcmpl-x",
                        "object": "chat.completion",
                        "model": item["body"]["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": triage.model_dump_json()},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 400,
                            "completion_tokens": 40,
                            "total_tokens": 440,
                            "prompt_tokens_details": {"cached_tokens": 256},
                        },
                    },
                }
            out.append(
                json.dumps(
                    {
                        "id": f"resp-{item['custom_id']}",
                        "custom_id": item["custom_id"],
                        "response": response,
                        "error": None,
                    }
                )
            )
        file_id = f"file-{uuid.uuid4().hex[:12]}"
        self.files[file_id] = ("\n".join(out) + "\n").encode()
        return file_id

    def __enter__(self) -> BatchFake:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app(), log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)


def _file(file_id: str, size: int, purpose: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": int(time.time()),
        "filename": "triage-backlog.jsonl",
        "purpose": purpose,
        "status": "processed",
    }
