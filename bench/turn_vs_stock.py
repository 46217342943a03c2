"""Deskpilot's turn against a stock LangGraph + Presidio + Chroma assembly, side by side, over HTTP.

`python -m bench.turn_vs_stock` (part of `make bench`). Both servers run in their own processes on the
same machine, on the same tau2 banking help documents and demo store, against the same local
OpenAI-compatible model process (bench/model_server.py). Generated 3-turn support conversations (the
seed is printed) alternate between the two, so machine noise hits both alike. Then, for Deskpilot:
throughput at saturation with one and two processes, 100 simulated conversations with a 300 ms model,
cold start of `serve` to ready, and resident memory after warm-up.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import ServeProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
TAU2_DOCS = ROOT.parent / "shared" / "eval-data" / "tau2-banking-knowledge" / "documents"
CONVERSATIONS = int(os.environ.get("BENCH_CONVERSATIONS", "40"))  # x 3 turns on each side
SATURATION_S = float(os.environ.get("BENCH_SATURATION_S", "15"))
SIMULATED = int(os.environ.get("BENCH_SIMULATED", "100"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- the data both sides share ------------------------------------------------------------------------


def tau2_documents() -> list[dict[str, str]]:
    import json

    return [json.loads(p.read_text()) for p in sorted(TAU2_DOCS.glob("*.json"))]


def conversations(seed: int, orders: list[str], count: int) -> list[list[str]]:
    """Fresh support messages each run: names, e-mails and phones from Faker, real order numbers."""
    from faker import Faker

    fake = Faker(["en_US", "en_GB"])
    fake.seed_instance(seed)
    rng = random.Random(seed)
    openers = [
        "Hi, I'm {name} ({email}). Where is my order {order}?",
        "hello, order {order} still hasn't arrived. my number is {phone}",
        "{name} here - can you check {order} for me please?",
        "Good morning, what's the status of {order}? Thanks, {name}",
    ]
    follow_ups = [
        "Can I get a refund for it if it doesn't come?",
        "How long do refunds take to reach my card?",
        "Do you ship to Canada, and what does it cost?",
        "Thanks. Also, how do I change my password?",
    ]
    return [
        [
            rng.choice(openers).format(
                name=fake.name(), email=fake.email(), phone=fake.phone_number(), order=rng.choice(orders)
            ),
            rng.choice(follow_ups),
            rng.choice(follow_ups),
        ]
        for _ in range(count)
    ]


def prepare_home(home: Path) -> tuple[list[str], str]:
    """Demo store + tau2 help documents for Deskpilot, the same documents for the stock side."""
    from api.auth import create_key
    from api.db import create_schema, make_engine
    from api.runtime import build_knowledge
    from api.settings import Settings
    from bench.stock_app import load_documents
    from knowledge.ingest import ingest_paths
    from tools.backends.sql import SqlStoreBackend
    from tools.demo_data import seed_demo

    engine = make_engine(f"sqlite:///{home / 'deskpilot.db'}")
    create_schema(engine)
    seed_demo(engine, tenant="default", today=date.today())
    _, key = create_key(engine, tenant="default", scopes=["agent", "admin"])
    profile = SqlStoreBackend(engine).customer_profile("default", "CUS-1001")
    assert profile is not None
    orders = [o.order_number for o in profile.orders]
    engine.dispose()
    settings = Settings(_env_file=None, home=home)  # type: ignore[call-arg]
    ingest_paths(build_knowledge(settings), "default", [TAU2_DOCS])
    load_documents(home, tau2_documents())
    return orders, key


# --- processes -----------------------------------------------------------------------------------------


def start_model(delay_s: float = 0.0) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.model_server", str(delay_s)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def deskpilot_env(home: Path, model_url: str) -> dict[str, str]:
    return {
        "DESKPILOT_HOME": str(home),
        "OPENAI_API_KEY": "sk-test",
        "DESKPILOT_LLM_BASE_URL": model_url,
        "DESKPILOT_FALLBACK_MODELS": "[]",
        "DESKPILOT_LLM_MAX_RETRIES": "0",
        "ORT_DISABLE_TELEMETRY": "1",
        # The benchmark measures the turn, not the limits that protect a shared deployment from one key.
        "DESKPILOT_RATE_LIMIT_PER_MINUTE": "0",
        "DESKPILOT_TENANT_RATE_LIMIT_PER_MINUTE": "0",
        "DESKPILOT_TENANT_CONCURRENT_TURNS": "0",
    }


class StockServer:
    def __init__(self, home: Path, model_url: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.stock_app", str(self.port), str(home), model_url], cwd=ROOT
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise TimeoutError("the stock assembly did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- clients -------------------------------------------------------------------------------------------


class DeskpilotClient:
    def __init__(self, base_url: str, key: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120)

    def new_conversation(self) -> str:
        return str(self.http.post("/v1/conversations", json={"customer_id": "CUS-1001"}).json()["id"])

    def turn(self, conversation: str, text: str) -> float:
        started = time.perf_counter()
        response = self.http.post(f"/v1/conversations/{conversation}/messages", json={"content": text})
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"deskpilot answered {response.status_code}: {response.text[:200]}")
        return elapsed


class StockClient:
    def __init__(self, port: int) -> None:
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
        self.count = 0

    def new_conversation(self) -> str:
        self.count += 1
        return f"c{self.count}"

    def turn(self, conversation: str, text: str) -> float:
        started = time.perf_counter()
        response = self.http.post("/chat", json={"conversation_id": conversation, "text": text})
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        return elapsed


def side_by_side(
    deskpilot: DeskpilotClient, stock: StockClient, talks: list[list[str]]
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"deskpilot": [], "stock": []}
    for index, talk in enumerate(talks):
        ids = {"deskpilot": deskpilot.new_conversation(), "stock": stock.new_conversation()}
        order = ("deskpilot", "stock") if index % 2 == 0 else ("stock", "deskpilot")
        for text in talk:
            for side in order:  # alternated turn by turn
                client: Any = deskpilot if side == "deskpilot" else stock
                timings[side].append(client.turn(ids[side], text))
    warm = 3  # the first conversation warms caches on both sides
    return {side: values[warm:] for side, values in timings.items()}


def saturate(
    clients: list[DeskpilotClient], talks: list[list[str]], seconds: float, workers: int = 16
) -> float:
    """Turns per second with `workers` conversations always waiting on an instant model."""
    done = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def work(worker: int) -> None:
        nonlocal done
        client = clients[worker % len(clients)]
        rng = random.Random(worker)
        while time.monotonic() < stop_at:
            conversation = client.new_conversation()
            for text in rng.choice(talks):
                if time.monotonic() >= stop_at:
                    return
                client.turn(conversation, text)
                with lock:
                    done += 1

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(work, range(workers)))
    return done / (time.monotonic() - started)


def simulated_conversations(
    client_for: Callable[[], DeskpilotClient], talks: list[list[str]], model_ms: float
) -> list[float]:
    """Each conversation sends a turn, waits 2 s, sends the next: added latency over the model's own."""
    added: list[float] = []
    lock = threading.Lock()

    def converse(index: int) -> None:
        client = client_for()
        time.sleep(index * 0.02)  # arrivals spread over the first two seconds
        conversation = client.new_conversation()
        for text in talks[index % len(talks)]:
            elapsed = client.turn(conversation, text)
            model_calls = 2 if "ORD-" in text else 1
            with lock:
                added.append(elapsed - model_calls * model_ms)
            time.sleep(2.0)

    with ThreadPoolExecutor(max_workers=SIMULATED) as pool:
        list(pool.map(converse, range(SIMULATED)))
    return added


