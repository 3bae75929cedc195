"""Sentence-aware chunks that keep their character span in the article text.

Sentences come from NLTK's Punkt model (the copy that ships inside llama-index-core) within
each line; chunks pack whole sentences up to a budget of the embedding model's own tokens, so no
chunk is ever cut off by the model, and repeat trailing sentences as overlap.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

from rag.config import Config
from rag.embeddings import Embedder
from rag.records import Chunk
from rag.sentences import sentence_spans

TokenSpans = Callable[[str], list[tuple[int, int]]]


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int


def _units(text: str, token_spans: list[tuple[int, int]], max_tokens: int) -> list[_Unit]:
    starts = [s for s, _ in token_spans]
    units: list[_Unit] = []
    for a, b in sentence_spans(text):
        lo = bisect.bisect_left(starts, a)
        hi = bisect.bisect_left(starts, b)
        if hi - lo <= max_tokens:
            units.append(_Unit(a, b, hi - lo))
            continue
        # A sentence longer than the model reads is cut at token boundaries.
        for i in range(lo, hi, max_tokens):
            j = min(i + max_tokens, hi)
            start = a if i == lo else token_spans[i][0]
            end = b if j == hi else token_spans[j - 1][1]
            units.append(_Unit(start, end, j - i))
    return units


def chunk_text(
    article_id: str,
    text: str,
    token_spans: TokenSpans,
    max_tokens: int,
    overlap_tokens: int = 0,
) -> list[Chunk]:
    """Chunks of ``text`` holding at most ``max_tokens`` tokens each.

    ``token_spans`` gives the character spans of the embedding model's tokens; every chunk
    satisfies ``text[chunk.start:chunk.end] == chunk.text``.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    units = _units(text, token_spans(text), max_tokens)
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and total + units[j].tokens <= max_tokens:
            total += units[j].tokens
            j += 1
        j = max(j, i + 1)
        start, end = units[i].start, units[j - 1].end
        chunks.append(Chunk(article_id, len(chunks), start, end, text[start:end]))
        if j >= len(units):
            break
        # Step back over trailing sentences that fit the overlap, always moving forward.
        k, overlap = j, 0
        while k - 1 > i and overlap + units[k - 1].tokens <= overlap_tokens:
            overlap += units[k - 1].tokens
            k -= 1
        i = k
    return chunks


def chunk_article(article_id: str, text: str, embedder: Embedder, config: Config) -> list[Chunk]:
    """The chunks ingest makes of an article: the configured budget, capped by the model's
    input, with at most half of it repeated as overlap."""
    max_tokens = min(config.chunk_tokens, embedder.max_tokens)
    overlap = min(config.chunk_overlap, max_tokens // 2)
    return chunk_text(article_id, text, embedder.token_spans, max_tokens, overlap)
