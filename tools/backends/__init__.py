"""Store backends: the Protocol tools depend on, and the SQL demo store."""

from tools.backends.base import OrderGuard, StoreBackend

__all__ = ["OrderGuard", "StoreBackend"]
