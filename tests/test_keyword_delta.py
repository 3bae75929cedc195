"""The keyword index follows commits as a delta on its base, never rebuilding the whole index
for one article: what it finds equals what a full build finds, removals are masked, filters
hold on both parts, and a delta grown past its limit is folded into a new base in the
background (the real store, the real model)."""

from __future__ import annotations

from pathlib import Path

import pytest

import rag.keyword as keyword_module
from rag.assistant import Assistant
from rag.config import Config
from rag.keyword import SAVED_SUFFIX, KeywordIndex

from .conftest import SAMPLES

pytestmark = pytest.mark.slow  # the real model and a real Chroma store

QUERIES = [
    "Wang Wentao trade talks",
    "Chinese companies removed from blacklist",
    "export controls Sullivan",
    "harbour master Ines Carvalho boats",
    "storm quay fishing",
]
HARBOUR = (
    "Port Elling harbour reopens\n\nThe harbour of Port Elling reopened on Tuesday after the "
    "storm, harbour master Ines Carvalho said. Forty-two fishing boats returned to the quay, "
    "and trade with China resumed at the harbour.\n"
)


@pytest.fixture
def qa(tmp_path: Path, embedder) -> Assistant:  # type: ignore[no-untyped-def]
    qa = Assistant.open(Config.from_env(home=tmp_path / "lib"))
    assert qa.ingest(SAMPLES).ok
    return qa


def ranked(index: KeywordIndex, query: str, where: dict | None = None) -> list[tuple[str, float]]:  # type: ignore[type-arg]
    return [(h.chunk_id, h.score) for h in index.search(query, 8, where)]


