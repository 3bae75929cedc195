"""Hybrid retrieval: dense search in Chroma fused with BM25 by reciprocal rank fusion, with
optional filters by source and by published-date range."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.embeddings import Embedder, QueryVectors
from rag.items import asks_for_recency
from rag.keyword import KeywordIndex
from rag.nodes import is_ours
from rag.store import Store, published_day

#: The usual RRF constant: ranks deep in either list still count, but little.
RRF_K = 60
#: Candidates taken from each list, as a multiple of the k asked for.
CANDIDATES = 4
#: A search within at most this many articles (a chat's story) ranks their chunks itself.
WITHIN_MOST = 50


@dataclass(frozen=True)
class Filters:
    """Which articles a search may return."""

    sources: tuple[str, ...] = ()
    date_from: str = ""
    date_to: str = ""
    #: Only these articles (a chat's focus); empty means all.
    article_ids: tuple[str, ...] = ()

    def where(self) -> dict[str, Any] | None:
        """The same filter in Chroma's ``where`` language."""
        parts: list[dict[str, Any]] = []
        if self.sources:
            parts.append({"source": {"$in": list(self.sources)}})
        if self.article_ids:
            parts.append({"article_id": {"$in": list(self.article_ids)}})
        for value, op in ((self.date_from, "$gte"), (self.date_to, "$lte")):
            if value:
                day = published_day(value)
                if day is None:
                    raise ValueError(f"not a date (YYYY-MM-DD): {value!r}")
                parts.append({"published_day": {op: day}})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk: ``article.text[start:end] == text``."""

    chunk_id: str
    article_id: str
    text: str
    start: int
    end: int
    title: str
    url: str
    source: str
    published: str
    score: float
    dense_rank: int | None
    keyword_rank: int | None
    #: Cosine similarity of the chunk to the question, when dense search found it.
    similarity: float | None = None


class Retriever:
    """Dense plus keyword search over one library."""

    def __init__(self, store: Store, embedder: Embedder, keyword: KeywordIndex | None = None):
        self.store = store
        self.embedder = embedder
        self.keyword = keyword or KeywordIndex(store)
        #: Question embeddings, shared with the sentence scorer of the same library.
        self.queries = QueryVectors(embedder)

    def dense(self, question: str, k: int, where: dict[str, Any] | None) -> dict[str, float]:
        """Chunk ids nearest to the question's embedding, best first, with their cosine."""
        # What another process committed since: opened afresh in the background, so that no
        # question waits on loading the vector index again.
        self.store.refresh(background=True)
        if self.store.chunks is None:
            return {}
        vector = self.queries(question)[None, :]
        # Chroma returns fewer when it holds fewer; counting first cost 14 ms a call at
        # 100,000 chunks (rag bench profile).
        got = self.store.chunks.query(
            query_embeddings=vector,
            n_results=k,
            where=where,
            include=["distances"],
        )
        return {c: 1.0 - float(d) for c, d in zip(got["ids"][0], got["distances"][0], strict=True)}

    def dense_within(self, question: str, k: int, article_ids: Sequence[str]) -> dict[str, float]:
        """``dense`` among the chunks of a few articles (a chat's story): their vectors read
        by id and ranked here, exactly as Chroma ranks them with a filter, which costs 34 ms
        more a search at 100,000 chunks (it scans the metadata of every chunk)."""
        self.store.refresh(background=True)
        found = self.store.chunk_vectors(article_ids)
        if found is None:
            return self.dense(question, k, Filters(article_ids=tuple(article_ids)).where())
        ids, vectors = found
        if not ids:
            return {}
        similarity = vectors @ self.queries(question)
        best = np.argsort(-similarity, kind="stable")[:k]
        return {ids[i]: float(similarity[i]) for i in best}

    def search(self, question: str, k: int = 5, filters: Filters | None = None) -> list[Passage]:
        """The ``k`` best passages for ``question``, fused from both searches."""
        # The store may be opened afresh meanwhile: the one read here stays up until done.
        with self.store.reading():
            return self._search(question, k, filters)

    def _search(self, question: str, k: int, filters: Filters | None) -> list[Passage]:
        filters = filters or Filters()
        where = filters.where()
        n = max(k * CANDIDATES, 20)
        only_articles = not (filters.sources or filters.date_from or filters.date_to)
        if only_articles and 0 < len(filters.article_ids) <= WITHIN_MOST:
            similarity = self.dense_within(question, n, filters.article_ids)
        else:
            similarity = self.dense(question, n, where)
        dense = list(similarity)
        keyword = [h.chunk_id for h in self.keyword.search(question, n, where)]
        rankings = [dense, keyword]
        if asks_for_recency(question):
            # "What is the latest ...": the candidates newest first are a third ranking.
            rankings.append(self._newest_first(list(dict.fromkeys(dense + keyword))))
        scores: dict[str, float] = {}
        for ranking in rankings:
            for rank, cid in enumerate(ranking):
                scores[cid] = scores.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(scores, key=lambda c: scores[c], reverse=True)
        return self._passages(best, k, scores, similarity, keyword)

    def _newest_first(self, ids: list[str]) -> list[str]:
        """``ids`` ordered by their article's date, newest first (undated last)."""
        if not ids or self.store.chunks is None:
            return []
        got = self.store.chunks.get(ids=ids, include=["metadatas"])
        day = {c: m.get("published_day") for c, m in zip(got["ids"], got["metadatas"], strict=True)}
        dated = [c for c in ids if day.get(c) is not None]
        return sorted(dated, key=lambda c: -int(day[c] or 0))

    def search_dense(
        self, question: str, k: int = 5, filters: Filters | None = None
    ) -> list[Passage]:
        """The ``k`` passages nearest to ``question`` by embedding alone (the baseline)."""
        similarity = self.dense(question, k * 2, (filters or Filters()).where())
        return self._passages(list(similarity), k, similarity, similarity, [])

    def _passages(
        self,
        best: list[str],
        k: int,
        scores: dict[str, float],
        similarity: dict[str, float],
        keyword: list[str],
    ) -> list[Passage]:
        """The first ``k`` of the ranked chunk ids whose articles are complete and present."""
        if not best:
            return []
        got = self.store.chunks.get(ids=best[: k * 2], include=["documents", "metadatas"])
        # Rows a LlamaIndex user wrote into the collection are not articles of ours: skipped.
        rows = {
            cid: (text, meta)
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            if is_ours(meta)
        }
        # Articles removed or half-written since the candidates were found are never returned.
        ready = self.store.ready_ids(m["article_id"] for _, m in rows.values())
        dense_rank = {c: i for i, c in enumerate(similarity)}
        keyword_rank = {c: i for i, c in enumerate(keyword)}
        passages: list[Passage] = []
        for cid in best:
            if cid not in rows or rows[cid][1]["article_id"] not in ready:
                continue
            text, meta = rows[cid]
            passages.append(
                Passage(
                    chunk_id=cid,
                    article_id=meta["article_id"],
                    text=text,
                    start=int(meta["start"]),
                    end=int(meta["end"]),
                    title=meta.get("title", ""),
                    url=meta.get("url", ""),
                    source=meta.get("source", ""),
                    published=meta.get("published", ""),
                    score=scores[cid],
                    dense_rank=dense_rank.get(cid),
                    keyword_rank=keyword_rank.get(cid),
                    similarity=similarity.get(cid),
                )
            )
            if len(passages) == k:
                break
        return passages
