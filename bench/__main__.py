"""Runs every benchmark (or the ones named) and prints their figures: `python -m bench [name ...]`."""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = [
    "turn_latency",
    "turn_vs_stock",
    "pii_latency",
    "pii_eval",
    "pii_generated",
    "knowledge_bench",
    "retrieval_eval",
    "cache_sim",
    "webhook_bench",
    "html_loader",
]


def main(names: list[str]) -> int:
    failed = []
    for name in names or BENCHMARKS:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as error:
            print(f"\n== {name}: skipped ({error})")
            continue
        print(f"\n== {name} ==", flush=True)
        started = time.perf_counter()
        try:
            module.main()
        except Exception as error:  # noqa: BLE001 - one broken benchmark must not hide the others
            failed.append(name)
            print(f"!! {name} failed: {type(error).__name__}: {error}")
        print(f"-- {name} took {time.perf_counter() - started:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
