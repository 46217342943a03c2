"""Retrieval suite: recall@k and MRR per search variant on tau2 banking (tuned and held-out tasks), demo KB.

Recall is measured on documents: the ranked chunks are collapsed to their documents (first occurrence
wins) and recall@k is the share of a query's relevant documents found among the first k documents,
averaged over queries. MRR is the mean of 1 / rank of the first relevant document.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.feedback import CitationFeedback, Resolved, fuse_documents
from knowledge.store import KnowledgeBase, SearchMode

KS = tuple(range(1, 11))
CHUNKS_PER_QUERY = 60  # enough chunks to fill 10 distinct documents
SPLIT_SEED = 16
FEEDBACK_GRID = ((3, 0.5), (3, 1.0), (5, 0.5), (5, 1.0), (10, 0.5), (10, 1.0), (10, 2.0))
Progress = Callable[[str, int, int], None]
DocumentKey = Callable[[dict[str, str]], str]


@dataclass(frozen=True)
class Case:
    query: str
    relevant: frozenset[str]


@dataclass(frozen=True)
class Variant:
    """One way of searching: a store mode and the weight of the title ranking in hybrid fusion."""

    name: str
    mode: SearchMode
    title_weight: float = 0.0


VARIANTS = (
    Variant("vector", "vector"),
    Variant("keyword", "keyword"),
    Variant("hybrid", "hybrid"),
    Variant("hybrid+title", "hybrid", title_weight=1.0),
)
FEEDBACK_VARIANT = "hybrid+title+feedback"

# Lines of the tau2 user-simulator script that say nothing about the customer's problem.
_BOILERPLATE = re.compile(
    r"playing the role|never respond as|don't dump|do not dump|only provide additional|do not make up|"
    r"not 100% certain|you are currently on the line|date of birth|phone number|email:|dob:|address:|"
    r"full name|^#+\s|how to behave|conversation flow|verification info",
    re.IGNORECASE,
)


def build_query(instructions: str) -> str:
    """The customer's situation from a tau2 task script, without role-play boilerplate and identity data.

    Not cut short: the opening line and the later turns of a script name issues the first lines do not, and
    `KnowledgeBase.search` splits a long query into pieces itself (a cut at 1,200 characters lost them).
    """
    kept: list[str] = []
    for raw in instructions.splitlines():
        line = re.sub(r"\*\*|__|`", "", raw).strip(" -*>\t")
        if not line or _BOILERPLATE.search(line):
            continue
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", line) if s and not _BOILERPLATE.search(s)]
        kept.extend(sentences)
    return " ".join(kept)


def tau2_cases(tau2_dir: Path) -> list[Case]:
    cases = []
    for path in sorted((tau2_dir / "tasks").glob("*.json")):
        task = json.loads(path.read_text())
        required = task.get("required_documents") or []
        scenario = task.get("user_scenario") or {}
        query = build_query(str(scenario.get("instructions") or ""))
        if required and query:
            cases.append(Case(query, frozenset(required)))
    return cases


def file_cases(path: Path) -> list[Case]:
    """A team's own questions: JSON `{"questions": [{"q": ..., "article": ...}]}` or JSON lines of
    `{"query": ..., "relevant": [...]}`; articles are named by their file name."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [Case(r["query"], frozenset(r["relevant"])) for r in rows]
    return [Case(q["q"], frozenset({q["article"]})) for q in json.loads(text)["questions"]]


def split(cases: Sequence[Case], seed: int = SPLIT_SEED) -> tuple[list[Case], list[Case]]:
    """Half the cases to tune on, the other half held out, drawn with `seed`; each half keeps file order."""
    order = list(range(len(cases)))
    random.Random(seed).shuffle(order)
    half = len(cases) // 2
    return [cases[i] for i in sorted(order[:half])], [cases[i] for i in sorted(order[half:])]


def source_stem(meta: dict[str, str]) -> str:
    """tau2 document ids are the JSON file names."""
    return Path(meta["source"]).stem


def source_name(meta: dict[str, str]) -> str:
    """Demo articles are named by file name."""
    return Path(meta["source"]).name


def ranked_documents(
    kb: KnowledgeBase, tenant: str, query: str, variant: Variant, key: DocumentKey
) -> list[str]:
    kb.title_weight = variant.title_weight
    documents: list[str] = []
    for passage in kb.search(tenant, query, k=CHUNKS_PER_QUERY, mode=variant.mode):
        name = key({"source": passage.source, "document_id": passage.document_id})
        if name not in documents:
            documents.append(name)
    return documents


def metrics(rankings: Sequence[list[str]], cases: Sequence[Case]) -> dict[str, Any]:
    """recall@1..10, MRR and the best recall@k possible (a case with more than k documents cannot reach 1)."""
    n = max(len(cases), 1)
    recall = {k: 0.0 for k in KS}
    ceiling = {k: 0.0 for k in KS}
    mrr = 0.0
    for ranking, case in zip(rankings, cases, strict=True):
        for k in KS:
            recall[k] += len(case.relevant & set(ranking[:k])) / len(case.relevant) / n
            ceiling[k] += min(k, len(case.relevant)) / len(case.relevant) / n
        first = next((i for i, d in enumerate(ranking, start=1) if d in case.relevant), None)
        mrr += (1.0 / first if first else 0.0) / n
    return {"cases": len(cases), "recall": recall, "mrr": mrr, "ceiling": ceiling}


