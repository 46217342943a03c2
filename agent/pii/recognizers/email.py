"""E-mail addresses, validated against the public-suffix list bundled with tldextract (never fetched)."""

from __future__ import annotations

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer with its own suffix-list extractor that never touches the network.

    The stock one uses tldextract's module-level extractor, which fetches publicsuffix.org on first use
    unless the environment was set before tldextract was imported anywhere in the process.
    """

    def __init__(self) -> None:
        super().__init__()
        # No URLs and no disk cache: the snapshot shipped inside the tldextract wheel is the only source.
        self._extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)

    def validate_result(self, pattern_text: str) -> bool:
        return self._extract(pattern_text.rsplit("@", 1)[-1]).fqdn != ""
