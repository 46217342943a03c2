"""Heading-aware chunking: sections keep their heading path, chunks stay under the size limit."""

from __future__ import annotations

from knowledge.chunking import chunk_markdown, split_sections

ARTICLE = """# Refund Policy

Intro paragraph before any section.

## Who can get a refund

Delivered orders, within 30 days.

### Exceptions

Final-sale items are not refundable.

## Where the money goes

Original payment method, 5-10 business days.
"""


def test_leading_h1_is_the_title_and_sections_keep_their_heading_path() -> None:
    title, chunks = chunk_markdown(ARTICLE)
    assert title == "Refund Policy"
    assert [(c.section, c.text) for c in chunks] == [
        ("", "Intro paragraph before any section."),
        ("Who can get a refund", "Delivered orders, within 30 days."),
        ("Who can get a refund > Exceptions", "Final-sale items are not refundable."),
        ("Where the money goes", "Original payment method, 5-10 business days."),
    ]


def test_headings_inside_code_fences_are_not_sections() -> None:
    markdown = "# T\n\n## Setup\n\n```bash\n# not a heading\nmake install\n```\n\n## Next\n\ntext"
    _, chunks = chunk_markdown(markdown)
    assert [c.section for c in chunks] == ["Setup", "Next"]
    assert "# not a heading" in chunks[0].text


def test_setext_headings_front_matter_and_inline_markup() -> None:
    markdown = (
        '---\ntitle: "Shipping FAQ"\nauthor: x\n---\n'
        "Canada\n------\n\nYes, we ship there.\n\n## **Costs** and [fees](http://x)\n\n$14.95"
    )
    title, sections = split_sections(markdown)
    assert title == "Shipping FAQ"
    assert [(s.path, s.body) for s in sections] == [
        ("Canada", "Yes, we ship there."),
        ("Costs and fees", "$14.95"),
    ]


def test_a_second_h1_is_a_section_and_a_deeper_heading_resets_correctly() -> None:
    _, sections = split_sections("# Title\n\n# Part A\n\n### Deep\n\nx\n\n## B\n\ny")
    assert [s.path for s in sections] == ["Part A > Deep", "Part A > B"]


def test_long_sections_are_split_under_the_limit_without_losing_text() -> None:
    paragraph = " ".join(f"Sentence number {i} about tents and stoves." for i in range(60))
    markdown = f"# Big\n\n## Care\n\n{paragraph}\n\nShort closing paragraph."
    _, chunks = chunk_markdown(markdown, max_chars=300)
    assert len(chunks) > 5
    assert all(len(c.text) <= 300 for c in chunks)
    assert all(c.section == "Care" for c in chunks)
    assert [c.index_in_section for c in chunks] == list(range(len(chunks)))
    joined = " ".join(c.text for c in chunks)
    assert all(f"Sentence number {i} " in joined for i in range(60)) and "Short closing paragraph." in joined


def test_small_paragraphs_are_packed_together_and_a_huge_token_is_cut() -> None:
    _, chunks = chunk_markdown("a\n\nb\n\nc\n\n" + "x" * 2500, max_chars=1000)
    assert chunks[0].text == "a\n\nb\n\nc"
    assert [len(c.text) for c in chunks[1:]] == [1000, 1000, 500]


def test_plain_text_without_headings_has_no_title_and_an_empty_section() -> None:
    title, chunks = chunk_markdown("Just some notes.\n\nSecond paragraph.")
    assert title is None
    assert [c.section for c in chunks] == [""]
