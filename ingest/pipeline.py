"""The ingest pipeline: load, dedupe, chunk, embed in batches across articles, store each
article whole, and report what happened to every input."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.chunking import chunk_article
from ingest.loaders import SUPPORTED, LoadError, Source, expand, load
from ingest.progress import Progress, SilentProgress
from rag.config import Config
from rag.embeddings import Embedder, EmbeddingError
from rag.ingest_report import IngestReport
from rag.records import Article, Chunk
from rag.sentences import load_sentence_splitter
from rag.store import Store, StoreError

#: Chunks embedded together, as a multiple of the model's batch size: big enough to keep the
#: model busy, small enough that memory stays bounded on a large JSONL.
BATCHES_PER_FLUSH = 16


@dataclass
class _Pending:
    article: Article
    chunks: list[Chunk]
    replaces: list[str]


class Ingestor:
    """Runs one ingest into ``store`` with ``embedder``."""

    def __init__(
        self, store: Store, embedder: Embedder, config: Config, progress: Progress | None = None
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.progress = progress or SilentProgress()
        self.flush_at = config.embed_batch * BATCHES_PER_FLUSH
        self.report = IngestReport()
        self._pending: list[_Pending] = []
        self._seen: set[str] = set()
        #: identity -> id of its latest version in this run, so a later version replaces it.
        self._latest: dict[str, str] = {}
        self._models_loaded = False

    def _load_models(self) -> None:
        """Load the model and the sentence splitter, timed apart from the work: only once an
        article needs chunking."""
        if self._models_loaded:
            return
        began = time.perf_counter()
        _ = self.embedder.max_tokens  # asking the model loads it
        load_sentence_splitter()
        self.report.model_seconds += time.perf_counter() - began
        self._models_loaded = True

    def run(self, refs: Iterable[str | Path]) -> IngestReport:
        items = list(expand(refs))
        return self.take(
            self._load(items), sum(s.estimate() for s in items if isinstance(s, Source))
        )

    def _load(self, items: list[Source | LoadError]) -> Iterator[Article | LoadError]:
        for item in items:
            if isinstance(item, LoadError):
                yield item
            elif item.in_folder and not item.is_url and item.suffix not in SUPPORTED:
                self.report.skipped.append(item.ref)
            else:
                yield from load(
                    item,
                    self.config.max_article_bytes,
                    self.config.fetch_timeout,
                    self.config.allow_private_urls,
                )

    def take(self, loaded: Iterable[Article | LoadError], total: int) -> IngestReport:
        """Store articles loaded elsewhere (a feed's entries) with the same dedupe, batching
        and report as files get."""
        began = time.perf_counter()
        self.progress.start(total)
        try:
            for one in loaded:
                self._take(one)
            self._flush()
        finally:
            self.report.seconds = time.perf_counter() - began
            self.progress.close()
        return self.report

    def _fail(self, error: LoadError) -> None:
        self.report.failed.append(error)
        self.progress.problem(f"failed: {error}")
        self.progress.advance(1)

    def _take(self, loaded: Article | LoadError) -> None:
        if isinstance(loaded, LoadError):
            self._fail(loaded)
            return
        aid = loaded.id
        if aid in self._seen or self.store.info(aid) is not None:
            self.report.unchanged.append(aid)
            self.progress.advance(1)
            return
        self._seen.add(aid)
        try:
            self._load_models()
            chunks = chunk_article(aid, loaded.text, self.embedder, self.config)
        except Exception as exc:
            self._fail(LoadError(loaded.origin, f"could not split into chunks: {exc}"))
            return
        if not chunks:
            self._fail(LoadError(loaded.origin, "no sentences to index"))
            return
        replaces = [a.id for a in self.store.by_identity(loaded.identity) if a.id != aid]
        earlier = self._latest.get(loaded.identity)
        if earlier is not None and earlier not in replaces:
            replaces.append(earlier)
        self._latest[loaded.identity] = aid
        self._pending.append(_Pending(loaded, chunks, replaces))
        if sum(len(p.chunks) for p in self._pending) >= self.flush_at:
            self._flush()

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for ``texts``, embedded longest first in groups so that progress moves.

        Sorting by length across the whole flush keeps padding as low as one big call would.
        """
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        vectors: np.ndarray | None = None
        step = self.config.embed_batch * 2
        for lo in range(0, len(order), step):
            group = order[lo : lo + step]
            got = self.embedder.embed([texts[i] for i in group])
            if vectors is None:
                vectors = np.empty((len(texts), got.shape[1]), dtype=np.float32)
            vectors[group] = got
            self.progress.advance(0, len(group))
        assert vectors is not None
        return vectors

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        texts = [c.text for p in pending for c in p.chunks]
        try:
            vectors = self._embed(texts)
        except EmbeddingError as exc:
            for p in pending:
                self._fail(LoadError(p.article.origin, str(exc)))
            return
        items = []
        offset = 0
        for p in pending:
            items.append((p.article, p.chunks, vectors[offset : offset + len(p.chunks)]))
            offset += len(p.chunks)
        try:
            self.store.add_articles(items)
            stored = pending
        except StoreError:
            # Store one by one, so that only the article that cannot be stored fails.
            stored = []
            for p, item in zip(pending, items, strict=True):
                try:
                    self.store.add_articles([item])
                    stored.append(p)
                except StoreError as exc:
                    self._fail(LoadError(p.article.origin, str(exc)))
        for p in stored:
            try:
                for old in p.replaces:
                    self.store.remove(old)
            except StoreError as exc:
                self.progress.problem(f"warning: old version of {p.article.origin} kept: {exc}")
            (self.report.replaced if p.replaces else self.report.added).append(p.article.id)
            self.report.chunks += len(p.chunks)
            self.progress.advance(1)


def ingest(
    refs: Iterable[str | Path],
    store: Store,
    embedder: Embedder,
    config: Config,
    progress: Progress | None = None,
) -> IngestReport:
    """Load, chunk, embed and store every article in ``refs`` (files, folders, URLs)."""
    return Ingestor(store, embedder, config, progress).run(refs)
