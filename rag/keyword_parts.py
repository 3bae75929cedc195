"""The parts of the keyword index: a base built whole (bm25s), the chunks committed since (a
delta, scored in Python as bm25s scores the base), and the base's articles removed since;
one snapshot of the three answers a search."""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.keyword_where import FILTER_FIELDS, Columns, filter_meta, where_mask
from rag.terms import terms


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    article_id: str
    score: float


def tokenize(texts: list[str]) -> list[list[str]]:
    return [terms(t) for t in texts]


@dataclass
class Base:
    """A bm25s index over the chunks of the library as it was at one commit: built whole (in
    the background once a library is open), saved beside the store, loaded memory-mapped."""

    generation: str
    bm25: Any
    chunk_ids: list[str]
    article_ids: list[str]
    #: The filterable fields other than the article id, one value per chunk (None: missing).
    fields: dict[str, list[Any]]
    df: Counter[str]
    #: Mean chunk length in terms, for scoring the delta as bm25s scores the base.
    avgdl: float

    @functools.cached_property
    def articles(self) -> frozenset[str]:
        return frozenset(self.article_ids)

    @functools.cached_property
    def columns(self) -> Columns:
        return Columns({"article_id": self.article_ids, **self.fields}, len(self.chunk_ids))


@dataclass(frozen=True)
class Delta:
    """Chunks committed since the base was built, scored with BM25 beside it."""

    chunk_ids: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    metas: tuple[dict[str, Any], ...] = ()
    counts: tuple[Counter[str], ...] = ()
    #: Terms in each chunk (BM25's document length).
    lengths: tuple[int, ...] = ()
    df: Counter[str] = field(default_factory=Counter)

    @functools.cached_property
    def columns(self) -> Columns:
        values = {f: [m.get(f) for m in self.metas] for f in FILTER_FIELDS}
        return Columns(values, len(self.chunk_ids))

    def plus(self, ids: list[str], texts: list[str], metas: list[dict[str, Any]]) -> Delta:
        counts = [Counter(words) for words in tokenize(texts)]
        df = Counter(self.df)
        for c in counts:
            df.update(c.keys())
        return Delta(
            self.chunk_ids + tuple(ids),
            self.article_ids + tuple(m["article_id"] for m in metas),
            self.metas + tuple(filter_meta(m) for m in metas),
            self.counts + tuple(counts),
            lengths=self.lengths + tuple(sum(c.values()) for c in counts),
            df=df,
        )

    def without(self, gone: Collection[str]) -> Delta:
        if not set(gone).intersection(self.article_ids):
            return self
        keep = [i for i, a in enumerate(self.article_ids) if a not in gone]
        counts = tuple(self.counts[i] for i in keep)
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        return Delta(
            tuple(self.chunk_ids[i] for i in keep),
            tuple(self.article_ids[i] for i in keep),
            tuple(self.metas[i] for i in keep),
            counts,
            lengths=tuple(self.lengths[i] for i in keep),
            df=df,
        )


@dataclass(frozen=True)
class Snapshot:
    """The keyword index of one generation of the library: a base index, the chunks added
    since, and the base's articles removed since. Replaced whole, never changed in place."""

    generation: str
    base: Base
    delta: Delta = field(default_factory=Delta)
    removed: frozenset[str] = frozenset()

    @functools.cached_property
    def removed_mask(self) -> np.ndarray | None:
        """True for each base chunk whose article is gone."""
        if not self.removed:
            return None
        return where_mask(self.base.columns, {"article_id": {"$in": sorted(self.removed)}})

    @functools.cached_property
    def chunk_ids(self) -> list[str]:
        ids = self.base.chunk_ids
        if self.removed:
            ids = [
                c for c, a in zip(ids, self.base.article_ids, strict=True) if a not in self.removed
            ]
        return [*ids, *self.delta.chunk_ids]

    @functools.cached_property
    def article_ids(self) -> list[str]:
        ids = self.base.article_ids
        if self.removed:
            ids = [a for a in ids if a not in self.removed]
        return [*ids, *self.delta.article_ids]

    @functools.cached_property
    def articles(self) -> frozenset[str]:
        return (self.base.articles - self.removed) | frozenset(self.delta.article_ids)

    def df(self, word: str) -> int:
        # Removed base chunks still count: a word only they held stays "known" until the
        # next base build, which changes nothing a question sees.
        return self.base.df[word] + self.delta.df[word]

    @property
    def size(self) -> int:
        return len(self.chunk_ids)

    @property
    def drift(self) -> int:
        """Chunks the base no longer describes: added since, or removed since."""
        added = len(self.delta.chunk_ids)
        removed = len(self.base.chunk_ids) - (self.size - added)
        return added + removed

    def idf(self, words: Collection[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each word over the library as it is now."""
        n = self.size
        return {w: math.log(1 + (n - self.df(w) + 0.5) / (self.df(w) + 0.5)) for w in set(words)}

    def search(self, words: list[str], k: int, where: dict[str, Any] | None) -> list[KeywordHit]:
        """The ``k`` best chunks for the query terms ``words`` that pass ``where``."""
        hits = self._search_base(words, k, where) + self._search_delta(words, where)
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def _search_base(
        self, words: list[str], k: int, where: dict[str, Any] | None
    ) -> list[KeywordHit]:
        """BM25 over the base chunks, each query term's scores reweighted from the base's idf
        to the library's as it is now (bm25s keeps idf x tf per term), so that base and delta
        chunks score on one scale, as a whole build would score them."""
        base = self.base
        if base.bm25 is None:
            return []
        allowed = where_mask(base.columns, where) if where else None
        if self.removed_mask is not None:
            kept = ~self.removed_mask
            allowed = kept if allowed is None else allowed & kept
        now = self.idf(words)
        n_base = len(base.chunk_ids)
        scores = np.zeros(n_base, dtype=np.float32)
        for word, times in Counter(words).items():
            if word not in base.bm25.vocab_dict:
                continue
            then = math.log(1 + (n_base - base.df[word] + 0.5) / (base.df[word] + 0.5))
            scores += base.bm25.get_scores([word]) * np.float32(times * now[word] / then)
        if allowed is not None:
            scores[~allowed] = 0.0
        n = min(k, n_base)
        top = np.argpartition(-scores, n - 1)[:n]
        return [
            KeywordHit(base.chunk_ids[int(d)], base.article_ids[int(d)], float(scores[d]))
            for d in top
            if scores[d] > 0
        ]

    def _search_delta(self, words: list[str], where: dict[str, Any] | None) -> list[KeywordHit]:
        """BM25 over the chunks added since the base, scored as bm25s scores the base
        (its "lucene" variant: idf log(1 + (N - df + .5)/(df + .5)), tf / (tf + k1 (1 - b +
        b dl/avgdl)), with the base's k1, b and mean chunk length)."""
        delta = self.delta
        if not delta.chunk_ids:
            return []
        allowed = where_mask(delta.columns, where) if where else None
        k1 = float(getattr(self.base.bm25, "k1", 1.5))
        b = float(getattr(self.base.bm25, "b", 0.75))
        idf = self.idf(words)
        hits = []
        for i, counts in enumerate(delta.counts):
            if not any(w in counts for w in idf) or (allowed is not None and not allowed[i]):
                continue
            norm = k1 * (1 - b + b * delta.lengths[i] / self.base.avgdl)
            score = sum(idf[w] * counts[w] / (counts[w] + norm) for w in words if w in counts)
            if score > 0:
                hits.append(KeywordHit(delta.chunk_ids[i], delta.article_ids[i], score))
        return hits
