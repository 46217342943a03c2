"""A local fake of the Slack Web API: records what the app posts, answers like Slack, can rate-limit or hang.

Shaped after bolt-python's tests/mock_web_api_server: a threaded HTTP server on 127.0.0.1 that
`AsyncWebClient(base_url=fake.base_url)` talks to. Every call is recorded with its parsed body;
`chat.postMessage` answers with a fresh `ts` the way Slack does.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BOT_USER_ID = "UBOTDESK1"
BOT_ID = "BBOTDESK1"
TEAM_ID = "T0DESK001"


@dataclass
class Scripted:
    """One answer queued for the next call of a method, instead of the normal one."""

    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    hang: bool = False
    lose: bool = False  # Slack takes the call, but its answer never arrives (a 500 instead)


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.hung: list[tuple[str, dict[str, Any]]] = []  # calls held by `hang_next`, never answered ok
        self.scripts: dict[str, deque[Scripted]] = defaultdict(deque)
        self.release = threading.Event()  # set to let hanging calls go (they then answer 500)
        self._lock = threading.Lock()
        self._counter = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/api/"

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    # --- what tests use -------------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.hung.clear()
            self.scripts.clear()
        self.release.clear()

    def posted(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for name, body in self.calls if name == method]

    def rate_limit_next(self, method: str, *, retry_after: int = 1) -> None:
        self.scripts[method].append(Scripted(status=429, error="ratelimited", retry_after=retry_after))

    def fail_next(self, method: str, error: str, status: int = 200) -> None:
        self.scripts[method].append(Scripted(status=status, error=error))

    def lose_answer_next(self, method: str) -> None:
        """The next call takes effect (it is recorded), but the caller gets a 500: its answer was lost."""
        self.scripts[method].append(Scripted(lose=True))

    def hang_next(self, method: str) -> None:
        """The next call never answers (until `release`): the caller waits as on a stuck connection."""
        self.scripts[method].append(Scripted(hang=True))

    # --- the server -----------------------------------------------------------------------------------

    def _answer(self, method: str, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
            script = self.scripts[method].popleft() if self.scripts[method] else None
        if script is not None and script.hang:
            with self._lock:
                self.hung.append((method, body))
            self.release.wait()
            return 500, {}, {"ok": False, "error": "fatal_error"}
        if script is not None and not script.lose:
            headers = {"Retry-After": str(script.retry_after)} if script.retry_after is not None else {}
            return script.status, headers, {"ok": False, "error": script.error}
        with self._lock:
            self.calls.append((method, body))
            self._counter += 1
            ts = f"{int(time.time())}.{self._counter:06d}"
            body["_ts"] = ts
        if script is not None:  # lose: recorded above, answered as a failure
            return 500, {}, {"ok": False, "error": "fatal_error"}
        if method == "auth.test":
            return 200, {}, {"ok": True, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "team_id": TEAM_ID}
        if method in ("chat.postMessage", "chat.update"):
            return 200, {}, {"ok": True, "channel": body.get("channel"), "ts": body.get("ts") or ts}
        if method in ("conversations.replies", "conversations.history"):
            return 200, {}, {"ok": True, "messages": self._history(body), "has_more": False}
        if method == "chat.postEphemeral":
            return 200, {}, {"ok": True, "message_ts": ts}
        return 200, {}, {"ok": True}

    def _history(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """The messages posted so far in a channel (history) or one thread (replies), metadata included."""
        thread = query.get("ts")
        return [
            {"ts": body["_ts"], "text": body.get("text"), "metadata": body.get("metadata")}
            for name, body in self.posted_with_ts()
            if body.get("channel") == query.get("channel")
            and (thread is None or thread in (body.get("thread_ts"), body["_ts"]))
        ]

    def posted_with_ts(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(n, b) for n, b in self.calls if n == "chat.postMessage"]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
                self.do_POST()

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    body = json.loads(raw or "{}")
                else:
                    query = raw or urlsplit(self.path).query
                    body = {k: v[0] for k, v in parse_qs(query).items()}
                body["_authorization"] = self.headers.get("Authorization")
                method = self.path.rsplit("/", 1)[-1].split("?")[0]
                status, headers, answer = fake._answer(method, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler
