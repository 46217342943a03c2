"""Turn latency of run_turn on embedded defaults with the offline engine: p50/p95 over 200 turns."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

TURNS = 200
MESSAGES = [
    "Where is my order {order}?",
    "Can I get a refund for it?",
    "How long does a refund take to reach my card?",
    "Hi, I'm Dana Whitfield (dana.w@example.com, +1 415 555 0142). What's the status of {order}?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(turns: int = TURNS) -> dict[str, float]:
    from api.runtime import open_runtime
    from api.settings import Settings
    from knowledge import DEMO_DOCS_DIR
    from knowledge.ingest import ingest_paths
    from tools.demo_data import seed_demo

    with tempfile.TemporaryDirectory() as home:
        settings = Settings(_env_file=None, home=Path(home), force_offline=True)  # type: ignore[call-arg]
        async with open_runtime(settings) as runtime:
            seed_demo(runtime.engine, tenant="default", today=date.today())
            ingest_paths(runtime.knowledge, "default", [DEMO_DOCS_DIR])
            profile = runtime.backend.customer_profile("default", "CUS-1001")
            assert profile is not None
            order = profile.orders[0].order_number
            service = runtime.conversations
            timings: list[float] = []
            conversation = ""
            for i in range(turns + 4):  # the first 4 turns warm caches and are not counted
                if i % 4 == 0:
                    conversation = service.create(
                        tenant="default", customer_id="CUS-1001", channel="bench", actor="bench"
                    ).id
                text = MESSAGES[i % 4].format(order=order)
                started = time.perf_counter()
                await service.send(
                    tenant="default",
                    conversation_id=conversation,
                    text=text,
                    customer_id="CUS-1001",
                    actor="bench",
                )
                if i >= 4:
                    timings.append((time.perf_counter() - started) * 1000)
    return {
        "turns": len(timings),
        "p50_ms": percentile(timings, 0.5),
        "p95_ms": percentile(timings, 0.95),
        "mean_ms": statistics.fmean(timings),
    }


def main() -> None:
    figures = asyncio.run(run())
    print("run_turn, offline engine, Presidio + Chroma hybrid retrieval + SQLite store + checkpoints")
    print(
        f"  turns {figures['turns']}   p50 {figures['p50_ms']:.1f} ms   p95 {figures['p95_ms']:.1f} ms   "
        f"mean {figures['mean_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
