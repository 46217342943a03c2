"""Builds the expensive singletons once (engine, Presidio, Chroma, models, graph) for the app and the CLI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from sqlalchemy import Engine

from agent.cache_keys import PromptCacheKeys
from agent.context import AgentServices
from agent.graph import build_graph
from agent.llm import FallbackChatModel, build_model_chain
from agent.pricing import load_price_table
from agent.prompts import tool_schemas
from agent.service import AgentService
from agent.triage_service import TriageService, build_triage_service
from api.approvals import ApprovalService
from api.audit import AuditLog
from api.conversations import ConversationService
from api.db import create_schema, make_engine
from api.fail_soft_kb import FailSoftRetriever
from api.integrations import IntegrationService, SecretBox
from api.jobs import JobQueue
from api.metrics import Metrics
from api.settings import Settings
from api.tenants import TenantSettingsService
from api.turns import TurnRunner
from tools import TOOLS
from tools.backends import StoreBackend, build_backend

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    audit: AuditLog
    backend: StoreBackend
    tenants: TenantSettingsService
    redactor: Any
    knowledge: Any
    model: FallbackChatModel
    agent: AgentService
    triage: TriageService
    approvals: ApprovalService
    conversations: ConversationService
    integrations: IntegrationService
    jobs: JobQueue


def load_vault_key(settings: Settings) -> bytes:
    """The Fernet key of the PII vault: DESKPILOT_VAULT_KEY, else `home/vault.key` (made on first start)."""
    from agent.pii import load_or_create_key

    if settings.vault_key:
        return settings.vault_key.get_secret_value().encode()
    return load_or_create_key(settings.home / "vault.key")


def build_redactor(settings: Settings, engine: Engine) -> Any:
    from agent.pii import build_redactor as build

    return build(
        spacy_model=settings.spacy_model,
        engine=engine,
        key=load_vault_key(settings),
        retention_days=settings.vault_retention_days,
    )


def build_integrations(settings: Settings, engine: Engine, audit: AuditLog) -> IntegrationService:
    # Integration secrets are sealed under a key derived from the vault key (one key file to back up).
    return IntegrationService(
        engine=engine,
        audit=audit,
        box=SecretBox(load_vault_key(settings)),
        grace_hours=settings.integration_secret_grace_hours,
    )


def build_knowledge(settings: Settings) -> Any:
    from knowledge import open_knowledge_base

    return open_knowledge_base(
        chroma_path=settings.chroma_path,
        chroma_url=settings.chroma_url,
        models_dir=settings.models_dir,
        provider=settings.embedding_provider,
        openai_api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
        openai_base_url=settings.llm_base_url,
    )


def build_models(settings: Settings) -> FallbackChatModel:
    key = (
        None
        if settings.offline or settings.openai_api_key is None
        else settings.openai_api_key.get_secret_value()
    )
    return build_model_chain(
        tools=tool_schemas(TOOLS.values()),
        api_key=key,
        model=settings.model,
        fallback_models=settings.fallback_models,
        base_url=settings.llm_base_url,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        max_tokens=settings.max_output_tokens,
        temperature=settings.temperature,
        failure_threshold=settings.breaker_failure_threshold,
        reset_after_s=settings.breaker_reset_s,
        deadline_s=settings.llm_deadline_s,
    )


async def open_checkpointer(settings: Settings, stack: AsyncExitStack) -> BaseCheckpointSaver:
    """Conversation state lives next to the rest of the data: SQLite at home, PostgreSQL at scale,
    so several app instances behind a load balancer share one timeline per conversation."""
    url = settings.effective_database_url
    if url.startswith(("postgresql://", "postgresql+psycopg://")):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        pool: AsyncConnectionPool = AsyncConnectionPool(
            url.replace("postgresql+psycopg://", "postgresql://"),
            max_size=10,
            open=False,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        await pool.open()
        stack.push_async_callback(pool.close)
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        await saver.setup()
        return saver
    import aiosqlite

    conn = await stack.enter_async_context(aiosqlite.connect(str(settings.checkpoint_path)))
    # The same choice as the store's SQLite file (api/db.py): WAL with synchronous=NORMAL, so a turn's
    # checkpoint commit survives the process being killed (the crash tests SIGKILL servers mid-turn) and
    # costs no fsync; a power loss can take back the last commits before the next WAL checkpoint (the
    # turn then runs again from its stored message). The saver's own connection would keep FULL.
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    await conn.execute("PRAGMA busy_timeout=30000")  # several processes may share the file
    return AsyncSqliteSaver(conn)


WARM_UP_TEXT = "Hi, I'm Jane Doe (jane.doe@example.com, +1 415 555 0100). Where is my order ORD-1001?"


def warm_up(runtime: Runtime, max_tenants: int) -> None:
    """Pays the first turn's one-off costs before the app reports ready: spaCy's and the recognizers'
    first analysis, the embedder's first run, and each warmed tenant's corpus, BM25 index and Chroma
    segment (measured: about a second of CPU on the 698 tau2 documents, otherwise paid by the first turn).

    A failure here only leaves that work to the first request, so it is logged, not raised."""
    if runtime.redactor is not None:
        try:
            runtime.redactor.analyzer.analyze(text=WARM_UP_TEXT, language=runtime.redactor.language)
        except Exception:  # noqa: BLE001 - the first redaction will load what is missing, or fail loudly
            log.warning("redactor warm-up failed", exc_info=True)
    if runtime.knowledge is None or max_tenants <= 0:
        return
    try:
        for tenant in knowledge_tenants(runtime.knowledge)[:max_tenants]:
            runtime.knowledge.search(tenant, WARM_UP_TEXT, k=1)
    except Exception:  # noqa: BLE001 - /readyz reports a knowledge base that is down
        log.warning("knowledge base warm-up failed; first searches load it", exc_info=True)


def knowledge_tenants(knowledge: Any) -> list[str]:
    """Tenants with a collection under this provider (KnowledgeBase names them `dp-<provider>-...`)."""
    prefix = f"dp-{knowledge.provider}-"
    return sorted(
        str(collection.metadata["tenant"])
        for collection in knowledge.client.list_collections()
        if collection.name.startswith(prefix) and (collection.metadata or {}).get("tenant")
    )


@asynccontextmanager
async def open_runtime(settings: Settings, **overrides: Any) -> AsyncIterator[Runtime]:
    """Everything a request needs; `overrides` replace parts (tests pass a redactor or knowledge base)."""
    settings.ensure_home()
    engine = overrides.get("engine") or make_engine(settings.effective_database_url)
    create_schema(engine)
    audit = AuditLog(engine)
    backend = build_backend(settings.store_backend, engine=engine, settings=settings)
    tenants = TenantSettingsService(engine=engine, audit=audit)
    redactor = overrides["redactor"] if "redactor" in overrides else build_redactor(settings, engine)
    if redactor is not None:
        purged = redactor.vault.purge_expired()  # retention: mappings unused for too long are dropped
        if purged:
            log.info("PII vault: purged %d expired entries", purged)
    knowledge = overrides["knowledge"] if "knowledge" in overrides else build_knowledge(settings)
    model = overrides.get("model") or build_models(settings)
    async with AsyncExitStack() as stack:
        graph = build_graph(await open_checkpointer(settings, stack))
        approvals = ApprovalService(
            engine=engine, audit=audit, backend=backend, tenants=tenants, redactor=redactor
        )
        agent = AgentService(
            graph=graph,
            services=AgentServices(
                backend=backend,
                model=model,
                audit=audit,
                retrieval_k=settings.retrieval_k,
                max_steps=settings.max_steps,
                redactor=redactor,
                retriever=FailSoftRetriever(knowledge) if knowledge is not None else None,
                approvals=approvals,
                cache_keys=PromptCacheKeys(per_key_rpm=settings.prompt_cache_key_rpm),
            ),
            prices=load_price_table(settings.price_overrides),
        )
        triage = build_triage_service(
            api_key=None
            if settings.offline or settings.openai_api_key is None
            else settings.openai_api_key.get_secret_value(),
            model=settings.model,
            base_url=settings.llm_base_url,
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            max_tokens=settings.max_output_tokens,
            failure_threshold=settings.breaker_failure_threshold,
            reset_after_s=settings.breaker_reset_s,
            audit=audit,
            redactor=redactor,
            prices=load_price_table(settings.price_overrides),
            deadline_s=settings.turn_deadline_s,
        )
        if settings.redis_url:
            from agent.shared_breaker import share_breakers

            # One failing model opens its breaker for every process (fails open to local state).
            share_breakers(model, triage, redis_url=settings.redis_url, prefix=settings.breaker_key_prefix)
        metrics = Metrics()
        turns = TurnRunner(engine=engine, audit=audit, metrics=metrics, deadline_s=settings.turn_deadline_s)
        conversations = ConversationService(
            engine=engine,
            agent=agent,
            approvals=approvals,
            tenants=tenants,
            audit=audit,
            turns=turns,
            redactor=redactor,
            metrics=metrics,
        )
        turns.mark_stale(settings.turn_stale_after_s)  # turns a killed process left running
        yield Runtime(
            settings=settings,
            engine=engine,
            audit=audit,
            backend=backend,
            tenants=tenants,
            redactor=redactor,
            knowledge=knowledge,
            model=model,
            agent=agent,
            triage=triage,
            approvals=approvals,
            conversations=conversations,
            integrations=build_integrations(settings, engine, audit),
            jobs=JobQueue(engine=engine, settings=settings, audit=audit),
        )
    engine.dispose()
