"""`make soak`: the load, fault and abuse batteries against the scale-out shape, on loopback only.

Two `deskpilot serve` and one `deskpilot worker` share a PostgreSQL cluster, a Redis and a `chroma run`
server that the soak starts for itself (private instances on free ports, so restarting them disturbs
nothing else on the machine), and a local model that answers after 300 ms (`bench/soak_model.py`).
SOAK_SECONDS (default 600) is the load battery's length; every loop stops by itself. SOAK_BATTERIES
(default `load,faults,abuse`) picks the batteries.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlmodel import Session, select

from api.audit import AuditLog
from api.jobs import JobQueue
from api.models import AuditEvent, Message, Turn
from api.settings import Settings
from tests.api import job_handlers
from tests.conftest import REPO, bearer
from tests.support.processes import free_port
from tests.support.topology import Topology

PG_BIN = Path("/usr/lib/postgresql") / (
    os.listdir("/etc/postgresql")[0] if Path("/etc/postgresql").exists() else "15"
)
PG_BIN = PG_BIN / "bin"
CONCURRENCY = int(os.environ.get("SOAK_CONVERSATIONS", "50"))
ALL = ("agent", "integration", "admin", "approve")


def say(line: str) -> None:
    print(line, flush=True)


# --- private servers ---------------------------------------------------------------------------------


class Postgres:
    """A throw-away PostgreSQL cluster, run as the postgres user; restarted like a real one."""

    def __init__(self, root: Path) -> None:
        self.data = root / "pg"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True)

    def start(self) -> Postgres:
        if not self.data.exists():
            self.data.mkdir(parents=True)
            shutil.chown(self.data, "postgres")
            shutil.chown(self.data.parent, "postgres")
            self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self._ctl("start")
        return self

    def _ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c max_connections=300"
        self._as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.data / "log"),
            "-m",
            "fast",
            "-w",
            action,
        )

    def restart(self) -> None:
        self._ctl("restart")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop")


class Redis:
    """Its own redis-server; `restart` is `redis-cli shutdown nosave` and the same start command again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Redis:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            if (
                subprocess.run(
                    ["redis-cli", "-p", str(self.port), "ping"], capture_output=True
                ).stdout.strip()
                == b"PONG"
            ):
                return self
            time.sleep(0.1)
        raise TimeoutError("redis-server did not start")

    def shutdown(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True)
        if self.process is not None:
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.shutdown()


class Model:
    def __init__(self, root: Path, delay_s: float) -> None:
        self.mode_file = root / "model-mode"
        self.mode_file.write_text("ok")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.soak_model", str(delay_s), str(self.mode_file)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()

    def mode(self, value: str) -> None:
        self.mode_file.write_text(value)
        time.sleep(0.3)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


# --- traffic -------------------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    turns: set[str] = field(default_factory=set)  # turn ids of 200 answers
    degraded: int = 0
    uncited: int = 0

    def line(self, seconds: float) -> str:
        ok = self.statuses.get("200", 0)
        errors = sum(v for k, v in self.statuses.items() if k != "200")
        q = statistics.quantiles(self.latencies, n=100) if len(self.latencies) >= 2 else [0.0] * 99
        return (
            f"{ok + errors} messages in {seconds:.0f} s: {ok / seconds:.1f} replies/s; "
            f"latency p50 {q[49]:.2f} s, p95 {q[94]:.2f} s, p99 {q[98]:.2f} s; "
            f"errors {errors} {dict(self.statuses - Counter({'200': ok}))}; "
            f"degraded {self.degraded}"
        )


async def converse(
    client: httpx.AsyncClient,
    apps: list[str],
    headers: dict[str, str],
    order: str,
    n: int,
    until: float,
    stats: Stats,
) -> None:
    """One conversation; each message goes to the next process (no sticky sessions)."""
    conversation = None
    step = n
    while time.monotonic() < until:
        base = apps[step % len(apps)]
        step += 1
        try:
            if conversation is None:
                created = await client.post(
                    f"{base}/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers
                )
                conversation = created.json()["id"] if created.status_code == 201 else None
                if conversation is None:
                    stats.statuses[f"create {created.status_code}"] += 1
                    await asyncio.sleep(0.5)
                continue
            content = f"Where is my order {order}?" if step % 2 else "How long does a refund take?"
            started = time.monotonic()
            reply = await client.post(
                f"{base}/v1/conversations/{conversation}/messages", json={"content": content}, headers=headers
            )
            stats.latencies.append(time.monotonic() - started)
            stats.statuses[str(reply.status_code)] += 1
            if reply.status_code == 200:
                body = reply.json()
                stats.turns.add(body["turn_id"])
                stats.degraded += bool(body["degraded"])
                stats.uncited += not body["citations"]
            elif reply.status_code == 409:
                conversation = None  # waiting for an approval or taken over: start another
            else:
                await asyncio.sleep(0.2)
        except httpx.HTTPError as error:
            stats.statuses[type(error).__name__] += 1
            await asyncio.sleep(0.2)


