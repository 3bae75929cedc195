"""One benchmark measurement in a process of its own, so that its peak memory is its own:
``python -m eval.bench_worker '{"task": ..., ...}'`` prints one JSON line of results."""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from eval.bench_openai import openai_turns
from rag.config import Config
from rag.embeddings import Embedder


def peak_rss_mb() -> float:
    """Most resident memory this process has held, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _config(spec: dict[str, Any], home: Path) -> Config:
    return Config.from_env(home=home, chroma_url=None, embed_backend=spec.get("backend"))


def _chunk_texts(corpus: Path, embedder: Embedder, config: Config) -> tuple[int, list[str]]:
    from eval.bench_corpus import load_articles
    from ingest.chunking import chunk_article

    articles = load_articles(corpus)
    texts = [c.text for a in articles for c in chunk_article(a.id, a.text, embedder, config)]
    return len(articles), texts


def encode(spec: dict[str, Any]) -> dict[str, Any]:
    """Raw ``embed`` throughput on the chunks that ingest would make: its upper bound."""
    from rag.embeddings import make_embedder

    with tempfile.TemporaryDirectory() as home:
        config = _config(spec, Path(home))
        embedder = make_embedder(config)
        n_articles, texts = _chunk_texts(Path(spec["corpus"]), embedder, config)
        embedder.embed(texts[:16])
        rates = []
        for _ in range(spec["repeats"]):
            began = time.perf_counter()
            # In the batches ingest uses, so that only the pipeline around them differs.
            for lo in range(0, len(texts), config.embed_batch * 2):
                embedder.embed(texts[lo : lo + config.embed_batch * 2])
            rates.append(len(texts) / (time.perf_counter() - began))
    return {"articles": n_articles, "chunks": len(texts), "chunks_per_s": rates}


def ingest(spec: dict[str, Any]) -> dict[str, Any]:
    """Whole ``rag ingest`` runs (load, chunk, embed, store) into fresh libraries."""
    from ingest.pipeline import ingest as run_ingest
    from rag.embeddings import make_embedder
    from rag.sentences import load_sentence_splitter
    from rag.store import Store

    embedder = None
    chunk_rates, article_rates, chunks, articles = [], [], 0, 0
    for _ in range(spec["repeats"]):
        with tempfile.TemporaryDirectory() as home:
            config = _config(spec, Path(home))
            if embedder is None:
                embedder = make_embedder(config)
                # Start-up (imports, model, sentence splitter) is measured apart from
                # throughput, as the encode baseline's is.
                embedder.embed(["warm up the model outside the timings"])
                load_sentence_splitter()
            store = Store.open(config, embedder.name)
            began = time.perf_counter()
            report = run_ingest([spec["corpus"]], store, embedder, config)
            seconds = time.perf_counter() - began
            if report.failed:
                raise RuntimeError(f"ingest failed: {report.failed[0]}")
            chunks, articles = report.chunks, len(report.added)
            chunk_rates.append(chunks / seconds)
            article_rates.append(articles / seconds)
    return {
        "articles": articles,
        "chunks": chunks,
        "chunks_per_s": chunk_rates,
        "articles_per_s": article_rates,
    }


def llamaindex(spec: dict[str, Any]) -> dict[str, Any]:
    """The LlamaIndex quickstart on the same articles: ``VectorStoreIndex.from_documents``
    over a ``ChromaVectorStore``, the same model through ``HuggingFaceEmbedding``, and
    LlamaIndex's default splitter."""
    import chromadb
    from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from eval.bench_corpus import load_articles
    from rag.embeddings import bundled_model_path
    from rag.store import _chroma_settings

    Settings.llm = None
    model = HuggingFaceEmbedding(model_name=bundled_model_path(), device="cpu")
    # Its model and splitter load outside the timings, as ours do.
    model.get_text_embedding("warm up the model outside the timings")
    SentenceSplitter().get_nodes_from_documents([Document(text="Warm up. The splitter.")])
    chunk_rates, article_rates, nodes, articles = [], [], 0, 0
    for r in range(spec["repeats"]):
        with tempfile.TemporaryDirectory() as home:
            client = chromadb.PersistentClient(path=home, settings=_chroma_settings())
            collection = client.create_collection(f"quickstart{r}")
            began = time.perf_counter()
            documents = [
                Document(text=a.text, metadata={"title": a.title})
                for a in load_articles(Path(spec["corpus"]))
            ]
            storage = StorageContext.from_defaults(
                vector_store=ChromaVectorStore(chroma_collection=collection)
            )
            VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=model)
            seconds = time.perf_counter() - began
            nodes, articles = collection.count(), len(documents)
            node_texts = collection.get(include=["documents"])["documents"]
            chunk_rates.append(nodes / seconds)
            article_rates.append(articles / seconds)
    # Its default splitter makes nodes of up to 1,024 tokens, and the model reads only the
    # first 256 tokens of each: the rest of the text is never embedded.
    limit = int(model._model.max_seq_length or 256)
    tokenizer = model._model.tokenizer
    lengths = [len(tokenizer(t or "", verbose=False)["input_ids"]) for t in node_texts or []]
    embedded = sum(min(n, limit) for n in lengths) / max(1, sum(lengths))
    return {
        "articles": articles,
        "chunks": nodes,
        "chunks_per_s": chunk_rates,
        "articles_per_s": article_rates,
        "share_embedded": embedded,
    }


