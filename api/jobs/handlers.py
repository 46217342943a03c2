"""Job handlers: the registry from job kind to `async handler(job, ctx)`, their context and their errors.

    JobError        a handler's expected failure; its message becomes `last_error`, so it holds no PII
     ├── RetryJob   try again (after `after_s`, e.g. a 429's Retry-After; else the usual backoff)
     └── DeadJob    retrying cannot help (a 4xx other than 429): the job goes dead at once

Any other exception is retried with backoff and recorded by its class name only.

A handler may run more than once for one job (its worker can die after the effect and before `done` is
written), so it must be idempotent, keyed on `job.id` or on the delivery id in its payload.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from api.jobs.models import Job

if TYPE_CHECKING:
    from api.runtime import Runtime

# Modules of Deskpilot itself that register handlers; deployments add theirs with DESKPILOT_JOB_HANDLERS.
BUILTIN_HANDLER_MODULES: tuple[str, ...] = (
    "api.channels.slack.jobs",
    "api.channels.helpdesk.work",
    "api.triage_batches",
)


@dataclass(frozen=True)
class JobContext:
    """What a handler gets besides its job: the process's runtime (engine, services, settings)."""

    runtime: Runtime


Handler = Callable[[Job, JobContext], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    """Registers `async def handler(job, ctx)` for jobs of `kind` (at import of its module)."""

    def register(handler: Handler) -> Handler:
        known = HANDLERS.get(kind)
        if known is not None and known.__qualname__ != handler.__qualname__:
            raise ValueError(f"job kind {kind!r} already has a handler")
        HANDLERS[kind] = handler
        return handler

    return register


def load_handler_modules(names: Iterable[str]) -> None:
    """Imports the modules whose `@job_handler`s serve and worker processes must know."""
    for name in (*BUILTIN_HANDLER_MODULES, *names):
        importlib.import_module(name)


class JobError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RetryJob(JobError):
    def __init__(self, message: str, *, after_s: float | None = None) -> None:
        super().__init__(message)
        self.after_s = after_s


class DeadJob(JobError):
    pass