async def traffic(
    apps: list[str], headers: dict[str, str], order: str, seconds: float, concurrency: int
) -> Stats:
    stats = Stats()
    until = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=90, limits=limits) as client:
        await asyncio.gather(
            *(converse(client, apps, headers, order, n, until, stats) for n in range(concurrency))
        )
    return stats


def ledger(engine: Any, turns: set[str]) -> str:
    """Every answered message has one turn.received and one reply.sent, one reply; no turn has two."""
    received: Counter[str] = Counter()
    replied: Counter[str] = Counter()
    with Session(engine) as session:
        for event in session.exec(
            select(AuditEvent).where(AuditEvent.type.in_(("turn.received", "reply.sent")))
        ):  # type: ignore[attr-defined]
            turn = (event.payload or {}).get("turn_id")
            (received if event.type == "turn.received" else replied)[turn] += 1
        replies = Counter(m.turn_id for m in session.exec(select(Message).where(Message.role == "assistant")))
        statuses = Counter(t.status for t in session.exec(select(Turn)))
    bad = [t for t in turns if received[t] != 1 or replied[t] != 1 or replies[t] != 1]
    twice = [t for t in replied if replied[t] > 1] + [t for t in replies if t and replies[t] > 1]
    chain = AuditLog(engine).verify()
    return (
        f"{len(turns)} answered messages: {len(turns) - len(bad)} with exactly one turn.received, "
        f"one reply.sent and one reply; {len(bad)} without; {len(twice)} turns replied twice; "
        f"turns by status {dict(statuses)}; "
        f"audit chain {'verifies' if chain.ok else 'BROKEN: ' + str(chain.reason)} ({chain.checked} events)"
    )


# --- the batteries -------------------------------------------------------------------------------------


async def load_battery(top: Topology, headers: dict[str, str], order: str, seconds: float) -> None:
    say(f"\n== load: {CONCURRENCY} concurrent conversations for {seconds:.0f} s across 2 app processes")
    apps = [app.base_url for app in top.apps]
    started = time.monotonic()
    stats = await traffic(apps, headers, order, seconds, CONCURRENCY)
    say("   " + stats.line(time.monotonic() - started))
    say(f"   replies without a citation {stats.uncited}")
    say("   " + ledger(top.engine, stats.turns))


