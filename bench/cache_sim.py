"""Prompt-cache simulator: synthetic conversations through the real request builder; cached share and cost.

100 conversations of 4 turns across 3 tenants run through the whole runtime (Presidio redaction, help-centre
retrieval, the LangGraph agent, langchain-openai's ChatOpenAI) against the local OpenAI-compatible test
server, scripted to look orders up on some turns. Every request body is captured as sent.

How a body maps to tokens: OpenAI does not cache the JSON body but the prompt it renders from it, with
the tool definitions and the system message first whatever the key order of the JSON (the SDK writes
`messages` before `tools`). So each body is rendered the same way: the tools as the TypeScript-like
namespace OpenAI shows the model (`agent.tokens.render_tools`), then every message in ChatML framing
(`<|im_start|>role name\\ncontent<|im_end|>`), and the whole prompt is encoded with o200k_base. The shared
prefix of a request is the longest common token prefix with any earlier request's prompt; the cached
estimate follows OpenAI's rule (none below 1,024 tokens, then whole 128-token steps). The framing is an
approximation of OpenAI's unpublished template; both sides of every comparison use the same one.

Run: `python -m bench.cache_sim` (or `make bench`); about a minute on 2 cores, most of it the 400 turns.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

CONVERSATIONS = 100
TURNS = 4
TENANTS = ("default", "acme", "globex")
TURNS_PER_MINUTE = 60  # simulated arrival rate, for the prompt_cache_key buckets (20 turns/min per tenant)
MIN_CACHED, CACHE_STEP = 1024, 128
SEED = 20261122
ORDER = re.compile(r"\bORD-\d{6}\b")
PASSAGE_HEADER = re.compile(r"^\[(\d+)\] (\{.*\})$", re.MULTILINE)

OPENERS = [
    "Hi, where is my order {order}? It was supposed to arrive already.",
    "Hello, this is {name} ({email}). Could you tell me the status of {order}?",
    "Hi there, I ordered {order} last week and the tracking hasn't updated in days. What's going on?",
    "How long does a refund take to reach my card once you've approved it?",
    "What's your return policy for items bought on sale?",
    "Hello! My parcel {order} says delivered but I can't find it anywhere. What should I do?",
]
FOLLOW_UPS = [
    "Can I get a refund for it?",
    "Do you ship to Canada as well, and how much does that cost?",
    "The jacket I received is the wrong size. How do I exchange it?",
    "Can I change the delivery address on that order?",
    "My card was charged twice for the same order, can you check?",
    "Is the two-year warranty valid if I bought it as a gift?",
    "You can reach me on {phone} if that's easier.",
    "Thanks, that's all for now!",
]


def cached_estimate(prefix_tokens: int) -> int:
    """OpenAI's rule: nothing below 1,024 shared tokens, then the largest whole 128-token step."""
    if prefix_tokens < MIN_CACHED:
        return 0
    return MIN_CACHED + CACHE_STEP * ((prefix_tokens - MIN_CACHED) // CACHE_STEP)


# --- the model's side: the test server answers by content ----------------------------------------------


class ScriptedGpt4o:
    """Stands in for gpt-4o: looks orders up when asked about one, then answers from tool results and
    passages with citations. Records what it produced, in request order, to count output tokens."""

    def __init__(self) -> None:
        self.outputs: list[str] = []

    def __call__(self, body: dict[str, Any]) -> Any:
        from tests.support import Reply, ToolCalls

        messages = body["messages"]
        customer = [str(m.get("content")) for m in messages if m["role"] == "user"
                    and m.get("name") != "reference_documents"]
        question = customer[-1] if customer else ""
        history_orders = ORDER.findall(" ".join(customer))
        if messages[-1]["role"] == "tool":
            item: Any = Reply(self._after_tool(messages[-1]))
        elif order := ORDER.search(question):
            item = ToolCalls([("lookup_order", {"order_number": order.group()})])
        elif "refund for it" in question and history_orders:
            item = ToolCalls([("lookup_refund", {"order_number": history_orders[-1]})])
        else:
            item = Reply(self._from_passages(messages, question))
        self.outputs.append(item.text if isinstance(item, Reply) else json.dumps(item.calls))
        return item

    @staticmethod
    def _after_tool(message: dict[str, Any]) -> str:
        try:
            result = json.loads(message.get("content") or "{}")
        except json.JSONDecodeError:
            result = {}
        if "error" in result:
            return ("I'm sorry, I couldn't complete that: " + str(result.get("message", "the lookup failed"))
                    + " Could you double-check the order number for me?")
        status = str(result.get("status", "being processed")).replace("_", " ")
        number = result.get("order_number", "your order")
        delivered = f"It was delivered on {result['delivered_at']}. " if result.get("delivered_at") else ""
        return (f"Thanks for waiting. I checked {number}: it is currently {status}. {delivered}"
                "If anything looks wrong, reply here and I'll look into it straight away, or I can pass it "
                "to our support team.")

    @staticmethod
    def _from_passages(messages: list[dict[str, Any]], question: str) -> str:
        reference = next((str(m.get("content")) for m in reversed(messages)
                          if m.get("name") == "reference_documents"), "")
        titles = [json.loads(h).get("title") for _, h in PASSAGE_HEADER.findall(reference)]
        if "that's all" in question.lower():
            return "You're welcome! Have a great day, and don't hesitate to write again if you need anything."
        if not titles:
            return ("I couldn't find that in our help centre. I can route your question to our support team, "
                    "who usually answer within one business day. Would you like me to do that?")
        cited = " ".join(f"[{n}]" for n in range(1, min(2, len(titles)) + 1))
        return (f"Good question. Our help-centre article \"{titles[0]}\" covers this {cited}: the short "
                "answer is that it depends on the order, and the steps are listed there. If you tell me the "
                "order number, I can check the details for you.")


# --- running the conversations -----------------------------------------------------------------------


@dataclass
class Conversation:
    tenant: str
    customer_id: str
    texts: list[str]
    requests: list[int] = field(default_factory=list)  # indexes into the captured requests
    models: list[str] = field(default_factory=list)  # which model answered each turn


class OneHelpCentre:
    """All synthetic tenants run the same bundled help centre: ingested once, searched for every tenant."""

    def __init__(self, kb: Any, tenant: str) -> None:
        self.kb, self.tenant = kb, tenant

    def search(self, tenant: str, query: str, k: int = 5) -> list[Any]:
        return list(self.kb.search(self.tenant, query, k))


def help_centre(settings: Any) -> tuple[Any, str]:
    try:
        from knowledge import DEMO_DOCS_DIR, open_knowledge_base
        from knowledge.ingest import ingest_paths

        kb = open_knowledge_base(chroma_path=settings.chroma_path, chroma_url=None,
                                 models_dir=settings.models_dir)
        ingest_paths(kb, TENANTS[0], [DEMO_DOCS_DIR])
    except Exception as error:  # noqa: BLE001 - the simulation still runs, without retrieval
        return None, f"off ({type(error).__name__}: {error})"
    return OneHelpCentre(kb, TENANTS[0]), "bundled help centre (36 articles), 4 passages per turn"


def redactor_or_none(settings: Any, engine: Any) -> tuple[Any, str]:
    try:
        from api.runtime import build_redactor

        return build_redactor(settings, engine), "Presidio"
    except Exception as error:  # noqa: BLE001
        return None, f"off ({type(error).__name__})"


def scripts(backend: Any, rng: random.Random) -> list[Conversation]:
    """Realistic customer messages about the customers' own demo orders."""
    people: dict[str, list[tuple[Any, list[str]]]] = {}
    for tenant in TENANTS:
        for customer in backend.list_customers(tenant, limit=40).items:
            profile = backend.customer_profile(tenant, customer.customer_id)
            orders = [o.order_number for o in profile.orders] if profile else []
            if orders:
                people.setdefault(tenant, []).append((customer, orders))
    conversations = []
    for n in range(CONVERSATIONS):
        tenant = TENANTS[n % len(TENANTS)]
        customer, orders = rng.choice(people[tenant])
        values = {"order": rng.choice(orders), "name": customer.name, "email": customer.email,
                  "phone": customer.phone or "+1 415 555 0142"}
        texts = [rng.choice(OPENERS), *rng.sample(FOLLOW_UPS, TURNS - 1)]
        conversations.append(Conversation(tenant, customer.customer_id, [t.format(**values) for t in texts]))
    return conversations


async def run_conversations() -> tuple[list[Conversation], list[bytes], list[str], dict[str, str]]:
    from pydantic import SecretStr

    from agent.cache_keys import PromptCacheKeys
    from api.db import create_schema, make_engine
    from api.runtime import open_runtime
    from api.settings import Settings
    from tests.support import OpenAIStub
    from tools.demo_data import seed_demo

    model = ScriptedGpt4o()
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as home, OpenAIStub(default=model) as stub:
        settings = Settings(_env_file=None, home=Path(home), openai_api_key=SecretStr("sk-cache-sim"),  # type: ignore[call-arg]
                            llm_base_url=stub.base_url, llm_max_retries=0, fallback_models=[])
        settings.ensure_home()
        engine = make_engine(settings.effective_database_url)
        create_schema(engine)
        for tenant in TENANTS:
            seed_demo(engine, tenant=tenant, today=datetime.now(UTC).date())
        knowledge, knowledge_note = help_centre(settings)
        redactor, redactor_note = redactor_or_none(settings, engine)
        async with open_runtime(settings, engine=engine, knowledge=knowledge, redactor=redactor) as runtime:
            clock = [0.0]
            runtime.agent.cache_keys = PromptCacheKeys(per_key_rpm=settings.prompt_cache_key_rpm,
                                                       clock=lambda: clock[0])
            conversations = scripts(runtime.backend, rng)
            for conversation in conversations:
                row = runtime.conversations.create(tenant=conversation.tenant, channel="bench",
                                                   actor="cache-sim", customer_id=conversation.customer_id)
                for text in conversation.texts:
                    before = len(stub.chat_requests)
                    result = await runtime.conversations.send(
                        tenant=conversation.tenant, conversation_id=row.id, text=text,
                        customer_id=conversation.customer_id, actor="cache-sim")
                    conversation.models.append(result.model)
                    conversation.requests.extend(range(before, len(stub.chat_requests)))
                    clock[0] += 60.0 / TURNS_PER_MINUTE
            raw = [r.raw for r in stub.chat_requests]
        engine.dispose()
    return conversations, raw, model.outputs, {"knowledge": knowledge_note, "redaction": redactor_note}


# --- measuring -----------------------------------------------------------------------------------------


def render_prompt(body: dict[str, Any]) -> str:
    """The prompt as OpenAI lays it out for the model: tools first, then the messages in order."""
    from agent.tokens import render_tools

    parts = [render_tools(body["tools"])] if body.get("tools") else []
    for message in body.get("messages", []):
        header = message["role"] + (f" name={message['name']}" if message.get("name") else "")
        content = message.get("content") or ""
        if isinstance(content, list):
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        calls = "".join(f"\n{c['function']['name']}({c['function']['arguments']})"
                        for c in message.get("tool_calls") or [])
        parts.append(f"<|im_start|>{header}\n{content}{calls}<|im_end|>")
    return "\n".join(parts)


def shared_prefixes(prompts: Sequence[np.ndarray], keys: Sequence[str]) -> tuple[list[int], list[int]]:
    """For each prompt, the longest token prefix shared with any earlier one, and with any earlier one
    sent under the same prompt_cache_key (OpenAI routes by key, so only those can hit the same cache)."""
    anywhere, same_key = [], []
    for i, prompt in enumerate(prompts):
        best = best_key = 0
        for j in range(i):
            other = prompts[j]
            n = min(len(prompt), len(other))
            differs = np.flatnonzero(prompt[:n] != other[:n])
            common = int(differs[0]) if differs.size else n
            best = max(best, common)
            if keys[j] == keys[i]:
                best_key = max(best_key, common)
        anywhere.append(best)
        same_key.append(best_key)
    return anywhere, same_key


@dataclass
class Figures:
    requests: int
    static_tokens: int
    system_tokens: int
    tools_tokens: int
    prompt_tokens: int
    cached_share: float
    cached_share_same_key: float
    cost_per_conversation: Decimal
    cost_per_conversation_cached: Decimal
    keys: int
    first_request_cached: float  # cached share of each conversation's first request (static prefix only)
    all_share_static: bool  # every request after the first shares at least the static prefix
    turns_by_model: dict[str, int]
    notes: dict[str, str]


def measure(conversations: list[Conversation], raw: list[bytes], outputs: list[str],
            notes: dict[str, str]) -> Figures:
    from agent.pricing import cost_usd
    from agent.tokens import TokenCounter, render_tools
    from api.settings import Settings

    counter = TokenCounter(Settings(_env_file=None).models_dir)  # type: ignore[call-arg]
    bodies = [json.loads(body) for body in raw]
    prompts = [np.asarray(counter.encode(render_prompt(b)), dtype=np.int32) for b in bodies]
    keys = [str(b.get("prompt_cache_key")) for b in bodies]
    anywhere, same_key = shared_prefixes(prompts, keys)
    cached = [cached_estimate(p) for p in anywhere]
    cached_key = [cached_estimate(p) for p in same_key]
    output_tokens = [counter.count(text) for text in outputs]

    static = render_prompt({"tools": bodies[0]["tools"], "messages": bodies[0]["messages"][:1]})
    cost, cost_cached = Decimal(0), Decimal(0)
    for conversation in conversations:
        for i in conversation.requests:
            cost += cost_usd("gpt-4o", len(prompts[i]), 0, output_tokens[i])
            cost_cached += cost_usd("gpt-4o", len(prompts[i]), cached[i], output_tokens[i])
    total = sum(len(p) for p in prompts)
    static_tokens = counter.count(static)
    firsts = [c.requests[0] for c in conversations]
    turns_by_model: dict[str, int] = {}
    for conversation in conversations:
        for name in conversation.models:
            turns_by_model[name] = turns_by_model.get(name, 0) + 1
    return Figures(
        requests=len(raw),
        static_tokens=static_tokens,
        system_tokens=counter.count(bodies[0]["messages"][0]["content"]),
        tools_tokens=counter.count(render_tools(bodies[0]["tools"])),
        prompt_tokens=total,
        cached_share=sum(cached) / total,
        cached_share_same_key=sum(cached_key) / total,
        cost_per_conversation=cost / len(conversations),
        cost_per_conversation_cached=cost_cached / len(conversations),
        keys=len(set(keys)),
        first_request_cached=sum(cached[i] for i in firsts) / sum(len(prompts[i]) for i in firsts),
        all_share_static=min(anywhere[1:]) >= static_tokens,
        turns_by_model=turns_by_model,
        notes=notes,
    )


def main() -> None:
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    conversations, raw, outputs, notes = asyncio.run(run_conversations())
    f = measure(conversations, raw, outputs, notes)
    print(f"{len(conversations)} conversations x {TURNS} turns across {len(TENANTS)} tenants -> {f.requests} "
          f"model requests; retrieval: {f.notes['knowledge']}; redaction: {f.notes['redaction']}")
    print(f"static prefix (tools + system prompt): {f.static_tokens} tokens "
          f"(system {f.system_tokens}, tools {f.tools_tokens})")
    if f.static_tokens < MIN_CACHED:
        print(f"  below OpenAI's {MIN_CACHED}-token minimum: a first turn caches nothing")
    print(f"  every later request shares at least the static prefix: {'yes' if f.all_share_static else 'NO'}")
    print(f"turns answered by: {f.turns_by_model}")
    print(f"prompt tokens: {f.prompt_tokens} in all, {f.prompt_tokens / f.requests:.0f} per request")
    print(f"  a conversation's first request (only the static prefix can be cached): "
          f"{f.first_request_cached:.3f} cached")
    verdict = "meets" if f.cached_share >= 0.75 else "misses"
    print(f"estimated cached share of prompt tokens: {f.cached_share:.3f} ({verdict} the 0.75 target)")
    print(f"  counting only earlier requests with the same prompt_cache_key ({f.keys} keys at "
          f"{TURNS_PER_MINUTE} turns/min): {f.cached_share_same_key:.3f}")
    saving = 1 - f.cost_per_conversation_cached / f.cost_per_conversation
    print(f"gpt-4o cost per conversation: ${f.cost_per_conversation:.5f} without caching, "
          f"${f.cost_per_conversation_cached:.5f} with caching ({saving:.1%} less)")


if __name__ == "__main__":
    main()
