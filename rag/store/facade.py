"""The ``Store``: one object over the library's parts, each in its own module."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from rag.config import Config
from rag.records import Article, ArticleInfo, Chunk
from rag.store import articles, chunks, commits, layout, side
from rag.store.base import StoreError, empty_rows, read_all
from rag.store.freshness import Freshness
from rag.store.systems import Running, Tenant, open_client, system_of
from rag.store.turns import WriteTurn

_T = TypeVar("_T")


class Store(Tenant):
    """Chunks, their vectors and the articles they come from."""

    def __init__(
        self,
        client: Any,
        collection: str,
        embedding_model: str | None,
        config: Config | None = None,
    ) -> None:
        #: Set for an embedded library: how to open it again, and its writers' lock file.
        self._config = config if config is not None and not config.chroma_url else None
        # Embedded: the Chroma system it runs on is stopped once nothing uses it (``systems``).
        super().__init__(
            Running(client, system=system_of(client) if self._config is not None else None)
        )
        self.collection_name = collection
        #: Learnt from the library when not given; changed only by ``_attach_on``, which runs
        #: under the freshness lock (``Freshness.attach`` and its openings afresh).
        self.embedding_model = embedding_model
        self._fresh = Freshness(self, collection, self._config, self._attach_on)
        home = self._config.home if self._config is not None else None
        self._turn = WriteTurn(home, lambda: self._fresh.refresh(force=True))
        #: Guards _listeners: added from any thread, called in each writing thread.
        self._listeners_lock = threading.Lock()
        self._listeners: list[Callable[[str], None]] = []

    @classmethod
    def open(cls, config: Config, embedding_model: str | None = None) -> Store:
        """Open the library; with ``embedding_model``, refuse one built with another model."""
        store = cls(open_client(config), config.collection, embedding_model, config)
        create = embedding_model is not None
        if create and store._config is not None:
            with store._turn():  # two processes creating one library take turns
                store._fresh.attach(create=True)
                store._upgrade()
        else:
            store._fresh.attach(create=create)
            if create:
                with store._turn():
                    store._upgrade()
        store._fresh.start()
        if store.chunks is not None:
            store.recover()
        return store

    def _attach_on(self, client: Any, system: Any, create: bool) -> Running:
        """What the store runs on with ``client``: the library's collections on it (made
        with ``create``), the embedding model checked, and learnt if it was not given."""
        found, records, model = layout.attach(
            client, self.collection_name, self.embedding_model, create
        )
        self.embedding_model = model
        return Running(client, found, records, system)

    def _upgrade(self) -> None:
        where = str(self._config.home) if self._config is not None else self.collection_name
        with self.reading() as now:
            layout.upgrade(now.chunks, where)

    # -- other processes ----------------------------------------------------------------------

    def refresh(self, force: bool = False, background: bool = False) -> bool:
        """Catch up with what another process committed to this embedded library; True when
        the store was opened afresh here. With ``background``, the store is opened afresh in a
        thread, its vector index loaded there, and swapped in when ready: the caller (a
        question) goes on with the store as it was. A no-op for a Chroma server, which every
        process shares."""
        return self._fresh.refresh(force, background)

    def _open_afresh(self) -> None:
        # The tests open the store afresh at will.
        self._fresh.open_afresh()

    def generation(self, max_age: float = 0.0) -> str:
        """A token that changes whenever an article is committed or removed, in any process.
        With ``max_age``, a value read at most that many seconds ago will do (a question asks
        several times; this process's own commits show at once)."""
        return self._fresh.generation(max_age)

    def _bump(self) -> None:
        # The tests move the generation at will.
        self._fresh.bump()

    def on_commit(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(generation)`` in the writing thread after each commit or removal
        this process makes (the keyword index rebuilds there, so no question waits on it)."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def _committed(self) -> None:
        generation = self._fresh.seen
        with self._listeners_lock:
            listeners = list(self._listeners)
        if generation:
            for listener in listeners:
                listener(generation)

    # -- reading ------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The Chroma client the store runs on now."""
        return self.running.client

    @property
    def chunks(self) -> Any:
        """The Chroma collection of chunks (``None`` while the library is empty and unopened)."""
        return self.running.chunks

    @property
    def _articles(self) -> Any:
        # The tests write article records by hand.
        return self.running.articles

    read_all = staticmethod(read_all)

    def _on_chunks(self, read: Callable[[Any], _T], empty: _T) -> _T:
        """``read(chunk collection)``, its system held meanwhile; ``empty`` if there is none."""
        with self.reading() as now:
            return empty if now.chunks is None else read(now.chunks)

    def _on_articles(self, read: Callable[[Any], _T], empty: _T) -> _T:
        """``read(article collection)``, its system held meanwhile; ``empty`` if there is none."""
        with self.reading() as now:
            return empty if now.articles is None else read(now.articles)

    def all_chunks(self, include: list[str]) -> dict[str, list[Any]]:
        """Every chunk row (ids plus ``include``), read page by page."""
        return self._on_chunks(lambda c: read_all(c, include=include), empty_rows(include))

    def count_chunks(self) -> int:
        """How many chunks the library holds."""
        return self._on_chunks(lambda c: int(c.count()), 0)

    def chunks_of(self, article_ids: Iterable[str]) -> dict[str, list[Any]]:
        """The chunk rows (ids, documents, metadatas) of these articles."""
        wanted = list(article_ids)
        empty = empty_rows(["documents", "metadatas"])
        return self._on_chunks(lambda c: chunks.of_articles(c, wanted), empty)

    def chunk_vectors(self, article_ids: Sequence[str]) -> tuple[list[str], np.ndarray] | None:
        """The chunk ids and vectors of these articles' chunks (complete articles only),
        read by id: Chroma's ``where`` on the article id scans the chunk metadata (34 ms a
        search at 100,000 chunks), a read by id takes under 1 ms. None when the chunks found
        are not the ones the article records name (then search with a filter instead)."""
        with self.reading() as now:
            if now.articles is None or now.chunks is None:
                return [], np.zeros((0, 0), dtype=np.float32)
            return chunks.vectors(now.chunks, articles.ready_chunk_ids(now.articles, article_ids))

    def has_articles(self) -> bool:
        """Whether any article is complete (one row read, however large the library)."""
        return self._on_articles(articles.has_ready, False)

    def all_ready_ids(self) -> set[str]:
        """The ids of every complete article (cheaper than ``documents``)."""
        return self._on_articles(articles.all_ready_ids, set())

    def ready_ids(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` whose article is complete."""
        return self._on_articles(lambda a: articles.ready_ids(a, ids), set())

    def documents(self) -> list[ArticleInfo]:
        """Every article in the library, newest first."""
        return self._on_articles(articles.documents, [])

    def info(self, article_id: str) -> ArticleInfo | None:
        """The stored article with this id, if it is complete."""
        got = self._on_articles(lambda a: articles.ready_record(a, article_id, []), None)
        return None if got is None else articles.to_info(article_id, got["metadatas"][0])

    def article(self, article_id: str) -> Article | None:
        """The stored article with its full text, if it is complete."""
        got = self._on_articles(lambda a: articles.ready_record(a, article_id, ["documents"]), None)
        return (
            None if got is None else articles.to_article(got["documents"][0], got["metadatas"][0])
        )

    def find(self, ref: str) -> list[ArticleInfo]:
        """Articles whose id (or an unambiguous id prefix), URL, origin or key is ``ref``."""
        return articles.find(self.documents(), ref)

    def by_identity(self, identity: str) -> list[ArticleInfo]:
        """Complete articles that are versions of the one with this identity."""
        return self._on_articles(lambda a: articles.by_identity(a, identity), [])

    # -- writing ------------------------------------------------------------------------------

    def add_article(self, article: Article, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store an article and all its chunks, or (on any failure) none of them."""
        self.add_articles([(article, chunks, vectors)])

    def add_articles(self, items: Sequence[commits.Item]) -> None:
        """Store several articles with all their chunks, in a few large writes, all or none
        (``commits``); StoreError on failure."""
        self._require()
        if not items:
            return
        if any(len(found) != len(vectors) for _, found, vectors in items):
            raise StoreError("one vector per chunk is needed")
        with self._turn(), self.reading() as now:
            commits.add(now, items, self._fresh.bump)
        self._committed()

    def remove(self, article_id: str) -> None:
        """Remove an article and its chunks; it is hidden from readers before its chunks go."""
        self._require()
        with self._turn(), self.reading() as now:
            removed = commits.remove(now, article_id, self._fresh.bump)
        if removed:
            self._committed()

    def recover(self, stale_after: float = 600.0) -> list[str]:
        """Clean up articles a crashed writer left pending for longer than ``stale_after`` s."""
        stale: list[str] = self._on_articles(lambda a: articles.stale_pending(a, stale_after), [])
        if stale:
            with self._turn(), self.reading() as now:
                for article_id in stale:
                    commits.discard(now, article_id)
        return stale

    def _require(self) -> None:
        if self.chunks is None:
            raise StoreError("the library is empty")

    # -- records kept beside the articles (feed subscriptions) --------------------------------

    def records(self, kind: str) -> dict[str, str]:
        """Every record of ``kind`` kept in the library beside its articles (key -> text)."""
        with side.failures(kind, "read"), self.reading() as now:
            return side.read(now.client, self.collection_name, kind)

    def put_record(self, kind: str, key: str, text: str) -> None:
        """Write (or overwrite) one record of ``kind``, in the library's write turn."""
        with side.failures(kind, "write"), self._turn(), self.reading() as now:
            side.put(now.client, self.collection_name, kind, key, text)

    def drop_record(self, kind: str, key: str) -> None:
        """Remove one record of ``kind``, in the library's write turn."""
        with side.failures(kind, "write"), self._turn(), self.reading() as now:
            side.drop(now.client, self.collection_name, kind, key)
