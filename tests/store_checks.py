"""Checks that a library is whole: what the reliability and concurrency tests assert after
their faults and their load."""

from __future__ import annotations

from collections.abc import Collection

from rag.keyword import KeywordIndex
from rag.store import PENDING, Store


def assert_whole(store: Store, expected: Collection[str]) -> None:
    """The library holds exactly the articles ``expected``, each once and complete: nothing
    pending, every article with exactly the chunks 0..n-1 its record states, no orphan chunk,
    and a keyword index that holds exactly the store's chunks."""
    docs = store.documents()
    assert sorted(d.id for d in docs) == sorted(expected)
    assert store.read_all(store._articles, where={"status": PENDING}, include=[])["ids"] == []
    rows = store.all_chunks(["metadatas"])
    assert len(rows["ids"]) == len(set(rows["ids"])) == sum(d.chunks for d in docs)
    per_article: dict[str, list[int]] = {}
    for meta in rows["metadatas"]:
        per_article.setdefault(meta["article_id"], []).append(int(meta["chunk"]))
    assert set(per_article) == set(expected)
    for d in docs:
        assert sorted(per_article[d.id]) == list(range(d.chunks)), d.id
    keyword = KeywordIndex(store)
    keyword.idf(["anything"])
    assert sorted(keyword.chunk_ids) == sorted(rows["ids"])