async def recovered(
    base: str, headers: dict[str, str], within_s: float = 120.0, cited: bool = False
) -> float | None:
    """Seconds until a new conversation gets a non-degraded (and, if asked, cited) reply."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as client:
        while time.monotonic() - started < within_s:
            try:
                created = await client.post(
                    f"{base}/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers
                )
                if created.status_code == 201:
                    reply = await client.post(
                        f"{base}/v1/conversations/{created.json()['id']}/messages",
                        json={"content": "How long does a refund take?"},
                        headers=headers,
                    )
                    body = reply.json() if reply.status_code == 200 else {}
                    if body and not body["degraded"] and (body["citations"] or not cited):
                        return time.monotonic() - started
            except httpx.HTTPError:
                pass
            await asyncio.sleep(1)
    return None


def enqueue_jobs(top: Topology, count: int, sleep_s: float) -> list[str]:
    settings = Settings(redis_url=top.redis_url, job_stream=top.env["DESKPILOT_JOB_STREAM"])
    queue = JobQueue(engine=top.engine, settings=settings, audit=AuditLog(top.engine))
    ids = []
    with Session(top.engine, expire_on_commit=False) as session:
        for n in range(count):
            ids.append(
                queue.enqueue(
                    session,
                    tenant="default",
                    kind="test.record",
                    payload={"sleep_s": sleep_s, "note": f"soak {n}"},
                ).id
            )
        session.commit()
    return ids


async def jobs_done(top: Topology, ids: list[str], within_s: float) -> str:
    started = time.monotonic()
    while True:
        with top.engine.connect() as conn:
            done = conn.execute(
                text("SELECT count(*) FROM jobs WHERE status = 'done' AND id = ANY(:ids)"), {"ids": ids}
            ).scalar()
        if done == len(ids) or time.monotonic() - started > within_s:
            break
        await asyncio.sleep(0.5)
    effects = [job_handlers.effects(top.engine, i) for i in ids]
    runs = [job_handlers.runs(top.engine, i) for i in ids]
    return (
        f"{done}/{len(ids)} jobs done in {time.monotonic() - started:.1f} s; effects {Counter(effects)} "
        f"(runs {Counter(runs)})"
    )


async def faults_battery(
    top: Topology, pg: Postgres, redis: Redis, model: Model, headers: dict[str, str], order: str
) -> None:
    say("\n== faults (each under traffic of 10 conversations; outcomes afterwards)")
    apps = [app.base_url for app in top.apps]
    all_turns: set[str] = set()

    async def under_traffic(seconds: float, fault: Any) -> Stats:
        task = asyncio.create_task(traffic(apps, headers, order, seconds, 10))
        await asyncio.sleep(min(2.0, seconds / 3))
        await asyncio.to_thread(fault)
        stats = await task
        all_turns.update(stats.turns)
        return stats

    for mode in ("429", "500", "hang"):
        stats = await under_traffic(8, lambda mode=mode: model.mode(mode))
        model.mode("ok")
        back = await recovered(apps[0], headers)
        say(
            f"   model answering {mode}: {stats.line(8)}; the primary model answers again after {back:.1f} s"
            if back is not None
            else f"   model answering {mode}: NOT RECOVERED; {stats.line(8)}"
        )

    stats = await under_traffic(8, top.chroma.stop)
    say(f"   Chroma server stopped: {stats.line(8)}; replies without citations {stats.uncited}")
    top.chroma.start()
    back = await recovered(apps[1], headers, cited=True)
    say(
        f"   Chroma server back: cited replies again after {back:.1f} s"
        if back is not None
        else "   Chroma: NOT RECOVERED"
    )

    jobs = enqueue_jobs(top, 5, 0.5)
    stats = await under_traffic(8, redis.shutdown)
    more = enqueue_jobs(top, 5, 0.5)  # while Redis is down: the table poll runs them
    redis.start()
    back = await recovered(apps[0], headers)
    say(
        f"   Redis restarted (shutdown nosave): {stats.line(8)}; service answers after {back or -1:.1f} s; "
        + await jobs_done(top, jobs + more, 120)
    )

    stats = await under_traffic(10, pg.restart)
    back = await recovered(apps[1], headers)
    say(f"   PostgreSQL restarted: {stats.line(10)}; service answers again after {back or -1:.1f} s")

    ids = enqueue_jobs(top, 6, 3.0)
    await asyncio.sleep(4)
    worker = top.workers[0]
    await asyncio.to_thread(worker.kill)
    replacement = top._worker(1).start()
    top.workers.append(replacement)
    say("   worker killed with SIGKILL mid-job, a new one started: " + await jobs_done(top, ids, 600))

    victim = top.apps[0]
    stats_task = asyncio.create_task(traffic([apps[1], apps[0]], headers, order, 12, 10))
    await asyncio.sleep(3)
    await asyncio.to_thread(victim.kill)
    stats = await stats_task
    all_turns.update(stats.turns)
    await asyncio.to_thread(victim.start, 900)
    # The killed process's running turns: marked failed by the sweep, then retried on the other process.
    stale_after = float(top.env["DESKPILOT_TURN_STALE_AFTER_S"])
    await asyncio.sleep(stale_after + 2 * float(top.env["DESKPILOT_MAINTENANCE_INTERVAL_S"]))
    retried = await retry_failed(top, apps[1], headers)
    say(f"   app process killed with SIGKILL mid-turns and restarted: {stats.line(12)}; {retried}")
    say("   after every fault: " + ledger(top.engine, all_turns))


async def retry_failed(top: Topology, base: str, headers: dict[str, str]) -> str:
    with Session(top.engine) as session:
        failed = list(session.exec(select(Turn).where(Turn.status.in_(("failed", "running")))))  # type: ignore[attr-defined]
    outcomes: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=90) as client:
        for turn in failed:
            if turn.status == "running":
                outcomes["still running"] += 1
                continue
            reply = await client.post(
                f"{base}/v1/conversations/{turn.conversation_id}/turns/{turn.id}/retry", headers=headers
            )
            outcomes[str(reply.status_code)] += 1
    return f"{len(failed)} failed or running turns, retried: {dict(outcomes)}"


# What schemathesis' checks report, by kind: the abuse battery's bar is 0 server errors and 0 schema
# violations (the answer's status, media type, headers or body not as /openapi.json says).
SCHEMA_VIOLATIONS = frozenset(
    {
        "JsonSchemaError",
        "MalformedJson",
        "UndefinedStatusCode",
        "UndefinedContentType",
        "MissingContentType",
        "MalformedMediaType",
        "MissingHeaders",
    }
)


@dataclass
class Tally:
    """Every answer of a schemathesis run and every failed check, by kind."""

    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    other: Counter[str] = field(default_factory=Counter)  # checks about the API's rules, not its schema
    stateful: int = 0  # answers within stateful sequences

    def record(self, case: Any, response: Any, label: str) -> None:
        self.statuses[response.status_code] += 1
        try:
            case.validate_response(response)
        except BaseExceptionGroup as group:
            for failure in group.exceptions:
                self._failure(failure, f"{label} {case.operation.label} -> {response.status_code}")
        except Exception as failure:  # noqa: BLE001 - a single failure, not a group
            self._failure(failure, f"{label} {case.operation.label} -> {response.status_code}")

    def _failure(self, failure: BaseException, where: str) -> None:
        kind = type(failure).__name__
        if kind == "ServerError":
            self.server_errors.append(where)
        elif kind in SCHEMA_VIOLATIONS:
            message = (getattr(failure, "message", "") or str(failure)).strip().splitlines()
            self.violations.append(f"{where}: {kind} {message[0][:160] if message else ''}")
        else:
            self.other[kind] += 1

    def line(self) -> str:
        return (
            f"{sum(self.statuses.values())} requests, {len(self.server_errors)} server errors "
            f"{sorted(set(self.server_errors))[:10]}, {len(self.violations)} schema violations "
            f"{sorted(set(self.violations))[:10]}; other checks failed {dict(self.other)}; "
            f"statuses {dict(sorted(self.statuses.items()))}"
        )


class TimeUp(Exception):
    """A run's share of the time is over (raised between steps, so no request is cut off)."""


