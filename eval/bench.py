"""``rag bench``: ingest throughput beside the raw encode throughput of the same model on the
same chunks, measured in the same run (medians over repeats)."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ingest.chunking import chunk_text
from ingest.loaders import Source, expand, load
from ingest.pipeline import ingest
from rag.config import Config
from rag.embeddings import Embedder, make_embedder
from rag.records import Article
from rag.store import Store


@dataclass
class IngestBench:
    articles: int
    chunks: int
    encode_chunks_per_s: float
    ingest_chunks_per_s: float
    ingest_articles_per_s: float

    @property
    def ratio(self) -> float:
        return self.ingest_chunks_per_s / self.encode_chunks_per_s

    def table(self) -> str:
        return "\n".join(
            [
                "| measure | value |",
                "| --- | --- |",
                f"| articles / chunks | {self.articles} / {self.chunks} |",
                f"| raw encode (model.encode on the same chunks) | "
                f"{self.encode_chunks_per_s:.1f} chunks/s |",
                f"| ingest (load, chunk, embed, store) | {self.ingest_chunks_per_s:.1f} chunks/s, "
                f"{self.ingest_articles_per_s:.1f} articles/s |",
                f"| ingest / raw encode | {self.ratio:.2f}x |",
            ]
        )


def _chunk_texts(corpus: Path, config: Config, embedder: Embedder) -> tuple[int, list[str]]:
    articles = [
        a
        for s in expand([corpus])
        if isinstance(s, Source)
        for a in load(s, config.max_article_bytes, config.fetch_timeout)
        if isinstance(a, Article)
    ]
    max_tokens = min(config.chunk_tokens, embedder.max_tokens)
    texts = [
        c.text
        for a in articles
        for c in chunk_text(a.id, a.text, embedder.token_spans, max_tokens, config.chunk_overlap)
    ]
    return len(articles), texts


def bench_ingest(corpus: Path, repeats: int = 3, config: Config | None = None) -> IngestBench:
    """Median chunks/s of raw encoding and of a whole ingest into a fresh library."""
    config = config or Config.from_env()
    embedder = make_embedder(config)
    n_articles, texts = _chunk_texts(corpus, config, embedder)
    embedder.embed(texts[:8])  # load and warm the model outside the timings
    encode, ingest_cps, ingest_aps = [], [], []
    for _ in range(repeats):
        began = time.perf_counter()
        embedder.embed(texts)
        encode.append(len(texts) / (time.perf_counter() - began))
        with tempfile.TemporaryDirectory() as home:
            run_config = config.with_(home=Path(home), chroma_url=None)
            store = Store.open(run_config, embedder.name)
            began = time.perf_counter()
            report = ingest([corpus], store, embedder, run_config)
            seconds = time.perf_counter() - began
            if report.chunks != len(texts):
                raise RuntimeError(f"ingest made {report.chunks} chunks, expected {len(texts)}")
            ingest_cps.append(report.chunks / seconds)
            ingest_aps.append(len(report.added) / seconds)
    return IngestBench(
        articles=n_articles,
        chunks=len(texts),
        encode_chunks_per_s=statistics.median(encode),
        ingest_chunks_per_s=statistics.median(ingest_cps),
        ingest_articles_per_s=statistics.median(ingest_aps),
    )
