"""How well a sentence of a retrieved passage supports a question or a claim.

Both answer modes use it: the extractive answerer to pick the sentences that answer, the LLM
answerer to pick, for each ``[n]`` marker, the sentence of passage n that backs the claim.
The score mixes meaning (cosine of the embeddings) with the rare words the two texts share
(weighted by their inverse document frequency in the library), because an embedding alone
ranks a sentence that is *about* the question above the one that *answers* it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.embeddings import Embedder, QueryVectors
from rag.keyword import KeywordIndex
from rag.retrieve import Passage
from rag.sentences import sentence_spans
from rag.terms import terms

#: Weight of shared rare words next to embedding cosine in ``support``.
LEXICAL_WEIGHT = 0.5


@dataclass(frozen=True)
class Sentence:
    """A sentence of a retrieved passage; ``start``/``end`` are offsets in the article text."""

    text: str
    start: int
    end: int
    passage: Passage
    #: Rank of its passage in the retrieval, 0 for the best.
    rank: int


def sentences_of(passages: Sequence[Passage]) -> list[Sentence]:
    """Every sentence of the passages, each once (overlapping chunks repeat sentences)."""
    seen: set[tuple[str, int]] = set()
    out: list[Sentence] = []
    for rank, p in enumerate(passages):
        for a, b in sentence_spans(p.text):
            key = (p.article_id, p.start + a)
            if key in seen:
                continue
            seen.add(key)
            out.append(Sentence(p.text[a:b], p.start + a, p.start + b, p, rank))
    return out


class SupportScorer:
    """Scores sentences against a text; sentence embeddings are cached across questions."""

    def __init__(
        self,
        embedder: Embedder,
        keyword: KeywordIndex,
        cache_size: int = 8192,
        queries: QueryVectors | None = None,
    ):
        self.embedder = embedder
        self.keyword = keyword
        #: Embeddings of the texts scored against (questions, claims), shared with retrieval.
        self.queries = queries or QueryVectors(embedder)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget the cached sentence and question embeddings."""
        with self._lock:
            self._cache.clear()
        self.queries.clear()

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``, from the cache where it has them."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            fresh = self.embedder.embed(missing)
            with self._lock:
                for text, vec in zip(missing, fresh, strict=True):
                    self._cache[text] = vec
                    self._cache.move_to_end(text)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
        # A text evicted by a concurrent caller is embedded again rather than lost.
        lost = [t for t in texts if t not in found]
        if lost:
            found.update(zip(lost, self.embedder.embed(lost), strict=True))
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, 0))

    def cosine(self, text: str, sentences: Sequence[str]) -> np.ndarray:
        """Cosine similarity of ``text`` to each sentence."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        query = self.queries(text)
        return np.asarray(self.vectors(sentences) @ query, dtype=np.float32)

    def overlap(self, text: str, sentences: Sequence[str]) -> np.ndarray:
        """Share of ``text``'s rare-word weight that each sentence contains (0 to 1)."""
        words = terms(text)
        if not words or not sentences:
            return np.zeros(len(sentences), dtype=np.float32)
        idf = self.keyword.idf(words)
        total = sum(idf.values()) or 1.0
        out = np.zeros(len(sentences), dtype=np.float32)
        for i, s in enumerate(sentences):
            present = set(terms(s))
            out[i] = sum(w for t, w in idf.items() if t in present) / total
        return out

    def unknown_share(self, text: str) -> float:
        """Share of ``text``'s rare-word weight in words that no article of the library has:
        a question about "dinner" in a library that never mentions one is not answered.

        Zero when no word is known at all: that is a misspelt or a bare question, not one
        about something else."""
        words = terms(text)
        if not words:
            return 0.0
        idf = self.keyword.idf(words)
        missing = self.keyword.unknown(words)
        if missing == set(words):
            return 0.0
        return sum(idf[w] for w in missing) / (sum(idf.values()) or 1.0)

    def support(self, text: str, sentences: Sequence[str]) -> np.ndarray:
        """How well each sentence supports ``text``: cosine plus weighted word overlap."""
        return self.cosine(text, sentences) + LEXICAL_WEIGHT * self.overlap(text, sentences)

    def best(self, text: str, sentences: Sequence[Sentence]) -> tuple[Sentence, float] | None:
        """The sentence that best supports ``text``, with its support."""
        if not sentences:
            return None
        scores = self.support(text, [s.text for s in sentences])
        i = int(np.argmax(scores))
        return sentences[i], float(scores[i])
