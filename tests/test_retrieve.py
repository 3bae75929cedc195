"""Hybrid retrieval over the real store and model: right article, filters, and the keyword
index in step with the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.retrieve import Filters, Retriever

from .conftest import SAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture
def library(assistant: Assistant, tmp_path: Path) -> Assistant:
    (tmp_path / "harbour.md").write_text(
        "---\ntitle: Harbour reopens\ndate: 2024-03-05\nsource: Coastal Times\n---\n"
        "The harbour of Port Elling reopened on Tuesday after a storm. Harbour master Ines "
        "Carvalho said 42 fishing boats had returned.",
        "utf-8",
    )
    report = assistant.ingest(SAMPLES, tmp_path / "harbour.md")
    assert report.ok
    return assistant


def test_single_fact_questions_find_the_right_article(library: Assistant) -> None:
    r = Retriever(library.store, library.embedder)
    top = r.search("How many Chinese companies were removed from a blacklist?", k=3)
    assert "27 Chinese companies" in top[0].text
    top = r.search("Who is the harbour master of Port Elling?", k=3)
    assert top[0].title == "Harbour reopens"
    for p in top:
        article = library.article(p.article_id)
        assert article is not None and article.text[p.start : p.end] == p.text


def test_keyword_search_finds_rare_names_that_dense_search_ranks_low(library: Assistant) -> None:
    r = Retriever(library.store, library.embedder)
    hits = r.keyword.search("Carvalho", 5)
    assert hits and hits[0].article_id == next(
        d.id for d in library.documents() if d.title == "Harbour reopens"
    )
    fused = r.search("Carvalho", k=2)
    assert fused[0].keyword_rank == 0


def test_filters_by_source_and_date(library: Assistant) -> None:
    r = Retriever(library.store, library.embedder)
    q = "What did Raimondo say about trade?"
    only = r.search(q, k=5, filters=Filters(sources=("Coastal Times",)))
    assert only and {p.source for p in only} == {"Coastal Times"}
    dated = r.search(q, k=5, filters=Filters(date_from="2023-08-01", date_to="2023-08-31"))
    assert dated and {p.published for p in dated} == {"2023-08-28"}
    assert r.search(q, k=5, filters=Filters(date_from="2030-01-01")) == []
    with pytest.raises(ValueError, match="not a date"):
        r.search(q, filters=Filters(date_to="last week"))


def test_keyword_filters_match_what_chroma_filters(library: Assistant) -> None:
    r = Retriever(library.store, library.embedder)
    docs = library.documents()
    harbour = next(d for d in docs if d.title == "Harbour reopens")
    others = [d.id for d in docs if d.id != harbour.id]
    for where in [
        Filters(sources=("Coastal Times",)).where(),
        Filters(article_ids=tuple(others)).where(),
        Filters(date_from="2023-08-01", date_to="2023-08-31").where(),
        Filters(sources=("Coastal Times", "nowhere"), date_to="2023-12-31").where(),
        {"source": "Coastal Times"},
    ]:
        assert where is not None
        expected = set(library.store.chunks.get(where=where, include=[])["ids"])
        got = {h.chunk_id for h in r.keyword.search("the harbour trade China said", 100, where)}
        assert got <= expected and bool(got) == bool(expected), where


def test_keyword_index_follows_removals_and_additions(library: Assistant, tmp_path: Path) -> None:
    r = Retriever(library.store, library.embedder)
    assert r.keyword.search("Carvalho", 5)
    harbour = next(d for d in library.documents() if d.title == "Harbour reopens")
    library.remove(harbour.id)
    assert r.keyword.search("Carvalho", 5) == []
    assert all(p.article_id != harbour.id for p in r.search("harbour master Carvalho", k=10))
    (tmp_path / "new.txt").write_text("Zanzibar ferry operator Quillon added two boats.", "utf-8")
    library.ingest(tmp_path / "new.txt")
    assert r.search("Quillon", k=1)[0].text.startswith("Zanzibar ferry operator Quillon")


def test_a_search_within_a_story_ranks_all_its_chunks_as_a_filtered_search_does(
    library: Assistant,
) -> None:
    r = Retriever(library.store, library.embedder)
    ids = tuple(d.id for d in library.documents())[:2]
    question = "What did Raimondo say about trade?"
    within = r.dense_within(question, 20, ids)
    filtered = r.dense(question, 20, Filters(article_ids=ids).where())
    chunks = library.store.chunks_of(ids)["ids"]
    assert sorted(within) == sorted(chunks)  # every chunk of the story, no other
    assert list(within) == list(filtered)
    assert list(within.values()) == pytest.approx(list(filtered.values()), abs=1e-5)
    found = r.search(question, k=3, filters=Filters(article_ids=ids))
    assert found and {p.article_id for p in found} <= set(ids)
