"""Redaction latency per message (p50/p95), ~250 characters and ~2 KB, ours next to stock Presidio; the
analyzer's load time and memory.

Besides wall time, the CPU time of the measuring thread is given: on a shared machine the wall time mostly
measures the neighbours, the CPU time much less so."""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SHORT_TEMPLATES = [
    "Hi, I'm {name}. Order ORD-{order} arrived damaged; please call me on {phone} or email {email}. Thanks!",
    "Please ship the replacement to {street}, {city} {zip}. Card {card} was charged twice for ORD-{order}.",
    "hello, my name is {lower_name}, the tent NB-TENT-2P leaks. Refund to IBAN {iban}, ticket TCK-{order}.",
    "Dear support, {name} here. I moved to {street}, {city}. Please update CUS-{order}, confirm by {email}",
]
FILLER = (
    " The zipper broke on the second night and the rain fly tore along the seam, so we packed up early."
    " I have been a customer for years and never had a problem before, so I hope this can be sorted quickly."
)
NAMES = ["Dana Whitfield", "Priya Raman", "Tomasz Wojcik", "Keiko Tanaka", "Jonas Becker", "Amelia Hart"]
STREETS = [
    "18 Larkspur Lane",
    "742 Evergreen Terrace",
    "Kastanienallee 12",
    "55 Harbour Road",
    "Via Roma 131",
]
CITIES = ["Leeds", "Springfield", "Berlin", "Cork", "Montafia"]


def make_message(rng: random.Random, target_chars: int) -> str:
    """A support message with PII and Deskpilot ids, padded with prose to about `target_chars`."""
    name = rng.choice(NAMES)
    fields = {
        "name": name,
        "lower_name": name.lower(),
        "order": f"{rng.randrange(10**6):06d}",
        "phone": f"0{rng.randrange(100, 999)} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
        "email": name.lower().replace(" ", ".") + "@example.com",
        "street": rng.choice(STREETS),
        "city": rng.choice(CITIES),
        "zip": f"{rng.randrange(10000, 99999)}",
        "card": "4111 1111 1111 1111",
        "iban": "GB82 WEST 1234 5698 7654 32",
    }
    text = rng.choice(SHORT_TEMPLATES).format(**fields)
    while len(text) < target_chars:
        text += (
            FILLER
            if len(text) + len(FILLER) <= target_chars + 60
            else " " + rng.choice(SHORT_TEMPLATES).format(**fields)
        )
    return text[: target_chars + 60]


def measure(run: Callable[[str], object], messages: list[str]) -> tuple[float, float, float]:
    """Wall p50 and p95 and CPU-time p50, in milliseconds (after one warm-up call)."""
    run(messages[0])
    timings, cpu = [], []
    for message in messages:
        started, started_cpu = time.perf_counter(), time.thread_time()
        run(message)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    quantiles = statistics.quantiles(timings, n=20)
    return statistics.median(timings), quantiles[18], statistics.median(cpu)


def model_share(analyzer: object, texts: list[str]) -> float:
    """How many of `texts` the analyzer sent through its model pass (the rest cost the rules only)."""
    model_pass = getattr(analyzer, "model_pass", None)
    if model_pass is None:
        return 1.0
    calls = 0
    original = model_pass.analyze

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    model_pass.analyze = counted
    try:
        for text in texts:
            analyzer.analyze(text, "en")  # type: ignore[attr-defined]
    finally:
        del model_pass.analyze
    return calls / len(texts)


def rss_mb() -> float:
    """This process's resident memory now (Linux), in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    from cryptography.fernet import Fernet

    from agent.pii import PiiVault, Redactor, build_analyzer
    from agent.pii.engine import build_stock_analyzer
    from api.db import make_engine
    from bench.pii_generated import fresh_seed
    from bench.pii_messages import Generator

    rng = random.Random(7)
    short = [make_message(rng, 250) for _ in range(200)]
    long = [make_message(rng, 2000) for _ in range(60)]
    # Messages the recognizers were not written against: Faker values in the generated set's templates.
    seed = fresh_seed()
    generator = Generator(seed)
    generated = [m.text for m in generator.messages(200)] + generator.clean_messages(100)

    before, started = rss_mb(), time.perf_counter()
    ours_analyzer = build_analyzer()
    load_s, load_mb = time.perf_counter() - started, rss_mb() - before
    pipes = ", ".join(ours_analyzer.nlp_engine.nlp["en"].pipe_names)  # type: ignore[attr-defined]
    print(
        f"our analyzer: loaded in {load_s:.1f} s, +{load_mb:.0f} MB RSS (process {rss_mb():.0f} MB); "
        f"spaCy pipes: {pipes}"
    )
    stock = build_stock_analyzer()
    with tempfile.TemporaryDirectory() as tmp:
        # The service's own SQLite settings (WAL, synchronous=NORMAL): a vault commit as a turn makes it.
        engine = make_engine(f"sqlite:///{Path(tmp) / 'vault.db'}")
        redactor = Redactor(ours_analyzer, PiiVault(engine, Fernet.generate_key()))
        counter = iter(range(10**9))

        def ours_redact(text: str) -> object:
            # A new conversation each time: the vault writes its rows, the worst case for a first turn.
            return redactor.redact(text, tenant="bench", conversation_id=f"c{next(counter)}")

        rows = [
            ("Redactor.redact (analysis + vault)", ours_redact),
            ("our analyzer only", lambda text: ours_analyzer.analyze(text, "en")),
            ("stock Presidio analyzer", lambda text: stock.analyze(text, "en")),
        ]
        print("PII redaction latency per message, milliseconds (same spaCy model, same process, 1 thread)")
        print(
            f"{'':38} {'~250 chars p50':>15} {'p95':>7} {'cpu p50':>8} {'~2 KB p50':>11} {'p95':>7} "
            f"{'cpu p50':>8}"
        )
        for name, run in rows:
            s50, s95, scpu = measure(run, short)
            l50, l95, lcpu = measure(run, long)
            print(f"{name:38} {s50:15.1f} {s95:7.1f} {scpu:8.1f} {l50:11.1f} {l95:7.1f} {lcpu:8.1f}")
        g50, g95, gcpu = measure(ours_redact, generated)
        print(
            f"Redactor.redact on {len(generated)} generated messages (seed {seed}, "
            f"~{sum(map(len, generated)) // len(generated)} chars): p50 {g50:.1f}, p95 {g95:.1f}, "
            f"cpu p50 {gcpu:.1f}"
        )
        for label, texts in (("~250 chars", short), ("~2 KB", long), ("generated", generated)):
            share = model_share(ours_analyzer, texts)
            print(f"share of messages that needed spaCy's model ({label}): {share:.2f}")
        print(f"load average (1 min) while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        engine.dispose()
    print(
        f"messages: {len(short)} of ~{sum(map(len, short)) // len(short)} chars, "
        f"{len(long)} of ~{sum(map(len, long)) // len(long)} chars"
    )


if __name__ == "__main__":
    main()
