"""LlamaIndex reads and uses the library as its own: ``ChromaVectorStore`` over our collection
gives ``TextNode``s with exact spans, a LlamaIndex write or delete never breaks our retrieval, an
old library is upgraded in place, and our retriever, query engine and chat engine work inside
LlamaIndex, with a LlamaIndex LLM of the user's own."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.chat_engine import CondensePlusContextChatEngine
from llama_index.core.llms import (
    CompletionResponse,
    CompletionResponseGen,
    CustomLLM,
    LLMMetadata,
)
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery
from llama_index.llms.openai_like import OpenAILike
from llama_index.vector_stores.chroma import ChromaVectorStore
from pydantic import Field

from rag.assistant import Assistant
from rag.config import Config
from rag.llm import LLMError
from rag.retrieve import Filters

from .conftest import ROOT, SAMPLES
from .llm_server import LLMServer, Reply

pytestmark = pytest.mark.slow

QUESTION = "Who did Raimondo meet in Beijing?"


def library(path: Path) -> Assistant:
    qa = Assistant.open(Config.from_env(home=path))
    if not qa.documents():
        assert qa.ingest(SAMPLES).ok
    return qa


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    path = tmp_path_factory.mktemp("llamaindex") / "lib"
    library(path)
    return path


@pytest.fixture
def qa(home: Path) -> Assistant:
    return Assistant.open(Config.from_env(home=home))


def exact(qa: Assistant, node: Any) -> bool:
    """Whether the node's text is its article's text at the node's span."""
    article = qa.article(node.ref_doc_id)
    return (
        article is not None and article.text[node.start_char_idx : node.end_char_idx] == node.text
    )


def test_chroma_vector_store_reads_each_chunk_as_a_text_node_with_its_span(qa: Assistant) -> None:
    # Opened the way a LlamaIndex user opens any Chroma collection.
    client = chromadb.PersistentClient(path=str(qa.config.home / "chroma"))
    store = ChromaVectorStore(chroma_collection=client.get_collection("articles"))
    vector = qa.embedder.embed([QUESTION])[0].tolist()
    found = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=5)).nodes
    assert len(found) == 5
    titles = {a.id: a.title for a in qa.documents()}
    for node in found:
        assert isinstance(node, TextNode)
        assert node.ref_doc_id in titles and exact(qa, node)
        assert node.metadata["title"] == titles[node.ref_doc_id]
        assert set(node.metadata) == {"title", "url", "published", "source"}
    # The same through a VectorStoreIndex, with the library's own embedding model.
    index = VectorStoreIndex.from_vector_store(
        qa.as_vector_store(), embed_model=qa.as_embed_model()
    )
    nodes = index.as_retriever(similarity_top_k=3).retrieve(QUESTION)
    assert [n.node.node_id for n in nodes] == [n.node_id for n in found[:3]]
    assert all(exact(qa, n.node) for n in nodes)