def evaluate_variants(
    kb: KnowledgeBase,
    tenant: str,
    cases: Sequence[Case],
    key: DocumentKey,
    variants: Sequence[Variant] = VARIANTS,
    progress: Progress | None = None,
    label: str = "",
) -> dict[str, list[list[str]]]:
    """Each variant's document ranking for every case (the slow part: one search per case and variant)."""
    saved = kb.title_weight
    out: dict[str, list[list[str]]] = {}
    total, done = len(cases) * len(variants), 0
    try:
        for variant in variants:
            out[variant.name] = []
            for case in cases:
                out[variant.name].append(ranked_documents(kb, tenant, case.query, variant, key))
                done += 1
                if progress is not None:
                    progress(f"retrieval: {label} {variant.name}", done, total)
    finally:
        kb.title_weight = saved
    return out


def with_feedback(
    kb: KnowledgeBase,
    base: dict[str, list[str]],
    train: Sequence[Case],
    held_out: Sequence[Case],
) -> dict[str, Any]:
    """Hybrid+title fused with citation feedback from the tuning tasks: its neighbours and weight are chosen
    on them (each left out of its own history), then it is measured on the held-out tasks."""
    feedback = CitationFeedback(kb.embedder)
    feedback.add(Resolved(c.query, c.relevant) for c in train)

    def rankings(cases: Sequence[Case], neighbours: int, weight: float) -> list[list[str]]:
        feedback.neighbours = neighbours
        return [
            fuse_documents([base[c.query], feedback.rank(c.query, exclude=c.query)], [1.0, weight])
            for c in cases
        ]

    scored = []
    for neighbours, weight in FEEDBACK_GRID:
        tuned = metrics(rankings(train, neighbours, weight), train)
        scored.append((tuned["recall"][10], tuned["mrr"], neighbours, weight, tuned))
    _, _, neighbours, weight, tuned = max(scored, key=lambda s: (s[0], s[1]))
    return {
        "train": tuned,
        "held_out": metrics(rankings(held_out, neighbours, weight), held_out),
        "params": {"neighbours": neighbours, "weight": weight, "history": len(train)},
    }


def tau2_results(
    kb: KnowledgeBase,
    tenant: str,
    cases: Sequence[Case],
    progress: Progress | None = None,
    seed: int = SPLIT_SEED,
) -> dict[str, Any]:
    train, held_out = split(cases, seed)
    ranked = evaluate_variants(kb, tenant, cases, source_stem, progress=progress, label="tau2")
    by_query = {name: dict(zip((c.query for c in cases), rows, strict=True)) for name, rows in ranked.items()}
    variants: dict[str, Any] = {}
    for name, rows in by_query.items():
        variants[name] = {
            "all": metrics([rows[c.query] for c in cases], cases),
            "train": metrics([rows[c.query] for c in train], train),
            "held_out": metrics([rows[c.query] for c in held_out], held_out),
        }
    variants[FEEDBACK_VARIANT] = with_feedback(kb, by_query["hybrid+title"], train, held_out)
    return {
        "cases": len(cases),
        "split": {"seed": seed, "train": len(train), "held_out": len(held_out)},
        "variants": variants,
    }


def simple_results(
    kb: KnowledgeBase, tenant: str, cases: Sequence[Case], key: DocumentKey, progress: Progress | None = None
) -> dict[str, Any]:
    ranked = evaluate_variants(kb, tenant, cases, key, progress=progress, label=tenant)
    return {"cases": len(cases), "variants": {n: {"all": metrics(r, cases)} for n, r in ranked.items()}}


def run(
    kb: KnowledgeBase,
    data_dir: Path,
    demo_docs: Path,
    demo_questions: Path,
    tasks: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The suite: the demo KB (or the team's own `tasks` over `demo_docs`) and tau2 banking when present."""
    from knowledge import ingest_paths

    results: dict[str, Any] = {"suite": "retrieval", "datasets": {}}
    ingest_paths(kb, "eval-demo", [demo_docs])
    own = file_cases(tasks if tasks is not None else demo_questions)
    results["datasets"]["demo" if tasks is None else "own"] = simple_results(
        kb, "eval-demo", own, source_name, progress
    )
    tau2_dir = data_dir / "tau2-banking-knowledge"
    if tasks is None and (tau2_dir / "documents").is_dir():
        if progress is not None:
            progress("retrieval: embedding tau2 banking (698 documents)", 0, 1)
        ingest_paths(kb, "eval-tau2", [tau2_dir / "documents"])
        results["datasets"]["tau2-banking"] = tau2_results(kb, "eval-tau2", tau2_cases(tau2_dir), progress)
    elif tasks is None:
        results["datasets"]["tau2-banking"] = {"skipped": f"not found: {tau2_dir}"}
    return results
