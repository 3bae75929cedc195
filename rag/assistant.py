"""The Python API: ``Assistant.open()`` and what a user does with a library."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rag.answer import Answer
from rag.chat import Answerer, AnswerStream, Chat, Rewriter, condense
from rag.config import ANSWER_MODES, LLM_NEEDS_A_MODEL, Config
from rag.embeddings import Embedder, make_embedder
from rag.extractive import ExtractiveAnswerer
from rag.ingest_report import IngestReport, Progress, ingest_function
from rag.keyword import KeywordIndex
from rag.records import Article, ArticleInfo
from rag.retrieve import Filters, Retriever
from rag.store import Store, StoreError, open_client
from rag.support import SupportScorer


class Assistant:
    """Q&A over a library of news articles.

    >>> qa = Assistant.open()              # store under ./.rag or RAG_HOME
    >>> qa.ingest("path/to/articles/")     # files, folders, URLs; idempotent
    >>> qa.ask("Who did Raimondo meet in Beijing?").citations[0].quote
    >>> chat = qa.chat(); chat.ask("..."); chat.ask("and what did he say?")
    """

    def __init__(self, config: Config, store: Store, embedder: Embedder, llm: Any = None) -> None:
        self.config = config
        self.store = store
        self.embedder = embedder
        #: The LlamaIndex LLM of LLM mode, when the user brought one.
        self.llm = llm

    @classmethod
    def open(cls, config: Config | None = None, llm: Any = None, **settings: Any) -> Assistant:
        """Open (or create) the library that ``config`` or ``RAG_*`` settings name.

        Keyword settings override fields of the config, e.g. ``Assistant.open(home="lib")``.
        ``llm`` is any LlamaIndex ``LLM`` to answer with (LLM mode becomes the default); without
        it, LLM mode uses the OpenAI-compatible endpoint of the settings.
        """
        if llm is not None:
            settings.setdefault("answer_mode", "llm")
            # The endpoint settings are not needed: the model is given.
            config = config or Config.from_env(answer_mode="extractive")
        config = config or Config.from_env()
        if settings:
            config = config.with_(**settings)
            config.validate(llm_given=llm is not None)
        embedder = make_embedder(config)
        return cls(config, Store.open(config, embedder.name), embedder, llm)

    def ingest(
        self, *sources: str | Path | Iterable[str | Path], progress: Progress | None = None
    ) -> IngestReport:
        """Add articles from files, folders, JSONL files and URLs; unchanged ones are skipped,
        changed ones (same URL or path, new text) replace their old version."""
        refs: list[str | Path] = []
        for source in sources:
            if isinstance(source, (str, Path)):
                refs.append(source)
            else:
                refs.extend(source)
        return ingest_function()(refs, self.store, self.embedder, self.config, progress)

    @functools.cached_property
    def retriever(self) -> Retriever:
        """Hybrid search over the library (one keyword index, shared by every chat)."""
        keyword = KeywordIndex(self.store, self.config.home / "keyword" / self.config.collection)
        return Retriever(self.store, self.embedder, keyword)

    @functools.cached_property
    def scorer(self) -> SupportScorer:
        return SupportScorer(self.embedder, self.retriever.keyword, queries=self.retriever.queries)

    @functools.cached_property
    def _llm(self) -> Any:
        from rag.llm import LLM

        return LLM(self.config, self.llm)

    def answerer(self, mode: str | None = None) -> Answerer:
        """The answerer for ``mode`` (``extractive`` or ``llm``; default from the config)."""
        mode = (mode or self.config.answer_mode).lower()
        if mode == "extractive":
            return ExtractiveAnswerer(self.scorer)
        if mode == "llm":
            if self.llm is None and not self.config.llm_configured:
                raise ValueError(LLM_NEEDS_A_MODEL)
            from rag.llm import LLMAnswerer

            return LLMAnswerer(self._llm, self.scorer)
        raise ValueError(f"answer mode must be one of {', '.join(ANSWER_MODES)}, got {mode!r}")

    def chat(
        self, mode: str | None = None, k: int | None = None, filters: Filters | None = None
    ) -> Chat:
        """A new conversation; follow-ups are read in the light of the earlier turns."""
        answerer = self.answerer(mode)
        rewrite: Rewriter = condense
        # A model in this process gets the deterministic rewrite: asking it first costs a whole
        # prompt on the CPU, and Qwen 0.5B often rewrote a follow-up into an answer ("Taiwan")
        # (samples, LLM mode: follow-ups' fact recall 0.50 -> 0.57, their p50 4.8 -> 3.8 s).
        if answerer.mode == "llm" and not self._llm.local:
            rewrite = self._llm.condense
        return Chat(
            self.retriever,
            answerer,
            rewrite=rewrite,
            k=k or self.config.top_k,
            filters=filters or Filters(),
        )

    def ask(
        self,
        question: str,
        mode: str | None = None,
        k: int | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        """Answer one question on its own, with citations."""
        return self.chat(mode, k, filters).ask(question)

    def stream(
        self,
        question: str,
        mode: str | None = None,
        k: int | None = None,
        filters: Filters | None = None,
    ) -> AnswerStream:
        """Answer one question, yielding the text as it comes."""
        return self.chat(mode, k, filters).stream(question)

    # -- LlamaIndex ---------------------------------------------------------------------------

    def as_vector_store(self) -> Any:
        """The library's chunks as a LlamaIndex ``ChromaVectorStore``: each chunk a ``TextNode``
        with ``ref_doc_id`` = the article id and its span in the article (see the README for
        what a LlamaIndex write or delete does)."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        if self.store.chunks is None:
            raise StoreError("the library is empty: ingest articles first")
        # A client of its own, as a user's would be: the store's may be stopped when it
        # reopens the library after another process's commit.
        chunks = open_client(self.config).get_collection(
            self.config.collection, embedding_function=None
        )
        return ChromaVectorStore(chroma_collection=chunks)

    def as_embed_model(self) -> Any:
        """The library's embedding model as a LlamaIndex ``BaseEmbedding``."""
        from rag.llamaindex import LibraryEmbedding

        return LibraryEmbedding(self.embedder)

    def as_retriever(self, k: int | None = None, filters: Filters | None = None) -> Any:
        """Our hybrid retrieval as a LlamaIndex ``BaseRetriever`` (``NodeWithScore``s)."""
        from rag.llamaindex import LibraryRetriever

        return LibraryRetriever(self.retriever, k or self.config.top_k, filters)

    def as_query_engine(
        self,
        mode: str | None = None,
        k: int | None = None,
        filters: Filters | None = None,
        streaming: bool = False,
    ) -> Any:
        """A LlamaIndex query engine: cited answers, ``source_nodes`` = the citations."""
        from rag.llamaindex import CitedQueryEngine

        self.answerer(mode)  # a mode that cannot work fails here, not on the first query
        return CitedQueryEngine(lambda: self.chat(mode, k, filters), streaming)

    def as_chat_engine(
        self, mode: str | None = None, k: int | None = None, filters: Filters | None = None
    ) -> Any:
        """A LlamaIndex chat engine over one conversation (``chat``), streaming included."""
        from rag.llamaindex import CitedChatEngine

        return CitedChatEngine(lambda: self.chat(mode, k, filters))

    def warm_up(self) -> None:
        """Load the models and build the keyword index now, so that the first question (or
        the first 16, at once) does not wait for them."""
        from rag.sentences import load_sentence_splitter
        from rag.terms import terms

        self.embedder.embed(["warm up"])
        load_sentence_splitter()
        self.retriever.keyword.idf(terms("warm up"))

    def documents(self) -> list[ArticleInfo]:
        """The articles in the library, newest first."""
        return self.store.documents()

    def is_empty(self) -> bool:
        """Whether the library holds no complete article yet."""
        return not self.store.has_articles()

    def article(self, article_id: str) -> Article | None:
        """One stored article with its full text."""
        return self.store.article(article_id)

    def remove(self, ref: str) -> list[ArticleInfo]:
        """Remove the article(s) with this id, id prefix, URL or path; returns what went."""
        found = self.store.find(ref)
        for info in found:
            self.store.remove(info.id)
        return found
