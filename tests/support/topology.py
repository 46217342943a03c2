"""The docker-compose shape as processes on this machine: N `deskpilot serve` and M `deskpilot worker` on one
PostgreSQL database (made fresh, dropped after), one Redis (own stream and key prefixes) and a `chroma run`
server. Used by tests/test_topology.py and by `make soak`."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import redis
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from api.db import create_schema, make_engine
from tests.support.processes import ChromaServer, ServeProcess, WorkerProcess

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/0"


class Topology:
    def __init__(
        self,
        workdir: Path,
        *,
        apps: int = 2,
        workers: int = 1,
        pg_server: str = PG_SERVER,
        redis_url: str = REDIS_URL,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.pg_server = pg_server
        self.redis_url = redis_url
        tag = uuid.uuid4().hex[:10]
        self.database = f"deskpilot_topo_{tag}"
        self.prefix = f"deskpilot-topo:{tag}"
        self.database_url = f"{pg_server}/{self.database}"
        self.chroma = ChromaServer(workdir / "chroma")
        self.env = {
            "DESKPILOT_DATABASE_URL": self.database_url,
            "DESKPILOT_CHROMA_URL": self.chroma.url,
            "DESKPILOT_REDIS_URL": redis_url,
            "DESKPILOT_VAULT_KEY": Fernet.generate_key().decode(),
            "DESKPILOT_JOB_STREAM": f"{self.prefix}:jobs",
            "DESKPILOT_BREAKER_KEY_PREFIX": f"{self.prefix}:breaker",
            "DESKPILOT_RATE_LIMIT_KEY_PREFIX": f"{self.prefix}:limits",
            "DESKPILOT_ENVIRONMENT": "test",
            **(env or {}),
        }
        self.apps = [self._serve(i) for i in range(apps)]
        self.workers = [self._worker(i) for i in range(workers)]
        self.engine: Any = None

    def _serve(self, i: int) -> ServeProcess:
        home = self.workdir / f"app{i}"
        home.mkdir(parents=True, exist_ok=True)
        return ServeProcess({**self.env, "DESKPILOT_HOME": str(home)}, log=home / "serve.log")

    def _worker(self, i: int) -> WorkerProcess:
        home = self.workdir / f"worker{i}"
        home.mkdir(parents=True, exist_ok=True)
        return WorkerProcess({**self.env, "DESKPILOT_HOME": str(home)}, log=home / "worker.log")

    def start(self, timeout_s: float = 600.0) -> Topology:
        admin = create_engine(
            f"{self.pg_server.replace('postgresql://', 'postgresql+psycopg://')}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.database}"'))
        admin.dispose()
        self.engine = make_engine(self.database_url)
        create_schema(self.engine)
        self.chroma.start()
        for worker in self.workers:
            worker.start()
        with ThreadPoolExecutor(len(self.apps)) as pool:
            list(pool.map(lambda app: app.start(timeout_s), self.apps))
        return self

    def stop(self) -> None:
        for process in [*self.apps, *self.workers]:
            process.stop()
        self.chroma.stop()
        if self.engine is not None:
            self.engine.dispose()
        admin = create_engine(
            f"{self.pg_server.replace('postgresql://', 'postgresql+psycopg://')}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        finally:
            admin.dispose()
        try:
            client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
            for key in client.scan_iter(f"{self.prefix}*"):
                client.delete(key)
            for key in client.scan_iter(f"autoclaim:*:{self.prefix}*"):
                client.delete(key)
            client.close()
        except redis.RedisError:
            pass

    def __enter__(self) -> Topology:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
