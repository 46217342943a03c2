"""Knowledge-base figures: ingestion rate (chunks/s) and query latency p50/p95 at 1k, 10k and 100k chunks.

`python -m bench.knowledge_bench` (also part of `make bench`). Prints a table and writes
`bench/out/knowledge_latency.png`.

How each size is filled, so the run stays within a few minutes on 2 cores:
- 1k chunks go through the real path: MiniLM embeddings computed here, then Chroma upserts. Its rate is
  the end-to-end ingestion rate.
- 10k and 100k chunks get precomputed random unit vectors written straight to Chroma (embedding 100k
  chunks would take most of an hour here). Their rate is the storage-side rate only.
Chunk texts are synthetic: sentences of the bundled help articles, shuffled, plus SKU-like codes, so the
keyword index sees a realistic vocabulary. Queries are real questions (embedded for real every time):
short ones (the demo questions, ~50 characters) in every mode, and long ones (~500 characters: several
questions in one message, as customers write them) in hybrid mode, where they are searched piece by piece.
For the long query it also counts the embedding calls and tokens per search: those do not depend on how
loaded the machine is, the milliseconds do.
"""

from __future__ import annotations

import random
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.retrieval_eval import demo_cases
from knowledge import DEMO_DOCS_DIR
from knowledge.models import ChunkRecord
from knowledge.store import KnowledgeBase, SearchMode

SIZES = (1_000, 10_000, 100_000)
REAL_EMBEDDING_UP_TO = 1_000
QUERIES_PER_MODE = 60
LONG_CHARS = 500
MODES: tuple[SearchMode, ...] = ("hybrid", "vector", "keyword")
LONG = "hybrid 500"  # the long query's column
OUT = Path(__file__).resolve().parent / "out"


def _sentences() -> list[str]:
    text = " ".join(p.read_text() for p in sorted(DEMO_DOCS_DIR.glob("*.md")))
    text = re.sub(r"[#|*`>-]+", " ", text)
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if 30 <= len(s.strip()) <= 300]


def synthetic_chunks(count: int, start: int, rng: random.Random, sentences: list[str]) -> list[ChunkRecord]:
    now = datetime.now(UTC).isoformat()
    records = []
    for i in range(start, start + count):
        doc = i // 8  # eight chunks per synthetic document
        body = " ".join(rng.sample(sentences, 4)) + f" Item NB-SYN-{i:06d}."
        records.append(
            ChunkRecord(
                chunk_id=f"syn-{doc:06d}:s:{i % 8}",
                document_id=f"syn-{doc:06d}",
                title=f"Synthetic article {doc}",
                section=f"Part {i % 8}",
                source=f"bench://synthetic/{doc}",
                text=body[:900],
                ingested_at=now,
            )
        )
    return records


