"""The Python API: ``Assistant.open()`` and what a user does with a library."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Config
from rag.embeddings import Embedder, make_embedder
from rag.records import Article, ArticleInfo
from rag.store import Store

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport
    from ingest.progress import Progress


class Assistant:
    """Q&A over a library of news articles.

    >>> qa = Assistant.open()              # store under ./.rag or RAG_HOME
    >>> qa.ingest("path/to/articles/")     # files, folders, URLs; idempotent
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
        from ingest.pipeline import ingest

        refs: list[str | Path] = []
        for source in sources:
            if isinstance(source, (str, Path)):
                refs.append(source)
            else:
                refs.extend(source)
        return ingest(refs, self.store, self.embedder, self.config, progress)

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
