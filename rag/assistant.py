"""The Python API: ``Assistant.open()`` and what a user does with a library."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rag.answer import Answer
from rag.chat import Answerer, AnswerStream, Chat, Rewriter, condense
from rag.config import ANSWER_MODES, Config
from rag.embeddings import Embedder, make_embedder
from rag.extractive import ExtractiveAnswerer
from rag.ingest_report import IngestReport, Progress, ingest_function
from rag.keyword import KeywordIndex
from rag.records import Article, ArticleInfo
from rag.retrieve import Filters, Retriever
from rag.store import Store
from rag.support import SupportScorer


class Assistant:
    """Q&A over a library of news articles.

    >>> qa = Assistant.open()              # store under ./.rag or RAG_HOME
    >>> qa.ingest("path/to/articles/")     # files, folders, URLs; idempotent
    >>> qa.ask("Who did Raimondo meet in Beijing?").citations[0].quote
    >>> chat = qa.chat(); chat.ask("..."); chat.ask("and what did he say?")
    """

    def __init__(self, config: Config, store: Store, embedder: Embedder) -> None:
        self.config = config
        self.store = store
        self.embedder = embedder

    @classmethod
    def open(cls, config: Config | None = None, **settings: Any) -> Assistant:
        """Open (or create) the library that ``config`` or ``RAG_*`` settings name.

        Keyword settings override fields of the config, e.g. ``Assistant.open(home="lib")``.
        """
        config = config or Config.from_env()
        if settings:
            config = config.with_(**settings)
            config.validate()
        embedder = make_embedder(config)
        return cls(config, Store.open(config, embedder.name), embedder)

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
        return SupportScorer(self.embedder, self.retriever.keyword)

    @functools.cached_property
    def _llm(self) -> Any:
        from rag.llm import LLM

        return LLM(self.config)

    def answerer(self, mode: str | None = None) -> Answerer:
        """The answerer for ``mode`` (``extractive`` or ``llm``; default from the config)."""
        mode = (mode or self.config.answer_mode).lower()
        if mode == "extractive":
            return ExtractiveAnswerer(self.scorer)
        if mode == "llm":
            if not self.config.llm_configured:
                raise ValueError(
                    "LLM mode needs an endpoint: set OPENAI_API_KEY for OpenAI, or "
                    "RAG_LLM_BASE_URL for another OpenAI-compatible server"
                )
            from rag.llm import LLMAnswerer

            return LLMAnswerer(self._llm, self.scorer)
        raise ValueError(f"answer mode must be one of {', '.join(ANSWER_MODES)}, got {mode!r}")

    def chat(
        self, mode: str | None = None, k: int | None = None, filters: Filters | None = None
    ) -> Chat:
        """A new conversation; follow-ups are read in the light of the earlier turns."""
        answerer = self.answerer(mode)
        rewrite: Rewriter = condense
        if answerer.mode == "llm":
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

    def article(self, article_id: str) -> Article | None:
        """One stored article with its full text."""
        return self.store.article(article_id)

    def remove(self, ref: str) -> list[ArticleInfo]:
        """Remove the article(s) with this id, id prefix, URL or path; returns what went."""
        found = self.store.find(ref)
        for info in found:
            self.store.remove(info.id)
        return found