def _unit_vectors(count: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.standard_normal((count, 384)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def long_queries(questions: list[str], count: int, rng: random.Random) -> list[str]:
    """Messages of up to LONG_CHARS characters made of several questions, as a customer raising a few
    issues at once writes them."""
    out: list[str] = []
    while len(out) < count:
        text = ""
        for question in rng.sample(questions, len(questions)):
            if len(text) + 1 + len(question) > LONG_CHARS:
                continue
            text = f"{text} {question}".strip()
        out.append(text)
    return out


class CountingEmbedder:
    """Counts the embedding calls and tokens of the searches it sees (wraps the store's embedder)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.inner = kb.embedder
        self.calls = 0
        self.tokens = 0

    def embed_query(self, texts: list[str]) -> object:
        self.calls += 1
        tokenizer = getattr(self.inner, "tokenizer", None)
        if tokenizer is not None:
            self.tokens += sum(len(e.ids) for e in tokenizer.encode_batch(list(texts)))
        return self.inner.embed_query(texts)


def _latencies(kb: KnowledgeBase, tenant: str, queries: list[str], mode: SearchMode) -> tuple[float, float]:
    kb.search(tenant, queries[0], k=10, mode=mode)  # warm: keyword index build, first HNSW load
    samples = []
    for query in queries:
        started = time.perf_counter()
        kb.search(tenant, query, k=10, mode=mode)
        samples.append((time.perf_counter() - started) * 1000)
    p50, p95 = np.percentile(samples, [50, 95])
    return float(p50), float(p95)


def _plot(rows: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    sizes = [row["size"] for row in rows]
    for mode, colour in zip((*MODES, LONG), ("tab:blue", "tab:orange", "tab:green", "tab:red"), strict=True):
        axis.plot(sizes, [r[f"{mode}_p50"] for r in rows], "o-", color=colour, label=f"{mode} p50")
        axis.plot(
            sizes, [r[f"{mode}_p95"] for r in rows], "s--", color=colour, alpha=0.6, label=f"{mode} p95"
        )
    axis.set_xscale("log")
    axis.set_xlabel("chunks in the tenant's collection")
    axis.set_ylabel("search latency, k=10 (ms)")
    axis.set_title("Knowledge-base search latency vs size (embedded Chroma, 2 cores)", fontsize=10)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8, ncol=2)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    from api.settings import get_settings
    from knowledge import open_knowledge_base

    rng = random.Random(7)
    np_rng = np.random.default_rng(7)
    sentences = _sentences()
    queries = [case.query for case in demo_cases()]
    queries = (queries * (QUERIES_PER_MODE // len(queries) + 1))[: QUERIES_PER_MODE - 10]
    queries += [f"NB-SYN-{rng.randrange(REAL_EMBEDDING_UP_TO):06d}" for _ in range(10)]  # exact codes
    longs = long_queries([case.query for case in demo_cases()], QUERIES_PER_MODE, rng)
    short_chars = float(np.mean([len(q) for q in queries]))
    long_chars = float(np.mean([len(q) for q in longs]))
    print(
        f"  queries: {len(queries)} short (mean {short_chars:.0f} chars), {len(longs)} long "
        f"(mean {long_chars:.0f} chars)"
    )
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="deskpilot-kb-bench-") as tmp:
        kb = open_knowledge_base(chroma_path=Path(tmp), chroma_url=None, models_dir=get_settings().models_dir)
        tenant, filled = "bench", 0
        print(
            f"  {'chunks':>8} {'ingest chunks/s':>16} {'path':<22}"
            + "".join(f"{m + ' p50/p95 ms':>22}" for m in (*MODES, LONG))
        )
        for size in SIZES:
            records = synthetic_chunks(size - filled, filled, rng, sentences)
            real = size <= REAL_EMBEDDING_UP_TO
            started = time.perf_counter()
            kb.write(tenant, records, embeddings=None if real else _unit_vectors(len(records), np_rng))
            rate = len(records) / (time.perf_counter() - started)
            filled = size
            row: dict[str, float] = {"size": size, "rate": rate}
            for mode in MODES:
                row[f"{mode}_p50"], row[f"{mode}_p95"] = _latencies(kb, tenant, queries, mode)
            row[f"{LONG}_p50"], row[f"{LONG}_p95"] = _latencies(kb, tenant, longs, "hybrid")
            rows.append(row)
            path = "embed + store (real)" if real else "store only (random)"
            cells = "".join(f"{row[f'{m}_p50']:>12.1f} / {row[f'{m}_p95']:<7.1f}" for m in (*MODES, LONG))
            print(f"  {size:>8} {rate:>16.0f} {path:<22}{cells}", flush=True)
        counter = CountingEmbedder(kb)
        kb.embedder = counter  # type: ignore[assignment]
        for query in longs:
            kb.search(tenant, query, k=10)
        kb.embedder = counter.inner
        print(
            f"  a long query's search: {counter.calls / len(longs):.1f} embedding calls, "
            f"{counter.tokens / len(longs):.0f} tokens embedded, one Chroma query"
        )
        embed_ms = []
        for query in queries:
            started = time.perf_counter()
            kb.embedder.embed_query([query])
            embed_ms.append((time.perf_counter() - started) * 1000)
        p50, p95 = np.percentile(embed_ms, [50, 95])
        print(f"  of which embedding the query (local MiniLM): p50 {p50:.1f} / p95 {p95:.1f} ms")
    out = OUT / "knowledge_latency.png"
    _plot(rows, out)
    print(f"  plot: {out}")


if __name__ == "__main__":
    main()