def test_a_commit_is_a_delta_that_finds_what_a_full_build_finds(
    tmp_path: Path, qa: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = qa.retriever.keyword
    index.search("trade", 3)  # the base: the sample articles
    builds = []
    build = KeywordIndex._build
    monkeypatch.setattr(KeywordIndex, "_build", lambda self: builds.append(1) or build(self))
    (tmp_path / "harbour.txt").write_text(HARBOUR, "utf-8")
    assert qa.ingest(tmp_path / "harbour.txt").ok
    new = next(d.id for d in qa.documents() if "Elling" in d.title)
    assert builds == []  # one article: no whole-index build
    assert new in index.article_ids and len(index.chunk_ids) == qa.store.count_chunks()

    full = KeywordIndex(qa.store)  # no saved index: built whole over the same library
    for query in QUERIES:
        got, want = ranked(index, query), ranked(full, query)
        assert [c for c, _ in got] == [c for c, _ in want], query
        for (_, a), (_, b) in zip(got, want, strict=True):
            assert a == pytest.approx(b, rel=0.01), query
    assert index.idf(["harbour"]) == pytest.approx(full.idf(["harbour"]))


def test_a_removed_article_is_masked_out_of_the_base_and_the_delta(
    tmp_path: Path, qa: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = qa.retriever.keyword
    index.search("trade", 3)
    (tmp_path / "harbour.txt").write_text(HARBOUR, "utf-8")
    assert qa.ingest(tmp_path / "harbour.txt").ok
    monkeypatch.setattr(KeywordIndex, "_build", lambda self: pytest.fail("whole build"))
    in_base = next(d for d in qa.documents() if "Elling" not in d.title)
    in_delta = next(d for d in qa.documents() if "Elling" in d.title)
    qa.remove(in_base.id)
    qa.remove(in_delta.id)
    hits = {a for q in QUERIES for a in (h.article_id for h in index.search(q, 50))}
    assert in_base.id not in hits and in_delta.id not in hits
    assert sorted(index.chunk_ids) == sorted(qa.store.all_chunks([])["ids"])


def test_filters_apply_to_the_base_and_the_delta(tmp_path: Path, qa: Assistant) -> None:
    index = qa.retriever.keyword
    index.search("trade", 3)
    (tmp_path / "harbour.txt").write_text(HARBOUR, "utf-8")
    assert qa.ingest(tmp_path / "harbour.txt").ok
    new = next(d.id for d in qa.documents() if "Elling" in d.title)
    only_new = {"article_id": {"$in": [new]}}
    assert {h.article_id for h in index.search("harbour trade China", 20, only_new)} == {new}
    not_new = {"article_id": {"$in": [d.id for d in qa.documents() if d.id != new]}}
    assert new not in {h.article_id for h in index.search("harbour trade China", 20, not_new)}


def test_every_filter_holds_on_the_base_and_the_delta_as_chroma_filters(
    tmp_path: Path, qa: Assistant
) -> None:
    from rag.retrieve import Filters

    index = qa.retriever.keyword
    index.search("trade", 3)
    (tmp_path / "harbour.txt").write_text(HARBOUR, "utf-8")
    assert qa.ingest(tmp_path / "harbour.txt").ok
    assert index._current().delta.chunk_ids  # the new article is in the delta
    docs = qa.documents()
    new = next(d.id for d in docs if "Elling" in d.title)
    for where in [
        Filters(sources=(docs[0].source, "nowhere")).where(),
        Filters(date_from="2023-08-01", date_to="2023-08-31").where(),
        Filters(sources=(docs[0].source,), date_to="2023-12-31").where(),
        Filters(article_ids=(new, docs[-1].id)).where(),
        {"source": docs[0].source},
        {"article_id": new},
        {"published_day": {"$gte": 0}},
    ]:
        assert where is not None
        expected = set(qa.store.chunks.get(where=where, include=[])["ids"])
        got = {h.chunk_id for h in index.search("the harbour trade China said", 100, where)}
        assert got <= expected and bool(got) == bool(expected), where


def test_a_delta_past_its_limit_is_folded_into_a_new_base_in_the_background(
    tmp_path: Path, qa: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = qa.retriever.keyword
    index.search("trade", 3)
    monkeypatch.setattr(keyword_module, "DELTA_MIN", 0)
    monkeypatch.setattr(keyword_module, "DELTA_SHARE", 0.0)
    (tmp_path / "harbour.txt").write_text(HARBOUR, "utf-8")
    assert qa.ingest(tmp_path / "harbour.txt").ok
    index.wait()
    snap = index._current()
    assert snap.delta.chunk_ids == () and snap.removed == frozenset()
    assert len(snap.base.chunk_ids) == qa.store.count_chunks()
    saved = qa.config.home / "keyword" / qa.config.collection
    assert [d.name for d in saved.iterdir()] == [f"{snap.base.generation}{SAVED_SUFFIX}"]


def test_a_saved_base_that_lacks_most_of_the_library_is_built_afresh_on_opening(
    tmp_path: Path, qa: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    qa.retriever.keyword.search("trade", 3)  # saved: the sample articles
    # Another process, with no keyword index open, commits; then a process opens the library.
    writer = Assistant.open(Config.from_env(home=tmp_path / "lib"))
    (tmp_path / "harbour.txt").write_text(HARBOUR, "utf-8")
    assert writer.ingest(tmp_path / "harbour.txt").ok
    folder = qa.config.home / "keyword" / qa.config.collection
    builds = []
    build = KeywordIndex._build
    monkeypatch.setattr(KeywordIndex, "_build", lambda self: builds.append(1) or build(self))
    # A delta of one article: caught up with, not built.
    caught_up = KeywordIndex(writer.store, folder)
    assert caught_up.search("Carvalho", 3) and builds == []
    assert caught_up._current().delta.chunk_ids
    # The same when the saved base is taken to lack most of the library: built whole.
    monkeypatch.setattr(keyword_module, "STALE_SHARE", 0.0)
    fresh = KeywordIndex(writer.store, folder)
    assert fresh.search("Carvalho", 3) and builds == [1]
    snap = fresh._current()
    assert snap.delta.chunk_ids == () and len(snap.base.chunk_ids) == writer.store.count_chunks()