def cold_start(env: dict[str, str]) -> float:
    started = time.perf_counter()
    server = ServeProcess(env).start(timeout_s=120)
    elapsed = time.perf_counter() - started
    server.stop()
    return elapsed


# --- the run -------------------------------------------------------------------------------------------


def main() -> None:
    seed = int(os.environ.get("BENCH_SEED", random.SystemRandom().randrange(1_000_000)))
    print(f"seed {seed} (BENCH_SEED={seed} replays these messages)")
    home = Path(tempfile.mkdtemp(prefix="deskpilot-bench-"))
    processes: list[Any] = []
    try:
        orders, key = prepare_home(home)
        talks = conversations(seed, orders, CONVERSATIONS + 1)
        model, model_url = start_model()
        processes.append(model)
        env = deskpilot_env(home, model_url)

        stock = StockServer(home, model_url)
        processes.append(stock)
        server = ServeProcess(env, log=home / "serve.log").start(timeout_s=120)
        processes.append(server)
        timings = side_by_side(DeskpilotClient(server.base_url, key), StockClient(stock.port), talks)
        stock.stop()
        ours, theirs = timings["deskpilot"], timings["stock"]
        print(
            f"one turn over HTTP, {len(ours)} turns each, instant model, tau2 banking docs (698), alternated"
        )
        for name, values in (("Deskpilot", ours), ("stock assembly", theirs)):
            print(
                f"  {name:15s} p50 {percentile(values, 0.5):6.1f} ms   p95 {percentile(values, 0.95):6.1f} ms"
            )
        print(
            f"  ratio (Deskpilot / stock) p50 {percentile(ours, 0.5) / percentile(theirs, 0.5):.2f}   "
            f"p95 {percentile(ours, 0.95) / percentile(theirs, 0.95):.2f}"
        )
        print(f"  resident memory of serve after warm-up: {rss_mb(server.process.pid):.0f} MB")  # type: ignore[union-attr]

        one = saturate([DeskpilotClient(server.base_url, key)], talks, SATURATION_S)
        second = ServeProcess(env, log=home / "serve2.log").start(timeout_s=120)
        processes.append(second)
        two = saturate(
            [DeskpilotClient(server.base_url, key), DeskpilotClient(second.base_url, key)],
            talks,
            SATURATION_S,
        )
        print(
            f"throughput at saturation (16 conversations, instant model): one process {one:.1f} turns/s, "
            f"two processes {two:.1f} turns/s"
        )
        second.stop()
        server.stop()
        model.terminate()

        slow_model, slow_url = start_model(0.3)
        processes.append(slow_model)
        slow = ServeProcess(deskpilot_env(home, slow_url), log=home / "serve3.log").start(timeout_s=120)
        processes.append(slow)
        added = simulated_conversations(lambda: DeskpilotClient(slow.base_url, key), talks, 300.0)
        print(
            f"{SIMULATED} simulated conversations (2 s between turns, 300 ms model): added latency "
            f"p50 {percentile(added, 0.5):.1f} ms   p95 {percentile(added, 0.95):.1f} ms   "
            f"mean {statistics.fmean(added):.1f} ms"
        )
        slow.stop()
        print(f"cold start of serve to ready: {cold_start(deskpilot_env(home, slow_url)):.2f} s")
    finally:
        for process in processes:
            with contextlib.suppress(Exception):  # best effort on the way out
                process.stop() if hasattr(process, "stop") else process.terminate()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