def schemathesis_run(
    schema: Any, base: str, headers: dict[str, str], label: str, until: float, tally: Tally
) -> None:
    """Every operation with generated data (each response checked with all of schemathesis' checks), then
    stateful sequences that follow the OpenAPI links (a conversation created, then messaged, drafted,
    handed back, forgotten; a message answered, then its turn retried, its approval decided...)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    operations = [result.ok() for result in schema.get_all_operations()]
    quick = settings(
        max_examples=3,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
        database=None,
    )
    single_until = until - (until - time.monotonic()) / 2  # half the share each

    @quick
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        for operation in operations:
            if time.monotonic() > single_until:
                return
            case = data.draw(operation.as_strategy(), label=operation.label)
            try:
                response = case.call(base_url=base, headers=headers, timeout=60)
            except Exception:  # noqa: BLE001 - a case the client cannot send (a number as a file)
                tally.statuses[0] += 1
                continue
            tally.record(case, response, label)

    fuzz()

    workflow = schema.as_state_machine()

    class Scoped(workflow):  # type: ignore[misc, valid-type]
        def before_call(self, case: Any) -> None:
            if time.monotonic() > until:
                raise TimeUp

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base, "headers": headers, "timeout": 60}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            tally.stateful += 1
            tally.record(case, response, f"{label} (stateful)")

    try:
        Scoped.run(
            settings=settings(
                max_examples=1000,
                stateful_step_count=8,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],
                database=None,
            )
        )
    except Exception as error:  # noqa: BLE001 - the time ran out mid-sequence (Hypothesis replays it and
        # calls it flaky), or the run broke: counted, and the battery goes on with the next scope
        if time.monotonic() <= until:
            tally.other[f"stateful run ended early ({type(error).__name__})"] += 1


def abuse_battery(top: Topology, model: Model, seconds: float) -> None:
    import schemathesis

    from tests.api.test_approvals import refundable_order
    from tests.support.cross_tenant import attack, make_resources, snapshot, unchanged

    say("\n== abuse")
    base = top.apps[0].base_url
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    tally = Tally()
    for scope in ALL:
        # Each scope gets its share of the time.
        until = time.monotonic() + seconds / len(ALL)
        schemathesis_run(schema, base, bearer(top.engine, "default", (scope,)), scope, until, tally)
    operations = len(list(schema.get_all_operations()))
    say(
        f"   schemathesis (all checks; status 0: a generated case the client could not send), "
        f"{operations} operations x 4 scopes, then stateful runs along the OpenAPI links "
        f"({tally.stateful} stateful steps): {tally.line()}"
    )

    model.mode("500")  # the offline engine proposes the refund the battery needs
    a_headers = bearer(top.engine, "default", ALL)
    b_headers = bearer(top.engine, "tenant-b", ALL)
    with (
        httpx.Client(base_url=top.apps[0].base_url, timeout=60) as a,
        httpx.Client(base_url=top.apps[1].base_url, timeout=60) as b,
    ):
        owned = make_resources(a, a_headers, refundable_order(top.engine), lambda: enqueue_jobs(top, 1, 0)[0])
        model.mode("ok")
        before = snapshot(a, a_headers, owned)
        b.post("/v1/conversations", json={}, headers=b_headers)
        violations = attack(b, b_headers, owned) + unchanged(a, a_headers, owned, before)
        control = len(attack(b, a_headers, owned))
    say(
        "   cross-tenant: conversations, messages, approvals, audit, usage, knowledge documents, "
        f"integrations, jobs: {len(violations)} reads or writes across tenants {violations[:5]} "
        "(control: tenant A's own key "
        f"reaches {control} of them)"
    )


def main() -> None:
    seconds = float(os.environ.get("SOAK_SECONDS", "600"))
    root = Path(tempfile.mkdtemp(prefix="deskpilot-soak-"))
    say(f"Deskpilot soak, {date.today()}: load {seconds:.0f} s; working in {root}")
    pg, redis = Postgres(root).start(), Redis().start()
    model = Model(root, float(os.environ.get("SOAK_MODEL_DELAY_S", "0.3")))
    env = {
        "PYTHONPATH": str(REPO),
        "OPENAI_API_KEY": "sk-soak",
        "DESKPILOT_LLM_BASE_URL": model.base_url,
        "DESKPILOT_FALLBACK_MODELS": "[]",
        "DESKPILOT_LLM_TIMEOUT_S": "5",
        "DESKPILOT_LLM_MAX_RETRIES": "0",
        "DESKPILOT_BREAKER_RESET_S": "5",
        "DESKPILOT_JOB_HANDLERS": '["tests.api.job_handlers"]',
        "DESKPILOT_JOB_LEASE_S": "5",
        "DESKPILOT_JOB_POLL_S": "0.5",
        "DESKPILOT_TURN_STALE_AFTER_S": "20",
        "DESKPILOT_MAINTENANCE_INTERVAL_S": "5",
        "DESKPILOT_RATE_LIMIT_PER_MINUTE": "0",
        "DESKPILOT_TENANT_RATE_LIMIT_PER_MINUTE": "0",
        "DESKPILOT_TENANT_CONCURRENT_TURNS": "0",
        "DESKPILOT_LOG_LEVEL": "WARNING",
    }
    top = Topology(root / "topology", pg_server=pg.url, redis_url=redis.url, env=env)
    try:
        started = time.monotonic()
        top.start(timeout_s=900)
        say(
            f"topology up in {time.monotonic() - started:.0f} s: "
            "2 x serve, 1 x worker, PostgreSQL, Redis, chroma run"
        )
        from tools.backends.sql import SqlStoreBackend
        from tools.demo_data import seed_demo

        seed_demo(top.engine, tenant="default", today=date.today())
        job_handlers.create_tables(top.engine)
        admin = bearer(top.engine, "default", ("agent", "admin"))
        for doc in sorted((REPO / "knowledge" / "docs").glob("*.md")):
            httpx.post(
                f"{top.apps[0].base_url}/v1/knowledge/documents",
                headers=admin,
                timeout=300,
                files={"file": (doc.name, doc.read_bytes())},
            ).raise_for_status()
        profile = SqlStoreBackend(top.engine).customer_profile("default", "CUS-1001")
        assert profile is not None
        order = profile.orders[0].order_number
        batteries = os.environ.get("SOAK_BATTERIES", "load,faults,abuse").split(",")
        if "load" in batteries:
            asyncio.run(load_battery(top, admin, order, seconds))
        if "faults" in batteries:
            asyncio.run(faults_battery(top, pg, redis, model, admin, order))
        if "abuse" in batteries:
            abuse_battery(top, model, float(os.environ.get("SOAK_ABUSE_SECONDS", "180")))
    finally:
        top.stop()
        model.stop()
        redis.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
