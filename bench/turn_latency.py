"""Turn latency and per-turn cost of a turn in-process, on embedded defaults.

`python -m bench.turn_latency`: p50/p95 over 200 sequential turns with the offline engine, then the cost of
a turn with an instant local OpenAI-compatible model (bench/model_server.py, in its own process, so the
openai SDK's request path is measured too): turns/s with 8 conversations at once, the CPU seconds this
process spends per turn (all threads: the figure that holds on a loaded machine, where wall times do not),
and the writes a turn makes (SQLAlchemy commits, checkpoint writes, checkpoint reads).

`--profile` keeps the process alive under the saturation run long enough for `py-spy record -p PID`.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

TURNS = 200
SATURATION_TURNS = 240
CONCURRENT = 8
MESSAGES = [
    "Where is my order {order}?",
    "Can I get a refund for it?",
    "How long does a refund take to reach my card?",
    "Hi, I'm Dana Whitfield (dana.w@example.com, +1 415 555 0142). What's the status of {order}?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class WriteCounter:
    """Counts what turns cost in storage round trips: SQLAlchemy commits, checkpoint writes and reads."""

    def __init__(self, runtime: Any) -> None:
        from sqlalchemy import event

        self.counts: Counter[str] = Counter()
        event.listen(runtime.engine, "before_cursor_execute", self._statement)
        event.listen(runtime.engine, "commit", self._commit)
        graph = runtime.agent.graph
        saver = graph.checkpointer
        for name, label in (("aput", "checkpoint_puts"), ("aput_writes", "checkpoint_writes")):
            setattr(saver, name, self._counted(getattr(saver, name), label))
        graph.aget_state = self._counted(graph.aget_state, "aget_state")

    def _statement(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            conn.info["deskpilot.wrote"] = True

    def _commit(self, conn: Any) -> None:
        """Every commit, and apart those of transactions that wrote (a read's commit writes nothing)."""
        self.counts["sql_commits"] += 1
        if conn.info.pop("deskpilot.wrote", False):
            self.counts["sql_write_transactions"] += 1

    def _counted(self, method: Any, label: str) -> Any:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.counts[label] += 1
            return await method(*args, **kwargs)

        return counted

    def per_turn(self, turns: int) -> dict[str, float]:
        return {label: count / turns for label, count in sorted(self.counts.items())}


@asynccontextmanager
async def bench_runtime(home: Path, model_url: str | None = None) -> AsyncIterator[tuple[Any, str]]:
    """A runtime on a fresh home with the demo store and help centre; (runtime, an order number)."""
    from api.runtime import open_runtime
    from api.settings import Settings
    from knowledge import DEMO_DOCS_DIR
    from knowledge.ingest import ingest_paths
    from tools.demo_data import seed_demo

    model: dict[str, Any] = (
        {
            "openai_api_key": "sk-bench",
            "llm_base_url": model_url,
            "fallback_models": [],
            "llm_max_retries": 0,
        }
        if model_url
        else {"force_offline": True}
    )
    settings = Settings(_env_file=None, home=home, **model)  # type: ignore[call-arg]
    async with open_runtime(settings) as runtime:
        seed_demo(runtime.engine, tenant="default", today=date.today())
        ingest_paths(runtime.knowledge, "default", [DEMO_DOCS_DIR])
        profile = runtime.backend.customer_profile("default", "CUS-1001")
        assert profile is not None
        yield runtime, profile.orders[0].order_number


async def converse(service: Any, order: str, turns: int, timings: list[float] | None = None) -> None:
    """One customer after another, 4 turns each."""
    conversation = ""
    for i in range(turns):
        if i % 4 == 0:
            conversation = service.create(
                tenant="default", customer_id="CUS-1001", channel="bench", actor="bench"
            ).id
        started = time.perf_counter()
        await service.send(
            tenant="default",
            conversation_id=conversation,
            text=MESSAGES[i % 4].format(order=order),
            customer_id="CUS-1001",
            actor="bench",
        )
        if timings is not None:
            timings.append((time.perf_counter() - started) * 1000)


async def run(turns: int = TURNS) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        async with bench_runtime(Path(home)) as (runtime, order):
            await converse(runtime.conversations, order, 4)  # warms caches, not counted
            timings: list[float] = []
            await converse(runtime.conversations, order, turns, timings)
    return {
        "turns": len(timings),
        "p50_ms": percentile(timings, 0.5),
        "p95_ms": percentile(timings, 0.95),
        "mean_ms": statistics.fmean(timings),
    }


async def cost(
    turns: int = SATURATION_TURNS, concurrent: int = CONCURRENT, hold_s: float = 0.0, threads: int = 0
) -> dict[str, Any]:
    """Turns/s and CPU per turn with `concurrent` conversations at once on an instant model."""
    from bench.turn_vs_stock import start_model

    model, model_url = start_model()
    try:
        with tempfile.TemporaryDirectory() as home:
            async with bench_runtime(Path(home), model_url) as (runtime, order):
                await converse(runtime.conversations, order, 8)  # warm-up
                counter = WriteCounter(runtime)
                if threads:  # the worker threads turns share (anyio's default: 40)
                    import anyio.to_thread

                    anyio.to_thread.current_default_thread_limiter().total_tokens = threads
                if hold_s:
                    print(f"pid {__import__('os').getpid()}: profiling window {hold_s:.0f} s", flush=True)
                    turns = max(turns, int(hold_s * 8))
                each = turns // concurrent
                cpu, wall = time.process_time(), time.perf_counter()
                await asyncio.gather(
                    *(converse(runtime.conversations, order, each) for _ in range(concurrent))
                )
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                done = each * concurrent
                return {
                    "turns": done,
                    "turns_per_s": done / wall,
                    "cpu_ms_per_turn": cpu * 1000 / done,
                    "per_turn": counter.per_turn(done),
                }
    finally:
        model.terminate()
        model.wait(timeout=30)


def main() -> None:
    hold = float(sys.argv[sys.argv.index("--profile") + 1]) if "--profile" in sys.argv else 0.0
    if not hold and "--cost-only" not in sys.argv:
        figures = asyncio.run(run())
        print("run_turn, offline engine, Presidio + Chroma hybrid retrieval + SQLite store + checkpoints")
        print(
            f"  turns {figures['turns']}   p50 {figures['p50_ms']:.1f} ms   p95 {figures['p95_ms']:.1f} ms   "
            f"mean {figures['mean_ms']:.1f} ms"
        )
    turns = int(sys.argv[sys.argv.index("--turns") + 1]) if "--turns" in sys.argv else SATURATION_TURNS
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 0
    spent = asyncio.run(cost(turns, hold_s=hold, threads=threads))
    print(
        f"instant local model (openai SDK), {CONCURRENT} conversations at once, {spent['turns']} turns: "
        f"{spent['turns_per_s']:.1f} turns/s, {spent['cpu_ms_per_turn']:.1f} ms CPU per turn (this process, "
        "all threads)"
    )
    print("  per turn: " + ", ".join(f"{k} {v:.2f}" for k, v in spent["per_turn"].items()))


if __name__ == "__main__":
    main()
