"""Gazetteers of given names and surnames (built once from Faker's name lists, minus a held-out tenth)."""

from __future__ import annotations

import functools
import zlib
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
FIRST_NAMES_FILE = DATA / "first_names.txt"
SURNAMES_FILE = DATA / "surnames.txt"
# Latin-script locales whose customers write to an English-language help desk (the lists, not the language).
SOURCE_LOCALES = (
    "en", "en_US", "en_GB", "en_IE", "en_IN", "en_NZ", "en_KE", "en_NG", "en_PK", "en_TH", "de_DE", "fr_FR",
    "es_ES", "es_MX", "it_IT", "pt_BR", "pt_PT", "nl_NL", "pl_PL", "sv_SE", "da_DK", "no_NO", "fi_FI",
    "cs_CZ", "tr_TR", "id_ID", "vi_VN", "ga_IE",
)  # fmt: skip


def is_held_out(word: str) -> bool:
    """One name in ten is left out of the gazetteers on purpose, so the evaluation can measure recall on
    names the gazetteers have never seen (bench/pii_generated.py reports it apart)."""
    return zlib.crc32(word.lower().encode()) % 10 == 0


@functools.cache
def first_names() -> frozenset[str]:
    return _read(FIRST_NAMES_FILE)


@functools.cache
def surnames() -> frozenset[str]:
    return _read(SURNAMES_FILE)


def _read(path: Path) -> frozenset[str]:
    return frozenset(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def build(out: Path = DATA) -> None:
    """Regenerate the two files from the installed Faker (a development dependency; run by hand)."""
    import importlib

    firsts: set[str] = set()
    lasts: set[str] = set()
    for locale in SOURCE_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute, bucket in (
            ("first_names", firsts), ("first_names_male", firsts), ("first_names_female", firsts),
            ("last_names", lasts),
        ):  # fmt: skip
            for name in getattr(provider, attribute, ()):
                for part in str(name).replace("-", " ").split():
                    if len(part) > 1 and part.isalpha():
                        bucket.add(part.lower())
    for path, names in ((out / "first_names.txt", firsts), (out / "surnames.txt", lasts)):
        kept = sorted(n for n in names if not is_held_out(n))
        path.write_text("\n".join(kept) + "\n", encoding="utf-8")


if __name__ == "__main__":
    build()