def build(spec: dict[str, Any]) -> dict[str, Any]:
    """Grow the library at ``home`` to ``size`` chunks: real articles first, then copies."""
    from eval.bench_corpus import add_real_articles, grow_library, load_articles
    from rag.embeddings import make_embedder
    from rag.store import Store

    config = _config(spec, Path(spec["home"]))
    embedder = make_embedder(config)
    store = Store.open(config, embedder.name)
    began = time.perf_counter()
    real = add_real_articles(
        store, embedder, load_articles(Path(spec["corpus"])), spec["size"], config
    )
    chunks = grow_library(store, spec["size"])
    return {"chunks": chunks, "real_chunks": real, "seconds": time.perf_counter() - began}


def serve(spec: dict[str, Any]) -> dict[str, Any]:
    """Question latency on an existing library: retrieval alone, then whole extractive answers
    (a first question and its follow-up per conversation), each with a cold sentence cache."""
    from rag.assistant import Assistant

    questions: list[list[str]] = spec["conversations"]
    qa = Assistant.open(_config(spec, Path(spec["home"])))
    opened_mb = peak_rss_mb()
    began = time.perf_counter()
    qa.retriever.search(questions[0][0], k=5)
    index_ms = (time.perf_counter() - began) * 1000
    for turns in questions[:3]:
        qa.ask(turns[0])
    retrieval, answers, answered = [], [], 0
    for turns in questions:
        began = time.perf_counter()
        passages = qa.retriever.search(turns[0], k=5)
        retrieval.append((time.perf_counter() - began) * 1000)
        if not passages:
            raise RuntimeError(f"nothing retrieved for {turns[0]!r}")
        chat = qa.chat(mode="extractive")
        for turn in turns:
            qa.scorer.clear()
            began = time.perf_counter()
            answer = chat.ask(turn)
            answers.append((time.perf_counter() - began) * 1000)
            answered += not answer.refused
    return {
        "chunks": qa.store.count_chunks(),
        "first_search_ms": index_ms,
        "retrieval_ms": retrieval,
        "answer_ms": answers,
        "answered": answered,
        "opened_mb": opened_mb,
    }


def llm(spec: dict[str, Any]) -> dict[str, Any]:
    """LLM mode with the real small model beside the extractive answer, on the same questions
    over the sample articles: time to the first sentence shown, the whole answer, and the
    model's own tokens per second (each streamed piece of llama.cpp is one token)."""
    from eval.local_llm import LocalLLM
    from rag.assistant import Assistant

    questions: list[str] = spec["questions"]
    with tempfile.TemporaryDirectory() as home, LocalLLM(spec.get("model", "smollm2")) as server:
        qa = Assistant.open(server.config(_config(spec, Path(home))))
        qa.ingest(spec["articles"])
        qa.warm_up()
        qa.ask(questions[0], mode="extractive")
        token_times: list[float] = []
        stream = qa._llm.stream

        def timed(*args: Any, **kwargs: Any) -> Any:
            for piece in stream(*args, **kwargs):
                token_times.append(time.perf_counter())
                yield piece

        qa._llm.stream = timed
        extractive, first, whole, rates, model_answers = [], [], [], [], 0
        for question in questions:
            began = time.perf_counter()
            qa.ask(question, mode="extractive")
            extractive.append((time.perf_counter() - began) * 1000)
            token_times.clear()
            began = time.perf_counter()
            answer = qa.stream(question, mode="llm")
            shown = None
            for _ in answer:
                shown = shown or time.perf_counter()
            done = time.perf_counter()
            first.append(((shown or done) - began) * 1000)
            whole.append((done - began) * 1000)
            model_answers += answer.answer.mode == "llm"
            if len(token_times) > 1:
                rates.append((len(token_times) - 1) / (token_times[-1] - token_times[0]))
    return {
        "questions": len(questions),
        "model": server.name,
        "extractive_ms": extractive,
        "first_sentence_ms": first,
        "answer_ms": whole,
        "tokens_per_s": rates,
        "model_answers": model_answers,
    }


TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "llm": llm,
    "encode": encode,
    "ingest": ingest,
    "llamaindex": llamaindex,
    "build": build,
    "serve": serve,
    "openai": openai_turns,
}


def run_task(
    tasks: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]],
    argv: list[str],
    peak: Callable[[], float] = peak_rss_mb,
) -> int:
    """Run the task the JSON spec in ``argv`` names and print its result as one JSON line."""
    spec = json.loads(argv[0])
    result = tasks[spec["task"]](spec)
    result["peak_rss_mb"] = peak()
    print(json.dumps(result))
    return 0


def main(argv: list[str]) -> int:
    return run_task(TASKS, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