def test_a_chroma_client_of_the_users_own_keeps_working_beside_the_assistant(home: Path) -> None:
    # In a fresh process, as a user's script runs: their client is opened first. Chroma shares
    # one system per folder in a process, and the assistant's store, which opens the library
    # afresh, must not stop the system the user's client runs on.
    code = f"""
import chromadb
from llama_index.core.vector_stores.types import VectorStoreQuery
from llama_index.vector_stores.chroma import ChromaVectorStore
from rag import Assistant
client = chromadb.PersistentClient(path={str(home / "chroma")!r})
store = ChromaVectorStore(chroma_collection=client.get_collection("articles"))
qa = Assistant.open(home={str(home)!r})
assert qa.ask({QUESTION!r}).citations
qa.store.refresh(force=True)
vector = qa.embedder.embed([{QUESTION!r}])[0].tolist()
nodes = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=3)).nodes
print(sum(qa.article(n.ref_doc_id).text[n.start_char_idx : n.end_char_idx] == n.text
          for n in nodes))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "3"


def test_a_llamaindex_delete_removes_the_articles_chunks_and_it_is_never_cited(
    tmp_path: Path, embedder: Any
) -> None:
    qa = library(tmp_path / "lib")
    cited = qa.ask(QUESTION).citations[0].article_id
    before = qa.store.count_chunks()
    gone = next(a for a in qa.documents() if a.id == cited)
    qa.as_vector_store().delete(ref_doc_id=cited)
    assert qa.store.count_chunks() == before - gone.chunks
    answer = qa.ask(QUESTION)
    assert cited not in {c.article_id for c in answer.citations}
    assert cited not in {p.article_id for p in qa.retriever.search(QUESTION, k=10)}
    # A fresh process (keyword index built anew) agrees.
    again = Assistant.open(qa.config)
    assert cited not in {p.article_id for p in again.retriever.search(QUESTION, k=10)}


def test_nodes_a_llamaindex_user_writes_are_skipped_by_our_retrieval(
    tmp_path: Path, embedder: Any
) -> None:
    qa = library(tmp_path / "lib")
    text = "Raimondo met Wang Wentao in Beijing, says a note that LlamaIndex wrote."
    foreign = TextNode(text=text, embedding=qa.embedder.embed([text])[0].tolist())
    qa.as_vector_store().add([foreign])
    # It is the nearest chunk now, and our retrieval passes it over instead of failing.
    assert qa.retriever.dense(QUESTION, 1, None) == {foreign.node_id: pytest.approx(1, abs=0.5)}
    for fresh in (qa, Assistant.open(qa.config)):
        passages = fresh.retriever.search(QUESTION, k=5)
        assert len(passages) == 5 and foreign.node_id not in {p.chunk_id for p in passages}
        assert fresh.ask(QUESTION).citations
    assert len(qa.documents()) == 2


def test_a_library_of_the_previous_version_is_upgraded_in_place(
    tmp_path: Path, embedder: Any
) -> None:
    qa = library(tmp_path / "lib")
    expected = qa.ask(QUESTION).citations
    del qa
    # Rewrite the collection as the previous version left it: our keys only, no layout.
    client = chromadb.PersistentClient(path=str(tmp_path / "lib" / "chroma"))
    old = client.get_collection("articles")
    rows = old.get(include=["documents", "metadatas", "embeddings"])
    ours = (
        "article_id",
        "chunk",
        "start",
        "end",
        "title",
        "url",
        "source",
        "published",
        "published_day",
    )
    metas = [{k: m[k] for k in ours if k in m} for m in rows["metadatas"]]
    model = (old.metadata or {})["embedding_model"]
    client.delete_collection("articles")
    made = client.create_collection(
        "articles", metadata={"embedding_model": model}, configuration={"hnsw": {"space": "cosine"}}
    )
    made.add(rows["ids"], rows["embeddings"], metas, rows["documents"])
    legacy = ChromaVectorStore(chroma_collection=made)
    vector = embedder.embed([QUESTION])[0].tolist()
    before = legacy.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=3)).nodes
    assert all(n.start_char_idx is None and n.ref_doc_id is None for n in before)
    del made, legacy, client

    qa = Assistant.open(Config.from_env(home=tmp_path / "lib"))
    assert (qa.store.chunks.metadata or {}).get("layout") == 2
    store = qa.as_vector_store()
    after = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=3)).nodes
    assert [n.node_id for n in after] == [n.node_id for n in before]
    assert all(exact(qa, n) for n in after)
    assert qa.ask(QUESTION).citations == expected


def test_as_retriever_returns_our_hybrid_results_as_nodes_with_scores(qa: Assistant) -> None:
    retriever = qa.as_retriever(k=3)
    got = retriever.retrieve(QUESTION)
    ours = qa.retriever.search(QUESTION, k=3)
    assert [n.node.node_id for n in got] == [p.chunk_id for p in ours]
    assert [n.score for n in got] == [p.score for p in ours]
    assert all(isinstance(n, NodeWithScore) and exact(qa, n.node) for n in got)
    other = next(a.id for a in qa.documents() if a.id != ours[0].article_id)
    only = qa.as_retriever(k=10, filters=Filters(article_ids=(other,))).retrieve(QUESTION)
    assert only and {n.node.ref_doc_id for n in only} == {other}


def test_query_engine_gives_the_cited_answer_with_citations_as_source_nodes(
    qa: Assistant,
) -> None:
    expected = qa.ask(QUESTION)
    response = qa.as_query_engine().query(QUESTION)
    assert response.response == expected.text and re.search(r"\[1\]", response.response)
    assert [n.node.text for n in response.source_nodes] == [c.quote for c in expected.citations]
    assert [n.node.metadata["citation"] for n in response.source_nodes] == [
        c.n for c in expected.citations
    ]
    assert all(exact(qa, n.node) for n in response.source_nodes)

    streamed = qa.as_query_engine(streaming=True).query(QUESTION)
    assert streamed.source_nodes == []  # they come with the end of the stream
    pieces = list(streamed.response_gen)
    assert len(pieces) > 1 and "".join(pieces) == expected.text
    assert [n.node.text for n in streamed.source_nodes] == [c.quote for c in expected.citations]


def test_chat_engine_follows_the_conversation_streams_and_carries_citations(
    qa: Assistant,
) -> None:
    reference = qa.chat()
    first, follow = reference.ask(QUESTION), reference.ask("What did he say about trade?")
    engine = qa.as_chat_engine()
    assert engine.chat(QUESTION).response == first.text
    streaming = engine.stream_chat("What did he say about trade?")
    assert "".join(streaming.response_gen) == follow.text
    assert [n.node.text for n in streaming.source_nodes] == [c.quote for c in follow.citations]
    assert [m.content for m in engine.chat_history][1::2] == [first.text, follow.text]

    # A history passed in sets the story; the async stream gives the same answer.
    async def again() -> tuple[str, list[Any]]:
        fresh = qa.as_chat_engine()
        history = engine.chat_history[:2]
        response = await fresh.astream_chat("What did he say about trade?", chat_history=history)
        text = "".join([p async for p in response.async_response_gen()])
        return text, response.source_nodes

    text, nodes = asyncio.run(again())
    assert text == follow.text and all(exact(qa, n.node) for n in nodes)
    engine.reset()
    assert engine.chat_history == []


@pytest.fixture(scope="module")
def server() -> Iterator[LLMServer]:
    s = LLMServer()
    yield s
    s.stop()


def test_our_retriever_inside_llamaindex_condense_plus_context_chat_engine(
    qa: Assistant, server: LLMServer
) -> None:
    server.state.requests.clear()
    server.state.replies += [Reply("Raimondo met Wang Wentao."), Reply("What did Raimondo say?")]
    server.state.replies += [Reply("She called the relations profoundly important.")]
    llm = OpenAILike(
        model="scripted-model", api_base=server.state.url, api_key="test-key", is_chat_model=True
    )
    engine = CondensePlusContextChatEngine.from_defaults(retriever=qa.as_retriever(k=3), llm=llm)
    response = engine.chat(QUESTION)
    assert response.response == "Raimondo met Wang Wentao."
    passages = qa.retriever.search(QUESTION, k=3)
    assert [n.node.node_id for n in response.source_nodes] == [p.chunk_id for p in passages]
    # The model saw our passages as its context, with their titles.
    sent = "\n".join(str(m["content"]) for m in server.state.requests[-1]["messages"])
    assert all(p.text[:60] in sent for p in passages) and passages[0].title[:30] in sent
    follow = engine.chat("And what did she say?")
    assert follow.response == "She called the relations profoundly important."
    condensed = "\n".join(str(m["content"]) for m in server.state.requests[-2]["messages"])
    assert "And what did she say?" in condensed and QUESTION in condensed
    assert all(exact(qa, n.node) for n in follow.source_nodes)


class Citing(CustomLLM):
    """A model of the test's own: cites the passage holding ``word`` with ``sentence``."""

    word: str = "benign"
    sentence: str = "He called most trade between the two economies benign"
    prompts: list[str] = Field(default_factory=list)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="citing-test")

    def _reply(self, prompt: str) -> str:
        self.prompts.append(prompt)
        fenced = prompt.split(">>>\n", 1)[1]
        blocks = re.split(r"\n\n(?=\[\d+\] )", fenced)
        n = next(int(b[1 : b.index("]")]) for b in blocks if self.word in b)
        return f"{self.sentence} [{n}]."

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._reply(prompt))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text = self._reply(prompt)

        def pieces() -> CompletionResponseGen:
            for i in range(0, len(text), 5):
                yield CompletionResponse(text=text[: i + 5], delta=text[i : i + 5])

        return pieces()


