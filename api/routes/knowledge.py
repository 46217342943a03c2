"""The knowledge base over HTTP: upload, list and delete help documents (admin), search them (any key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import AdminKey, AnyKey, KnowledgeDep
from api.errors import InvalidInput, NotFoundError, PayloadTooLarge, UnsupportedMediaType
from api.schemas import links
from knowledge.ingest import ingest_bytes
from knowledge.loaders import UnreadableDocument, UnsupportedDocument
from knowledge.models import DocumentInfo, IngestReport, Passage

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


class DocumentList(BaseModel):
    documents: list[DocumentInfo]
    count: int


class SearchResults(BaseModel):
    query: str
    passages: list[Passage]


@router.post(
    "/documents",
    status_code=201,
    response_model=IngestReport,
    responses={
        201: links(
            DeleteDocument=(
                "delete_document_v1_knowledge_documents__document_id__delete",
                {"document_id": "$response.body#/document_ids/0"},
            )
        )
    },
)
async def upload_document(
    principal: AdminKey,
    kb: KnowledgeDep,
    file: Annotated[UploadFile, File(description="Markdown, HTML, text, PDF, or JSON with title+content.")],
    source: Annotated[
        str | None, Form(max_length=2000, description="URL or path to cite; default upload://<filename>.")
    ] = None,
) -> IngestReport:
    """Add or replace one document; re-uploading the same file name (or source) updates it in place."""
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    try:
        return await run_in_threadpool(
            ingest_bytes, kb, principal.tenant, file.filename or "upload", data, source
        )
    except UnsupportedDocument as error:
        raise UnsupportedMediaType(str(error)) from error
    except UnreadableDocument as error:
        raise InvalidInput(str(error)) from error


@router.get("/documents", response_model=DocumentList)
async def list_documents(principal: AdminKey, kb: KnowledgeDep) -> DocumentList:
    documents = await run_in_threadpool(kb.list_documents, principal.tenant)
    return DocumentList(documents=documents, count=len(documents))


@router.delete("/documents/{document_id}", status_code=204)
async def delete_document(document_id: str, principal: AdminKey, kb: KnowledgeDep) -> None:
    if not await run_in_threadpool(kb.delete_document, principal.tenant, document_id):
        raise NotFoundError(f"document {document_id} not found")


@router.get("/search", response_model=SearchResults)
async def search(
    principal: AnyKey,
    kb: KnowledgeDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description="What to look for.")],
    k: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchResults:
    """Hybrid (vector + keyword) search of the caller's tenant; passages carry citation data and a
    `flagged` mark when their text contains instructions aimed at an AI."""
    passages = await run_in_threadpool(kb.search, principal.tenant, q, k)
    return SearchResults(query=q, passages=passages)
