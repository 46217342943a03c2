"""BM25 keyword ranking of a tenant's chunks: exact tokens (SKUs, error codes, policy names) must hit."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np

# Compound tokens ("nb-tent-2p", "ord-104233", "pay-1003", "500.00") are indexed whole, as every run of
# their parts ("nb-tent", "tent-2p") and part by part; a query keeps them whole. So "PAY-1003" ranks only the
# documents with that exact code, while "tent" or "NB-TENT" still reach "NB-TENT-2P".
_TOKEN = re.compile(r"[a-z0-9]+(?:[-_./][a-z0-9]+)*")
_PART = re.compile(r"[-_./]")
_PART_SPLIT = re.compile(r"([-_./])")
_STOPWORDS = frozenset(
    (  # noqa: SIM905 - a word list reads better as prose
        "a an and are as at be been but by can could do does did for from had has have how i if in "
        "into is it its me my no not of on or our so than that the their them then there these they "
        "this to too us was we were what when where which who why will with would you your yours"
    ).split()
)


def _stem(token: str) -> str:
    """A deliberately tiny plural stripper: refunds -> refund, policies -> policy; codes are left alone."""
    if not token.isalpha() or len(token) <= 3:
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def _keep(token: str) -> bool:
    return token not in _STOPWORDS and (len(token) > 1 or token.isdigit())


def tokenize(text: str, query: bool = False) -> list[str]:
    """Lower-cased, stop words out, light plural stemming; `query=True` keeps compound codes whole."""
    tokens: list[str] = []
    for match in _TOKEN.finditer(text.lower()):
        token = match.group(0)
        if not _PART.search(token):
            if _keep(token):
                tokens.append(_stem(token))
            continue
        tokens.append(token)
        if query:
            continue
        pieces = _PART_SPLIT.split(token)[:15]  # parts at even indexes, their separators between them
        parts = pieces[::2]
        for start in range(len(parts)):
            for end in range(start + 2, len(parts) + 1):
                if end - start < len(parts):  # the whole token is already in
                    tokens.append("".join(pieces[2 * start : 2 * end - 1]))
        tokens.extend(_stem(p) for p in parts if _keep(p))
    return tokens


def identifiers(query: str) -> list[str]:
    """Code-like query tokens (SKUs, order numbers, error codes) whose exact presence should count extra."""
    found = []
    for token in tokenize(query, query=True):
        has_digit = any(c.isdigit() for c in token)
        compound = bool(_PART.search(token))
        if (compound and (has_digit or len(_PART.findall(token)) >= 2)) or (
            not compound and has_digit and (len(token) >= 5 if token.isdigit() else len(token) >= 4)
        ):
            found.append(token)
    return found


class BM25Index:
    """Okapi BM25 (k1=1.2, b=0.75) with postings as numpy arrays; rebuilt whenever the corpus changes."""

    def __init__(self, docs: Mapping[str, Counter[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.ids: list[str] = list(docs)
        self.k1, self.b = k1, b
        lengths = np.array([sum(docs[i].values()) for i in self.ids], dtype=np.float32)
        self.avg_len = float(lengths.mean()) if len(lengths) else 0.0
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for row, doc_id in enumerate(self.ids):
            for token, tf in docs[doc_id].items():
                rows, tfs = postings.setdefault(token, ([], []))
                rows.append(row)
                tfs.append(tf)
        norm = k1 * (1 - b + b * lengths / self.avg_len) if self.avg_len else lengths
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        n = len(self.ids)
        for token, (rows, tfs) in postings.items():
            row_arr = np.array(rows, dtype=np.int64)
            tf_arr = np.array(tfs, dtype=np.float32)
            idf = math.log((n - len(rows) + 0.5) / (len(rows) + 0.5) + 1.0)
            # Precompute each posting's full contribution: queries then only gather and add.
            self._postings[token] = (row_arr, idf * tf_arr * (k1 + 1) / (tf_arr + norm[row_arr]))

    def containing(self, token: str) -> set[str]:
        posting = self._postings.get(token)
        return {self.ids[i] for i in posting[0]} if posting is not None else set()

    def __len__(self) -> int:
        return len(self.ids)

    def top(self, query: str, n: int, min_matches: int = 1) -> list[tuple[str, float]]:
        """The `n` best (chunk id, score) pairs with a positive score and at least `min_matches` distinct
        query terms, best first."""
        return self.top_many([query], n, min_matches)[0]

    def top_many(self, queries: list[str], n: int, min_matches: int = 1) -> list[list[tuple[str, float]]]:
        """`top` for several queries (a long query and its pieces) in one pass: each posting list that
        several of them share is gathered once and added to each of their score rows."""
        token_sets = [set(tokenize(query, query=True)) for query in queries]
        if not self.ids:
            return [[] for _ in queries]
        rows_of: dict[str, list[int]] = {}
        for row, tokens in enumerate(token_sets):
            for token in tokens:
                rows_of.setdefault(token, []).append(row)
        scores = np.zeros((len(queries), len(self.ids)), dtype=np.float32)
        matched = np.zeros((len(queries), len(self.ids)), dtype=np.int32)
        for token, query_rows in rows_of.items():
            posting = self._postings.get(token)
            if posting is None:
                continue
            for row in query_rows:
                scores[row, posting[0]] += posting[1]  # chunk rows are unique within one posting list
                matched[row, posting[0]] += 1
        out: list[list[tuple[str, float]]] = []
        for row, tokens in enumerate(token_sets):
            if not tokens:
                out.append([])
                continue
            hits = np.flatnonzero((scores[row] > 0) & (matched[row] >= min_matches))
            if len(hits) > n:
                hits = hits[np.argpartition(-scores[row, hits], n - 1)[:n]]
            ordered = hits[np.argsort(-scores[row, hits], kind="stable")]
            out.append([(self.ids[i], float(scores[row, i])) for i in ordered])
        return out


def term_counts(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(tokenize(text))
    return counts


def reciprocal_rank_fusion(
    rankings: Iterable[list[str]], k: int = 60, weights: Iterable[float] | None = None
) -> list[tuple[str, float]]:
    """Cormack et al.'s RRF: sum of w/(k + rank) over the rankings an item appears in (w = 1 unless given)."""
    fused: dict[str, float] = {}
    weight_of = iter(weights) if weights is not None else None
    for ranking in rankings:
        weight = next(weight_of) if weight_of is not None else 1.0
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda pair: pair[1], reverse=True)