class Failing(Citing):
    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        raise RuntimeError("quota exhausted for today")


def test_a_llamaindex_custom_llm_answers_with_checked_citations(home: Path) -> None:
    model = Citing()
    qa = Assistant.open(Config.from_env(home=home), llm=model)
    answer = qa.ask("What did Wang say about trade?")
    assert answer.mode == "llm" and len(model.prompts) == 1
    assert answer.text == f"{model.sentence} [1]."
    quote = answer.citation(1)
    assert "benign" in quote.quote
    assert qa.article(quote.article_id).text[quote.start : quote.end] == quote.quote  # type: ignore[union-attr]
    # Its failure is one plain error, and the conversation goes on.
    failing = Assistant.open(Config.from_env(home=home), llm=Failing())
    chat = failing.chat()
    with pytest.raises(LLMError, match=r"the LLM Failing \(citing-test\) failed: .*quota"):
        chat.ask("What did Wang say about trade?")
    assert chat.history == [] and qa.chat().ask("What did Wang say about trade?").citations


def test_answering_without_llamaindex_components_does_not_import_llama_index(home: Path) -> None:
    code = (
        "import sys; from rag import Assistant; "
        f"qa = Assistant.open(home={str(home)!r}); assert qa.ask({QUESTION!r}).citations; "
        "print(sorted(m for m in sys.modules if m.startswith('llama_index.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
