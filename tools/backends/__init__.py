"""Store backends: the Protocol tools depend on, the SQL demo store, and the factory that picks one."""

from __future__ import annotations

import importlib
from typing import Any

from tools.backends.base import OrderGuard, StoreBackend

__all__ = ["OrderGuard", "StoreBackend", "build_backend"]


def build_backend(spec: str, *, engine: Any, settings: Any) -> StoreBackend:
    """`sql` is the demo store in the app's database; `package.module:factory` names your own, called as
    `factory(engine=..., settings=...)` (a real commerce API client reads its URL and key from settings)."""
    if spec == "sql":
        from tools.backends.sql import SqlStoreBackend

        return SqlStoreBackend(engine)
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"store backend {spec!r}: expected 'sql' or 'package.module:factory'")
    factory = getattr(importlib.import_module(module_name), attr)
    backend = factory(engine=engine, settings=settings)
    if not isinstance(backend, StoreBackend):
        raise TypeError(f"store backend {spec!r} does not implement tools.backends.base.StoreBackend")
    return backend
