"""End to end: the real bundled model, a real Chroma store, the ingest pipeline and CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.assistant import Assistant
from rag.cli import main as rag_main
from rag.config import Config
from rag.records import Article, Chunk
from rag.store import ModelMismatchError, Store, StoreError

from .conftest import SAMPLES

pytestmark = pytest.mark.slow


def stored_chunks(store: Store, article_id: str) -> list[dict]:
    got = store.chunks.get(where={"article_id": article_id}, include=["metadatas", "documents"])
    return [dict(m, text=d) for m, d in zip(got["metadatas"], got["documents"], strict=True)]


def test_ingest_samples_every_chunk_span_checks_out(assistant: Assistant) -> None:
    report = assistant.ingest(SAMPLES)
    assert report.ok and len(report.added) == 2 and report.chunks > 4
    docs = assistant.documents()
    assert {d.title for d in docs} >= {"US-China communications brighten over trade"}
    assert sum(d.chunks for d in docs) == report.chunks == assistant.store.count_chunks()
    for info in docs:
        article = assistant.article(info.id)
        assert article is not None
        chunks = stored_chunks(assistant.store, info.id)
        assert len(chunks) == info.chunks
        for c in chunks:
            assert article.text[c["start"] : c["end"]] == c["text"]
            assert c["title"] == info.title
            assert c.get("published", "") == info.published
    dated = next(d for d in docs if d.published)
    assert dated.published == "2023-08-28"
    assert all(c["published_day"] == 19597 for c in stored_chunks(assistant.store, dated.id))


def test_vectors_are_the_models_embeddings_of_the_chunk_text(
    assistant: Assistant, embedder
) -> None:  # type: ignore[no-untyped-def]
    assistant.ingest(SAMPLES / "004_fe72f5ab7fd95617.txt")
    got = assistant.store.chunks.get(include=["embeddings", "documents"], limit=3)
    fresh = embedder.embed(got["documents"])
    assert np.allclose(np.asarray(got["embeddings"]), fresh, atol=1e-4)
    hit = assistant.store.chunks.query(
        query_embeddings=embedder.embed(["Which companies were removed from a blacklist?"]),
        n_results=1,
        include=["documents"],
    )
    assert "27 Chinese companies" in hit["documents"][0][0]


def test_reingest_unchanged_adds_nothing(assistant: Assistant) -> None:
    first = assistant.ingest(SAMPLES)
    count = assistant.store.count_chunks()
    again = assistant.ingest(SAMPLES)
    assert (len(again.added), len(again.unchanged), again.chunks) == (0, 2, 0)
    assert assistant.store.count_chunks() == count
    assert len(assistant.documents()) == len(first.added)


def test_changed_article_replaces_its_old_chunks(assistant: Assistant, tmp_path: Path) -> None:
    p = tmp_path / "story.txt"
    p.write_text("Mayor Ada Byron opened the new library on Monday. It has 40,000 books.", "utf-8")
    old = assistant.ingest(p).added[0]
    p.write_text("Mayor Ada Byron opened the new library on Tuesday. It has 55,000 books.", "utf-8")
    report = assistant.ingest(p)
    assert len(report.replaced) == 1 and not report.added
    new = report.replaced[0]
    assert [d.id for d in assistant.documents()] == [new]
    assert stored_chunks(assistant.store, old) == []
    texts = [c["text"] for c in stored_chunks(assistant.store, new)]
    assert any("55,000" in t for t in texts) and not any("40,000" in t for t in texts)


def test_remove_by_id_url_and_path(assistant: Assistant, tmp_path: Path) -> None:
    md = tmp_path / "bridge.md"
    md.write_text(
        "---\ntitle: Bridge opens\nurl: https://example.org/bridge\n---\nThe bridge opened.",
        "utf-8",
    )
    assistant.ingest(SAMPLES, md)
    docs = {d.title: d for d in assistant.documents()}
    assert len(docs) == 3
    gone = assistant.remove("https://example.org/bridge")
    assert [g.title for g in gone] == ["Bridge opens"]
    headline = docs["US-China communications brighten over trade"]
    assert [g.id for g in assistant.remove(headline.id[:8])] == [headline.id]
    path = str(SAMPLES / "000_1f9bcd90020cac5f.txt")
    assert len(assistant.remove(path)) == 1
    assert assistant.documents() == [] and assistant.store.count_chunks() == 0
    assert assistant.remove("nothing-like-this") == []


def test_bad_inputs_are_reported_and_the_rest_of_the_batch_lands(
    assistant: Assistant, tmp_path: Path
) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "good.md").write_text("# Good one\n\nThe council approved the budget.", "utf-8")
    (batch / "empty.txt").write_bytes(b"")
    (batch / "binary.txt").write_bytes(b"\x00\x01\x02garbage")
    (batch / "latin1.txt").write_bytes("Caf\u00e9".encode("latin-1"))
    (batch / "broken.html").write_bytes(b"<html><<<>>></bo dy>< p")
    (batch / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (batch / "feed.jsonl").write_text(
        json.dumps({"title": "Feed item", "text": "The river flooded the valley."}) + "\n{bad\n",
        "utf-8",
    )
    report = assistant.ingest(batch, tmp_path / "absent.txt", "https://127.0.0.1:9/x.html")
    assert sorted(d.title for d in assistant.documents()) == ["Feed item", "Good one"]
    failed = {Path(f.source).name: f.reason for f in report.failed}
    assert set(failed) == {
        "empty.txt",
        "binary.txt",
        "latin1.txt",
        "broken.html",
        "feed.jsonl:2",
        "absent.txt",
        "x.html",
    }
    assert report.skipped == [str(batch / "photo.jpg")]
    assert not report.ok


def test_cli_ingest_summary_exit_code_and_docs(tmp_path: Path, capsys, embedder) -> None:  # type: ignore[no-untyped-def]
    home = str(tmp_path / "lib")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"")
    assert rag_main(["--home", home, "ingest", str(SAMPLES), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert "2 added, 0 unchanged, 0 replaced, 1 failed" in out
    assert f"failed: {bad}: empty file" in err
    assert rag_main(["--home", home, "ingest", str(SAMPLES)]) == 0
    assert "0 added, 2 unchanged" in capsys.readouterr().out
    assert rag_main(["--home", home, "docs", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 2 and all(d["chunks"] > 0 for d in listed)
    assert rag_main(["--home", home, "docs", "remove", listed[0]["id"], "nope"]) == 1
    out, err = capsys.readouterr()
    assert f"removed {listed[0]['id']}" in out and "not found: nope" in err
    assert rag_main(["--home", home, "docs", "list"]) == 0
    assert "1 articles" in capsys.readouterr().out
    assert rag_main(["--home", home, "ingest", "--if-empty", str(SAMPLES)]) == 0
    assert "nothing ingested" in capsys.readouterr().out


def test_opening_with_another_model_is_refused(config: Config, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    Assistant.open(config).ingest(SAMPLES / "004_fe72f5ab7fd95617.txt")
    with pytest.raises(ModelMismatchError, match="all-MiniLM-L6-v2"):
        Assistant.open(config.with_(embed_model=str(tmp_path / "other-model")))
    assert (
        rag_main(["--home", str(config.home), "--embed-model", "other", "ingest", str(SAMPLES)])
        == 2
    )


def test_failed_write_leaves_nothing_behind(config: Config, embedder) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(config, embedder.name)
    good = Article(title="Good", text="Good text here.", origin="good")
    store.add_article(good, [Chunk(good.id, 0, 0, 15, good.text)], embedder.embed([good.text]))
    bad = Article(title="Bad", text="Bad text. More text.", origin="bad")
    chunks = [Chunk(bad.id, 0, 0, 9, "Bad text."), Chunk(bad.id, 1, 10, 20, "More text.")]
    wrong_dim = np.ones((2, 7), dtype=np.float32)  # Chroma refuses vectors of another size
    with pytest.raises(StoreError, match="could not store article"):
        store.add_article(bad, chunks, wrong_dim)
    assert [d.title for d in store.documents()] == ["Good"]
    assert stored_chunks(store, bad.id) == []
    assert store.info(bad.id) is None
    # A group write fails whole: the good article in it is not left behind either.
    other = Article(title="Other", text="Other text.", origin="other")
    group = [
        (other, [Chunk(other.id, 0, 0, 11, other.text)], embedder.embed([other.text])),
        (bad, chunks, wrong_dim),
    ]
    with pytest.raises(StoreError, match="could not store 2 articles"):
        store.add_articles(group)
    assert [d.title for d in store.documents()] == ["Good"]
    assert store.count_chunks() == 1


def test_crashed_write_is_hidden_then_cleaned_up(config: Config, embedder) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(config, embedder.name)
    art = Article(title="Half", text="Half written. Never finished.", origin="half")
    store.add_article(art, [Chunk(art.id, 0, 0, 14, "Half written.")], embedder.embed(["x"]))
    # What a writer killed between its chunk writes and its commit leaves behind:
    meta = store._articles.get(ids=[art.id], include=["metadatas"])["metadatas"][0]
    store._articles.update(ids=[art.id], metadatas=[dict(meta, status="pending", written_at=0.0)])
    assert store.documents() == [] and store.info(art.id) is None
    reopened = Store.open(config, embedder.name)  # recovery runs on open
    assert stored_chunks(reopened, art.id) == []
    assert reopened._articles.get(ids=[art.id])["ids"] == []


@pytest.mark.skipif(
    shutil.which("chroma") is None and not Path(".venv/bin/chroma").exists(),
    reason="chroma CLI missing",
)
def test_same_ingest_against_a_chroma_server(chroma_server: str, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = Config.from_env(
        home=tmp_path / "unused", chroma_url=chroma_server, collection="server-test"
    )
    qa = Assistant.open(config)
    report = qa.ingest(SAMPLES)
    assert report.ok and len(report.added) == 2
    assert not (tmp_path / "unused" / "chroma").exists(), "server mode writes nothing locally"
    again = Assistant.open(config).ingest(SAMPLES)
    assert len(again.unchanged) == 2 and again.chunks == 0
    for info in qa.documents():
        article = qa.article(info.id)
        assert article is not None
        for c in stored_chunks(qa.store, info.id):
            assert article.text[c["start"] : c["end"]] == c["text"]
    removed = qa.remove(qa.documents()[0].id)
    assert len(removed) == 1 and len(qa.documents()) == 1
    assert qa.store.count_chunks() == qa.documents()[0].chunks
    with pytest.raises(ModelMismatchError):
        Assistant.open(config.with_(embed_model="some-other-model"))


def test_two_versions_in_one_batch_keep_only_the_later(
    assistant: Assistant, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.jsonl"
    rows = [
        {"url": "https://n.example/s", "title": "S", "text": "The vote was on Monday."},
        {"url": "https://n.example/s", "title": "S", "text": "The vote was moved to Friday."},
    ]
    feed.write_text("\n".join(json.dumps(r) for r in rows), "utf-8")
    report = assistant.ingest(feed)
    assert report.ok and len(report.added) == 1 and len(report.replaced) == 1
    docs = assistant.documents()
    assert len(docs) == 1 and docs[0].url == "https://n.example/s"
    article = assistant.article(docs[0].id)
    assert article is not None and article.text == "The vote was moved to Friday."
