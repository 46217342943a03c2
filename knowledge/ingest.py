"""Ingestion: load files, chunk them by heading, and write only what changed (by content hash)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

from knowledge.chunking import chunk_markdown
from knowledge.loaders import (
    SUPPORTED_SUFFIXES,
    DocumentError,
    LoadedDocument,
    UnreadableDocument,
    UnsupportedDocument,
    load_document,
)
from knowledge.models import ChunkRecord, IngestReport, SkippedFile
from knowledge.store import KnowledgeBase

__all__ = [
    "DocumentError",
    "UnreadableDocument",
    "UnsupportedDocument",
    "document_id_for",
    "ingest_bytes",
    "ingest_paths",
]

MAX_FILE_BYTES = 50 * 1024 * 1024


def document_id_for(source: str) -> str:
    """Stable and readable: the file's stem plus a digest of its full source path or URL."""
    stem = re.sub(r"[^a-z0-9]+", "-", PurePath(source).stem.lower()).strip("-")[:48] or "document"
    return f"{stem}-{hashlib.sha256(source.encode()).hexdigest()[:10]}"


def _fallback_title(filename: str) -> str:
    words = re.sub(r"[-_]+", " ", PurePath(filename).stem).strip()
    return words[:1].upper() + words[1:] if words else filename


def build_records(loaded: LoadedDocument, *, source: str, filename: str, now: str) -> list[ChunkRecord]:
    """Chunk ids are positional within a section, so an edit re-embeds only the section it touches."""
    markdown_title, chunks = chunk_markdown(loaded.markdown)
    title = loaded.title or markdown_title or _fallback_title(filename)
    document_id = document_id_for(source)
    seen: dict[str, int] = {}
    records: list[ChunkRecord] = []
    for chunk in chunks:
        if chunk.index_in_section == 0:  # a new section starts; the same heading may occur twice
            seen[chunk.section] = seen.get(chunk.section, -1) + 1
        key = hashlib.sha256(chunk.section.encode()).hexdigest()[:8]
        occurrence = seen[chunk.section]
        suffix = f"{key}.{occurrence}" if occurrence else key
        records.append(
            ChunkRecord(
                chunk_id=f"{document_id}:{suffix}:{chunk.index_in_section}",
                document_id=document_id,
                title=title,
                section=chunk.section,
                source=source,
                text=chunk.text,
                ingested_at=now,
                external_id=loaded.external_id or "",
            )
        )
    return records


def _apply(
    kb: KnowledgeBase,
    tenant: str,
    documents: dict[str, list[ChunkRecord]],
    removed_documents: Iterable[str] = (),
    progress: bool = False,
) -> IngestReport:
    """Diff the new chunks of `documents` against what is stored, then write the difference in one pass."""
    stored = kb.stored_chunks(tenant)
    by_document: dict[str, dict[str, str]] = {}
    for chunk_id, meta in stored.items():
        by_document.setdefault(str(meta.get("document_id")), {})[chunk_id] = str(meta.get("content_hash"))
    report = IngestReport(documents=len(documents), document_ids=list(documents))
    upserts: list[ChunkRecord] = []
    deletes: list[str] = []
    for document_id, records in documents.items():
        old = by_document.get(document_id, {})
        for record in records:
            previous = old.get(record.chunk_id)
            if previous is None:
                report.chunks_added += 1
                upserts.append(record)
            elif previous != record.content_hash:
                report.chunks_updated += 1
                upserts.append(record)
            else:
                report.chunks_unchanged += 1
        current = {r.chunk_id for r in records}
        deletes.extend(chunk_id for chunk_id in old if chunk_id not in current)
    for document_id in removed_documents:
        if document_id in by_document and document_id not in documents:
            report.documents_deleted += 1
            deletes.extend(by_document[document_id])
    report.chunks_deleted = len(deletes)
    if upserts or deletes:
        bar = _progress_bar(len(upserts), "embedding", progress)
        try:
            kb.write(tenant, upserts, deletes, on_progress=bar.update if bar else None)
        finally:
            if bar:
                bar.close()
    return report


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="chunk" if desc == "embedding" else "file")


def ingest_bytes(
    kb: KnowledgeBase, tenant: str, filename: str, data: bytes, source: str | None = None
) -> IngestReport:
    """Ingest one uploaded file; raises `UnsupportedDocument`/`UnreadableDocument` (ValueErrors)."""
    name = PurePath(filename.replace("\\", "/")).name or "upload"
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableDocument(f"{name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    loaded = load_document(name, data)
    origin = source or f"upload://{name}"
    now = datetime.now(UTC).isoformat()
    records = build_records(loaded, source=origin, filename=name, now=now)
    if not records:
        raise UnreadableDocument(f"{name}: no text to index")
    return _apply(kb, tenant, {document_id_for(origin): records})


def _expand(paths: Iterable[Path], report: IngestReport) -> tuple[list[Path], list[Path], list[Path]]:
    """(files to read, folders scanned, named files that no longer exist)."""
    files: list[Path] = []
    folders: list[Path] = []
    missing: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_dir():
            folders.append(path)
            for candidate in sorted(path.rglob("*")):
                relative = candidate.relative_to(path)
                if any(part.startswith(".") for part in relative.parts) or not candidate.is_file():
                    continue  # hidden files and folders (.git, .DS_Store) are not documents
                if candidate.suffix.lower() in SUPPORTED_SUFFIXES:
                    files.append(candidate)
                else:
                    report.skipped.append(SkippedFile(path=str(candidate), reason="unsupported file type"))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(path)
    return list(dict.fromkeys(files)), folders, missing


def ingest_paths(kb: KnowledgeBase, tenant: str, paths: list[Path], progress: bool = False) -> IngestReport:
    """Ingest files and folders (recursively); incremental, and files gone from a folder are removed."""
    report = IngestReport()
    files, folders, missing = _expand(paths, report)
    now = datetime.now(UTC).isoformat()
    documents: dict[str, list[ChunkRecord]] = {}
    bar = _progress_bar(len(files), "reading", progress)
    for path in files:
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise UnreadableDocument(f"{path.name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
            loaded = load_document(path.name, path.read_bytes())
            records = build_records(loaded, source=str(path), filename=path.name, now=now)
            if not records:
                raise UnreadableDocument(f"{path.name}: no text to index")
            documents[records[0].document_id] = records
        except (DocumentError, OSError) as exc:
            report.skipped.append(SkippedFile(path=str(path), reason=str(exc)))
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    # Documents whose file was removed from a scanned folder, or a named file that is gone, are deleted.
    gone = {str(m) for m in missing}
    removed = [
        info.document_id
        for info in kb.list_documents(tenant)
        if (info.source in gone or any(info.source.startswith(f"{folder}{os.sep}") for folder in folders))
        and not Path(info.source).exists()
    ]
    for path in missing:
        report.skipped.append(SkippedFile(path=str(path), reason="no such file or folder"))
    applied = _apply(kb, tenant, documents, removed, progress)
    applied.skipped = report.skipped + applied.skipped
    return applied
