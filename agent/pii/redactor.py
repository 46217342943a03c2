"""Redactor: replaces personal data with stable placeholders and puts it back on the trusted side."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from presidio_analyzer import AnalyzerEngine, RecognizerResult
from sqlalchemy import Engine

from agent.pii.analyzer import spare_protected
from agent.pii.engine import DEFAULT_SCORE_THRESHOLD, LANGUAGE, build_analyzer
from agent.pii.placeholders import PLACEHOLDER, short_type
from agent.pii.vault import PiiVault


@dataclass(frozen=True)
class Redaction:
    """Redacted text and how many entities of each short type (`PERSON`, `EMAIL`, ...) it hid; no values."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)


class Redactor:
    """Presidio analysis + the vault: `redact` before anything is stored, logged or sent to the model,
    `restore` only where a person entitled to the data reads it (staff views, the customer's own reply).

    The analyzer is shared and thread-safe; `aredact` runs it in a worker thread because a 2 KB message
    costs tens of milliseconds of CPU.
    """

    def __init__(
        self,
        analyzer: AnalyzerEngine,
        vault: PiiVault,
        *,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        language: str = LANGUAGE,
        allow_list: Sequence[str] = (),
    ) -> None:
        self.analyzer = analyzer
        # Values never redacted, such as the tenant's staff names (from its settings, given by the caller).
        self.allow_list = list(allow_list)
        self.vault = vault
        self.score_threshold = score_threshold
        self.language = language

    # --- text ------------------------------------------------------------------------------------------

    def redact(
        self, text: str, *, tenant: str, conversation_id: str, allow_list: Sequence[str] = ()
    ) -> Redaction:
        """Replace each detected value by its stable placeholder; placeholders stay as they are.

        `allow_list`: values spared for this call only, on top of the redactor's own (the tenant's staff
        names, which differ per tenant while the redactor is shared)."""
        if not text.strip():
            return Redaction(text=text)
        results = self._detect(text, allow_list)
        if not results:
            return Redaction(text=text)
        items = [(short_type(r.entity_type), text[r.start : r.end]) for r in results]
        placeholders = self.vault.placeholders_for(tenant, conversation_id, items)
        pieces: list[str] = []
        cursor = 0
        for result, placeholder in zip(results, placeholders, strict=True):
            pieces.append(text[cursor : result.start])
            pieces.append(placeholder)
            cursor = result.end
        pieces.append(text[cursor:])
        counts = Counter(kind for kind, _ in items)
        return Redaction(text="".join(pieces), counts=dict(counts))

    async def aredact(
        self, text: str, *, tenant: str, conversation_id: str, allow_list: Sequence[str] = ()
    ) -> Redaction:
        """`redact` in a worker thread, so the event loop keeps serving other requests meanwhile."""
        call = functools.partial(
            self.redact, text, tenant=tenant, conversation_id=conversation_id, allow_list=allow_list
        )
        return await anyio.to_thread.run_sync(call)

    def restore(self, text: str, *, tenant: str, conversation_id: str) -> str:
        """Put the real values back; placeholders this conversation does not know are left untouched."""
        found = {match.group(0) for match in PLACEHOLDER.finditer(text)}
        if not found:
            return text
        values = self.vault.values_for(tenant, conversation_id, found)
        return PLACEHOLDER.sub(lambda match: values.get(match.group(0), match.group(0)), text)

    def _detect(self, text: str, allow_list: Sequence[str] = ()) -> list[RecognizerResult]:
        allowed = [*self.allow_list, *allow_list]
        results = self.analyzer.analyze(
            text, self.language, score_threshold=self.score_threshold, allow_list=allowed or None
        )
        # Placeholders and our ids are never personal data, whatever analyzer was plugged in.
        results = spare_protected(text, results)
        kept: list[RecognizerResult] = []
        for result in sorted(results, key=lambda r: (r.start, -(r.end - r.start))):
            if kept and result.start < kept[-1].end:
                continue  # overlaps a longer or earlier result (stock analyzers return both)
            kept.append(result)
        return kept

    # --- structured values (tool arguments and results) -----------------------------------------------

    def redact_value(self, obj: Any, *, tenant: str, conversation_id: str) -> tuple[Any, dict[str, int]]:
        """Redact every string inside dicts, lists and tuples; keys and non-string values are kept."""
        counts: Counter[str] = Counter()

        def walk(value: Any) -> Any:
            if isinstance(value, str):
                redaction = self.redact(value, tenant=tenant, conversation_id=conversation_id)
                counts.update(redaction.counts)
                return redaction.text
            if isinstance(value, Mapping):
                return {key: walk(item) for key, item in value.items()}
            if isinstance(value, list | tuple):
                return type(value)(walk(item) for item in value)
            return value

        return walk(obj), dict(counts)

    def restore_value(self, obj: Any, *, tenant: str, conversation_id: str) -> Any:
        """Resolve placeholders inside dicts, lists and tuples (tool arguments written by the model)."""
        if isinstance(obj, str):
            return self.restore(obj, tenant=tenant, conversation_id=conversation_id)
        if isinstance(obj, Mapping):
            return {
                key: self.restore_value(item, tenant=tenant, conversation_id=conversation_id)
                for key, item in obj.items()
            }
        if isinstance(obj, list | tuple):
            return type(obj)(
                self.restore_value(item, tenant=tenant, conversation_id=conversation_id) for item in obj
            )
        return obj


def build_redactor(*, spacy_model: str, engine: Engine, key: bytes, retention_days: int = 90) -> Redactor:
    """Analyzer + vault in one call, for start-up code (the caller reads settings, not this module)."""
    return Redactor(build_analyzer(spacy_model), PiiVault(engine, key, retention_days=retention_days))
