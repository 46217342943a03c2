"""One cited passage by chunk id, and which passages are internal (not to be pasted to a customer).

A passage is internal when its document's source says so: an `internal:` URI (`internal:refund-exceptions`)
or a folder named `internal` anywhere in its path or URL (`help-centre/internal/refund-exceptions.md`,
`https://wiki.example/internal/...`). `deskpilot ingest ./kb/internal` and an upload with
`source=internal:...` both mark documents that way; no ingestion change is needed.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from knowledge.models import Passage

_SEPARATORS = re.compile(r"[/\\]")


def is_internal(source: str) -> bool:
    lowered = source.strip().lower()
    if lowered.startswith("internal:"):
        return True
    path = re.sub(r"^[a-z][a-z0-9+.-]*://[^/]*", "", lowered)  # a URL's path only, not its host
    return "internal" in _SEPARATORS.split(path)[:-1]


class PassageOut(BaseModel):
    chunk_id: str
    document_id: str
    title: str
    section: str
    source: str
    text: str
    internal: bool
    flagged: bool  # the text holds instructions aimed at an AI
    flag_reasons: list[str]


def get_passage(kb: Any, tenant: str, chunk_id: str) -> PassageOut | None:
    """Reads the chunk from the tenant's own collection, so another tenant's id finds nothing."""
    collection = kb._collection(tenant)  # the knowledge base has no public get-by-id yet
    if collection is None:
        return None
    found = collection.get(ids=[chunk_id], include=["documents", "metadatas"])
    if not found["ids"]:
        return None
    text = (found["documents"] or [""])[0] or ""
    meta = dict((found["metadatas"] or [{}])[0] or {})
    passage = Passage.from_stored(chunk_id, text, meta, score=0.0)
    return PassageOut(
        **passage.model_dump(exclude={"score"}),
        internal=is_internal(passage.source),
    )
