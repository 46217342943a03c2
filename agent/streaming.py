"""Restores placeholders in a token stream, holding back a '<PERSON_' fragment until it is complete."""

from __future__ import annotations

import re
from collections.abc import Callable

# A placeholder may be split across deltas; anything from an unclosed '<' that could still become one waits.
_OPEN_TAIL = re.compile(r"<[A-Z_0-9]{0,32}$")


class PlaceholderStream:
    def __init__(self, restore: Callable[[str], str]) -> None:
        self._restore = restore
        self._pending = ""

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        tail = _OPEN_TAIL.search(text)
        cut = tail.start() if tail else len(text)
        self._pending = text[cut:]
        return self._restore(text[:cut])

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._restore(text) if text else ""
