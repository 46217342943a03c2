"""E-mail addresses, recognised by their shape: a new, reserved or private domain is still an address."""

from __future__ import annotations

import re

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer

_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9\-]{0,62}", re.IGNORECASE)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail pattern, validated by the shape of the domain instead of the public-suffix list.

    The stock recognizer rejects an address whose suffix its list lacks (`zelda@probe-mail.example`, a new
    gTLD, a company's internal domain), and its module-level extractor fetches publicsuffix.org on first use.
    An address that looks like one is personal whatever its suffix, so only the shape is checked; the
    extractor here, which never touches the network, is kept for callers that want the registered domain.
    """

    def __init__(self) -> None:
        super().__init__()
        # No URLs and no disk cache: the snapshot shipped inside the tldextract wheel is the only source.
        self._extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)

    def validate_result(self, pattern_text: str) -> bool:
        local, _, domain = pattern_text.rpartition("@")
        return bool(local) and _DOMAIN.fullmatch(domain.rstrip(".")) is not None
