"""Deterministic benchmark data made from a real corpus: a larger corpus for ingest, and large
libraries for question latency whose vectors are perturbed copies of real chunk embeddings."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from ingest.chunking import chunk_article
from ingest.loaders import Source, expand, load
from rag.config import Config
from rag.embeddings import Embedder
from rag.records import Article, Chunk
from rag.sentences import sentence_spans
from rag.store import Store

#: Noise added to each copied vector, as a share of its length: copies keep cosine ~0.96 to
#: their original, so that nearest-neighbour search has real work and no exact ties.
PERTURBATION = 0.3
#: Articles written to the store per call while building a large library.
ARTICLES_PER_WRITE = 200
#: Origin of every copied article, so that a growing library knows its originals.
COPY_PREFIX = "bench-copy-"


def load_articles(corpus: Path) -> list[Article]:
    """Every article that ``rag ingest`` would read from ``corpus``."""
    return [
        a
        for s in expand([corpus])
        if isinstance(s, Source)
        for a in load(s, 50_000_000, 20.0)
        if isinstance(a, Article)
    ]


def rotated_text(text: str, shift: int) -> str:
    """The article's sentences rotated by ``shift``: new text, same vocabulary and style."""
    spans = sentence_spans(text)
    if len(spans) < 2:
        return f"{text} ({shift})"
    sentences = [text[a:b] for a, b in spans]
    shift %= len(sentences)
    return " ".join(sentences[shift:] + sentences[:shift])


def write_larger_corpus(corpus: Path, copies: int, dest: Path) -> Path:
    """A JSONL of the corpus's articles plus ``copies - 1`` rotated versions of each."""
    rows = []
    for a in load_articles(corpus):
        for j in range(copies):
            text = a.text if j == 0 else rotated_text(a.text, j)
            if j and text == a.text:
                text = f"{text} ({j})"
            rows.append({"id": f"{a.id}-v{j}", "title": a.title, "text": text})
    dest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return dest


def add_real_articles(
    store: Store, embedder: Embedder, articles: list[Article], target_chunks: int, config: Config
) -> int:
    """Chunk, embed and store articles in order until the library holds ``target_chunks``."""
    for article in articles:
        if store.count_chunks() >= target_chunks:
            break
        if store.info(article.id) is not None:
            continue
        chunks = chunk_article(article.id, article.text, embedder, config)
        if chunks:
            store.add_articles([(article, chunks, embedder.embed([c.text for c in chunks]))])
    return store.count_chunks()


_LONG_WORD = re.compile(r"[a-z]{4,}")


def recased(text: str, copy: int) -> str:
    """``text`` with the second letter of some long words upper-cased, in a pseudo-random
    pattern of its own for each copy.

    Offsets, tokens (the model is uncased) and keyword terms stay the same, but the sentences
    differ from every other copy's, so that no cache shares work between copies.
    """
    chars = list(text)
    for k, word in enumerate(_LONG_WORD.finditer(text)):
        if hashlib.blake2b(f"{copy}:{k}".encode(), digest_size=1).digest()[0] & 1:
            chars[word.start() + 1] = chars[word.start() + 1].upper()
    return "".join(chars)


def _copy(
    original: Article,
    rows: list[tuple[Chunk, np.ndarray]],
    copy: int,
    rng: np.random.Generator,
) -> tuple[Article, list[Chunk], np.ndarray]:
    """Copy number ``copy`` of an article: the same chunks with perturbed vectors."""
    article = Article(
        title=f"{original.title} (copy {copy})",
        text=f"{recased(original.text, copy)}\n\nBench copy {copy}.",
        origin=f"{COPY_PREFIX}{copy}:{original.origin}",
        key=f"{COPY_PREFIX}{copy}:{original.id}",
    )
    chunks = [
        Chunk(article.id, c.index, c.start, c.end, article.text[c.start : c.end]) for c, _ in rows
    ]
    vectors = np.stack([v for _, v in rows])
    noise = rng.standard_normal(vectors.shape).astype(np.float32)
    moved = vectors + noise * (PERTURBATION / np.sqrt(vectors.shape[1]))
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    return article, chunks, moved


def grow_library(store: Store, target_chunks: int, seed: int = 0) -> int:
    """Add perturbed copies of the library's real articles until it holds ``target_chunks``.

    Copies keep their original's chunk texts and spans (the copy's text only gains a closing
    line), so answers from them are checkable like any other.
    """
    docs = store.documents()
    originals = [a for a in docs if not a.origin.startswith(COPY_PREFIX)]
    if not originals or store.count_chunks() >= target_chunks:
        return store.count_chunks()
    copy = 1 + -(-(len(docs) - len(originals)) // len(originals))
    got = store.chunks.get(
        where={"article_id": {"$in": [a.id for a in originals]}},
        include=["embeddings", "documents", "metadatas"],
    )
    rows: dict[str, list[tuple[Chunk, np.ndarray]]] = {}
    for text, meta, vector in zip(
        got["documents"], got["metadatas"], got["embeddings"], strict=True
    ):
        chunk = Chunk(
            meta["article_id"], int(meta["chunk"]), int(meta["start"]), int(meta["end"]), text
        )
        rows.setdefault(chunk.article_id, []).append((chunk, np.asarray(vector, dtype=np.float32)))
    texts = {a.id: store.article(a.id) for a in originals}
    have = store.count_chunks()
    while have < target_chunks:
        rng = np.random.default_rng(seed + copy)
        batch: list[tuple[Article, list[Chunk], np.ndarray]] = []
        for info in sorted(originals, key=lambda a: a.id):
            original = texts[info.id]
            if original is None or info.id not in rows:
                continue
            item = _copy(original, sorted(rows[info.id], key=lambda r: r[0].index), copy, rng)
            batch.append(item)
            have += len(item[1])
            if len(batch) >= ARTICLES_PER_WRITE or have >= target_chunks:
                store.add_articles(batch)
                batch = []
            if have >= target_chunks:
                break
        if batch:
            store.add_articles(batch)
        copy += 1
    return store.count_chunks()
