"""Retrieval recall@5/@10, vector vs keyword vs hybrid, on tau2 banking help docs and the bundled demo KB.

`python -m bench.retrieval_eval`. Recall is measured on documents: the ranked chunks are collapsed to
their documents (first occurrence wins) and recall@k is the share of a query's relevant documents found
among the first k documents, averaged over queries.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from knowledge.store import KnowledgeBase, SearchMode

ROOT = Path(__file__).resolve().parents[1]
TAU2_DIR = ROOT / ".." / "shared" / "eval-data" / "tau2-banking-knowledge"
DEMO_QUESTIONS = ROOT / "tests" / "knowledge" / "fixtures" / "demo_questions.json"
MODES: tuple[SearchMode, ...] = ("vector", "keyword", "hybrid")
KS = (5, 10)
CHUNKS_PER_QUERY = 60  # enough chunks to fill 10 distinct documents


@dataclass(frozen=True)
class Case:
    query: str
    relevant: frozenset[str]


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


def tau2_cases(tau2_dir: Path = TAU2_DIR) -> list[Case]:
    cases = []
    for path in sorted((tau2_dir / "tasks").glob("*.json")):
        task = json.loads(path.read_text())
        required = task.get("required_documents") or []
        scenario = task.get("user_scenario") or {}
        query = build_query(str(scenario.get("instructions") or ""))
        if required and query:
            cases.append(Case(query, frozenset(required)))
    return cases


def demo_cases(path: Path = DEMO_QUESTIONS) -> list[Case]:
    questions = json.loads(path.read_text())["questions"]
    return [Case(q["q"], frozenset({q["article"]})) for q in questions]


def ranked_documents(
    kb: KnowledgeBase, tenant: str, query: str, mode: SearchMode, key: Callable[[dict[str, str]], str]
) -> list[str]:
    documents: list[str] = []
    for passage in kb.search(tenant, query, k=CHUNKS_PER_QUERY, mode=mode):
        name = key({"source": passage.source, "document_id": passage.document_id})
        if name not in documents:
            documents.append(name)
    return documents


def recall(
    kb: KnowledgeBase,
    tenant: str,
    cases: Sequence[Case],
    mode: SearchMode,
    key: Callable[[dict[str, str]], str],
    ks: Sequence[int] = KS,
) -> dict[int, float]:
    totals = dict.fromkeys(ks, 0.0)
    for case in cases:
        ranked = ranked_documents(kb, tenant, case.query, mode, key)
        for k in ks:
            totals[k] += len(case.relevant & set(ranked[:k])) / len(case.relevant)
    return {k: totals[k] / len(cases) for k in ks}


def source_stem(meta: dict[str, str]) -> str:
    """tau2 document ids are the JSON file names; demo articles are named by file name."""
    return Path(meta["source"]).stem


def source_name(meta: dict[str, str]) -> str:
    return Path(meta["source"]).name


def evaluate(
    kb: KnowledgeBase, tenant: str, cases: Sequence[Case], key: Callable[[dict[str, str]], str]
) -> dict[str, dict[int, float]]:
    return {mode: recall(kb, tenant, cases, mode, key) for mode in MODES}


def ceiling(cases: Sequence[Case], ks: Sequence[int] = KS) -> dict[int, float]:
    """The best recall@k possible: a query with more than k relevant documents cannot reach 1."""
    return {k: sum(min(k, len(c.relevant)) / len(c.relevant) for c in cases) / len(cases) for k in ks}


def print_table(title: str, results: dict[str, dict[int, float]], cases: Sequence[Case]) -> None:
    print(f"\n{title} ({len(cases)} queries)")
    print(f"  {'mode':<8} " + " ".join(f"{'recall@' + str(k):>10}" for k in KS))
    for mode, row in {**results, "ceiling": ceiling(cases)}.items():
        print(f"  {mode:<8} " + " ".join(f"{row[k]:>10.3f}" for k in KS))


def main() -> None:
    from api.settings import get_settings
    from knowledge import DEMO_DOCS_DIR, ingest_paths, open_knowledge_base

    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="deskpilot-eval-") as tmp:
        kb = open_knowledge_base(
            chroma_path=Path(tmp) / "chroma", chroma_url=None, models_dir=settings.models_dir
        )
        started = time.perf_counter()
        ingest_paths(kb, "demo", [DEMO_DOCS_DIR])
        cases = demo_cases()
        print_table("Bundled demo KB", evaluate(kb, "demo", cases, source_name), cases)
        if not (TAU2_DIR / "documents").is_dir():
            print(f"\ntau2 banking data not found at {TAU2_DIR.resolve()}: skipped")
            return
        report = ingest_paths(kb, "tau2", [TAU2_DIR / "documents"], progress=True)
        print(f"\ntau2 index: {report.summary()} in {time.perf_counter() - started:.0f} s")
        cases = tau2_cases()
        print_table("tau2 banking_knowledge", evaluate(kb, "tau2", cases, source_stem), cases)


if __name__ == "__main__":
    main()
