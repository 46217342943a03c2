"""PII redaction (the only Presidio/spaCy importer): analyzer, recognizers, vault, redactor."""

from __future__ import annotations

import logging
import os

# Before anything below imports presidio (and so tldextract): the suffix list is never fetched.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
# Presidio logs the raw text around every finding at DEBUG level: keep it quiet whatever the app's level.
for _name in ("presidio-analyzer", "presidio-anonymizer"):
    logging.getLogger(_name).setLevel(logging.WARNING)

from agent.pii.engine import build_analyzer  # noqa: E402
from agent.pii.redactor import Redaction, Redactor, build_redactor  # noqa: E402
from agent.pii.vault import PiiVault, PiiVaultEntry, load_or_create_key  # noqa: E402

__all__ = [
    "PiiVault",
    "PiiVaultEntry",
    "Redaction",
    "Redactor",
    "build_analyzer",
    "build_redactor",
    "load_or_create_key",
]
