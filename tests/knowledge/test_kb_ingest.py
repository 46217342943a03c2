"""Ingestion: incremental by content hash, removed files deleted, clear reports for bad files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kb_support import make_pdf, write_docs

from knowledge.ingest import document_id_for, ingest_bytes, ingest_paths
from knowledge.loaders import UnreadableDocument, UnsupportedDocument

DOCS = {
    "refunds.md": "# Refunds\n\n## Window\n\nWithin 30 days of delivery.\n\n## Method\n\nOriginal payment.",
    "shipping.md": "# Shipping\n\n## Costs\n\nStandard $6.95, free over $75.\n\n## Canada\n\nDuties prepaid.",
    "tents.md": "# Tents\n\nThe NB-TENT-2P weighs 4 lb 2 oz.\n\n## Care\n\nDry it before storing.",
}


def test_first_run_adds_everything_and_second_run_changes_nothing(
    kb: Any, tenant: str, tmp_path: Path
) -> None:
    folder = write_docs(tmp_path / "docs", DOCS)
    first = ingest_paths(kb, tenant, [folder])
    assert (first.documents, first.chunks_added, first.chunks_updated, first.chunks_deleted) == (3, 6, 0, 0)
    assert kb.count(tenant) == 6

    second = ingest_paths(kb, tenant, [folder])
    assert (second.chunks_added, second.chunks_updated, second.chunks_unchanged, second.chunks_deleted) == (
        0,
        0,
        6,
        0,
    )
    assert not second.changed


def test_editing_one_file_touches_only_its_changed_chunks(kb: Any, tenant: str, tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "docs", DOCS)
    ingest_paths(kb, tenant, [folder])
    before = kb.stored_chunks(tenant)

    (folder / "refunds.md").write_text(DOCS["refunds.md"].replace("30 days", "45 days"))
    report = ingest_paths(kb, tenant, [folder])
    assert (report.chunks_added, report.chunks_updated, report.chunks_unchanged, report.chunks_deleted) == (
        0,
        1,
        5,
        0,
    )
    after = kb.stored_chunks(tenant)
    changed = {cid for cid in after if after[cid]["content_hash"] != before[cid]["content_hash"]}
    assert len(changed) == 1
    assert after[changed.pop()]["section"] == "Window"
    assert "45 days" in kb.search(tenant, "how many days is the refund window", k=1)[0].text


def test_sections_added_and_removed_in_a_file(kb: Any, tenant: str, tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "docs", DOCS)
    ingest_paths(kb, tenant, [folder])
    (folder / "shipping.md").write_text(
        "# Shipping\n\n## Costs\n\nStandard $6.95, free over $75.\n\n## Alaska\n\nAllow 4 extra days."
    )
    report = ingest_paths(kb, tenant, [folder])
    assert (report.chunks_added, report.chunks_updated, report.chunks_unchanged, report.chunks_deleted) == (
        1,
        0,
        5,
        1,
    )
    sections = {meta["section"] for meta in kb.stored_chunks(tenant).values()}
    assert "Alaska" in sections and "Canada" not in sections


def test_a_file_removed_from_the_folder_is_deleted(kb: Any, tenant: str, tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "docs", DOCS)
    ingest_paths(kb, tenant, [folder])
    (folder / "tents.md").unlink()
    report = ingest_paths(kb, tenant, [folder])
    assert (report.documents_deleted, report.chunks_deleted, report.chunks_unchanged) == (1, 2, 4)
    assert kb.count(tenant) == 4
    assert all("NB-TENT-2P" not in p.text for p in kb.search(tenant, "NB-TENT-2P", k=10))
    assert sorted(Path(d.source).name for d in kb.list_documents(tenant)) == ["refunds.md", "shipping.md"]


def test_mixed_folder_reports_skipped_files_with_reasons_and_ingests_the_rest(
    kb: Any, tenant: str, tmp_path: Path
) -> None:
    folder = write_docs(
        tmp_path / "mixed", {"ok.md": "# Ok\n\nFine text.", "notes.txt": "Plain notes about stoves."}
    )
    (folder / "page.html").write_text(
        "<html><head><title>Page</title></head><body><h2>A</h2><p>Hello html</p></body></html>"
    )
    (folder / "guide.pdf").write_bytes(make_pdf(["PDF guide about lanterns."]))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 garbage")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "deep.markdown").write_text("# Deep\n\nNested files count too.")
    (folder / ".hidden.md").write_text("# Hidden\n\nskip me")

    report = ingest_paths(kb, tenant, [folder, tmp_path / "missing.md"])
    assert report.documents == 5
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"broken.pdf", "image.png", "missing.md"}
    assert "not a readable PDF" in reasons["broken.pdf"]
    assert reasons["image.png"] == "unsupported file type"
    assert "no such file" in reasons["missing.md"]
    titles = {d.title for d in kb.list_documents(tenant)}
    assert titles == {"Ok", "Notes", "Page", "Guide", "Deep"}


def test_upload_replaces_the_same_file_name_and_rejects_bad_files(kb: Any, tenant: str) -> None:
    first = ingest_bytes(kb, tenant, "faq.md", b"# FAQ\n\n## Hours\n\nOpen 8-6.")
    again = ingest_bytes(kb, tenant, "faq.md", b"# FAQ\n\n## Hours\n\nOpen 9-5.")
    assert (first.chunks_added, again.chunks_updated, again.chunks_added) == (1, 1, 0)
    assert first.document_ids == again.document_ids == [document_id_for("upload://faq.md")]
    [info] = kb.list_documents(tenant)
    assert (info.title, info.source, info.chunks) == ("FAQ", "upload://faq.md", 1)

    with pytest.raises(UnsupportedDocument):
        ingest_bytes(kb, tenant, "virus.exe", b"MZ")
    with pytest.raises(UnreadableDocument):
        ingest_bytes(kb, tenant, "scan.pdf", b"%PDF-1.4 nothing")
    assert kb.count(tenant) == 1


def test_document_ids_are_stable_readable_and_distinct() -> None:
    a = document_id_for("/srv/kb/Refund Policy.md")
    assert a == document_id_for("/srv/kb/Refund Policy.md")
    assert a.startswith("refund-policy-")
    assert a != document_id_for("/srv/other/Refund Policy.md")


def test_chunks_carry_citation_metadata_and_a_content_hash(kb: Any, tenant: str, tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "docs", {"tents.md": DOCS["tents.md"]})
    ingest_paths(kb, tenant, [folder])
    metas = list(kb.stored_chunks(tenant).values())
    assert {m["section"] for m in metas} == {"", "Care"}
    for meta in metas:
        assert meta["title"] == "Tents"
        assert meta["source"] == str((folder / "tents.md").resolve())
        assert meta["document_id"] == document_id_for(meta["source"])
        assert len(meta["content_hash"]) == 32 and meta["ingested_at"]
