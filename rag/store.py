"""The library: chunks with their vectors in one Chroma collection, article texts and their
state in a second. Embedded (``PersistentClient``) or a Chroma server (``HttpClient``), one code
path, chosen by ``Config.chroma_url``.

Several processes may open one embedded library (a `rag serve`, a cron `rag ingest`, a script).
Chroma's embedded mode is not built for that: each process holds its vector index in memory and
never reloads it, and two writers at once can leave a batch out of it. So writers take turns
under a lock file beside the store (a second writer waits; each catches up before it writes),
and a reader whose library changed under it, in another process, opens the store afresh in a
background thread (its vector index loaded there, then swapped in), checked at most every
``REFRESH_EVERY`` seconds before a dense search; the store it replaces is stopped once no read
is in flight on it."""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import fcntl
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlparse

import numpy as np

from rag.config import Config
from rag.nodes import LAYOUT, LAYOUT_KEY, chunk_node_fields, is_ours, stored_node_fields
from rag.records import Article, ArticleInfo, Chunk

log = logging.getLogger(__name__)

MODEL_KEY = "embedding_model"
READY = "ready"
#: An article is "pending" while its chunks are written or removed; readers ignore it.
PENDING = "pending"
#: Rows per Chroma read of a whole collection: one read of 100,000 chunks fails with SQLite's
#: "too many SQL variables".
PAGE = 5_000
#: How often (seconds) a reader looks for changes another process committed: well inside the
#: 2 s in which every open library must see a new or removed article.
REFRESH_EVERY = 0.5


class StoreError(RuntimeError):
    """The library could not be opened, read or written."""


class ModelMismatchError(StoreError):
    """The library was built with another embedding model than the one asked for."""


def _chroma_settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


def open_client(config: Config) -> Any:
    """A Chroma client for ``config``: a local folder, or the server at ``chroma_url``."""
    import chromadb

    try:
        if config.chroma_url:
            url = urlparse(config.chroma_url)
            return chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=_chroma_settings(),
            )
        config.home.mkdir(parents=True, exist_ok=True)
        folder = config.home / "chroma"
        # Opening a folder the first time creates its tables: two processes doing it at once
        # fail ("table collections already exists"), so a first opening takes a writer's turn.
        with writers_turn(config.home) if not folder.exists() else contextlib.nullcontext():
            return chromadb.PersistentClient(path=str(folder), settings=_chroma_settings())
    except Exception as exc:
        where = config.chroma_url or str(config.home)
        raise StoreError(f"cannot open the Chroma store at {where}: {exc}") from exc


@contextlib.contextmanager
def writers_turn(home: Path) -> Iterator[None]:
    """Hold the embedded library's write turn across processes (a lock file beside it)."""
    with open(home / "write.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


#: Per Chroma system (by id): the open stores running on it (one process may open a library
#: more than once; they share the system until one of them opens the library afresh), and the
#: reads in flight on it. A system no store runs on any more is stopped when its last read
#: ends: Chroma frees a system's vector index only when it is stopped, and without this each
#: reopening kept one more copy (about 200 MB at 100,000 chunks; `rag bench --live`).
_OWNERS: dict[int, int] = {}
_READING: dict[int, int] = {}
_SYSTEMS_LOCK = threading.Lock()


def _system_of(client: Any) -> Any:
    """The Chroma system an embedded client runs on (as registered right now)."""
    try:
        return client._system
    except (AttributeError, KeyError):
        return None


def _own(system: Any) -> None:
    if system is not None:
        with _SYSTEMS_LOCK:
            _OWNERS[id(system)] = _OWNERS.get(id(system), 0) + 1


def _disown(system: Any) -> None:
    if system is None:
        return
    with _SYSTEMS_LOCK:
        key = id(system)
        _OWNERS[key] = _OWNERS.get(key, 1) - 1
        idle = _OWNERS[key] <= 0 and not _READING.get(key)
        if _OWNERS[key] <= 0 and idle:
            del _OWNERS[key]
    if idle:
        _stop(system)


@contextlib.contextmanager
def _reading_on(system: Any) -> Iterator[None]:
    if system is None:
        yield
        return
    key = id(system)
    with _SYSTEMS_LOCK:
        _READING[key] = _READING.get(key, 0) + 1
    try:
        yield
    finally:
        with _SYSTEMS_LOCK:
            _READING[key] -= 1
            idle = not _READING[key] and _OWNERS.get(key, 0) <= 0
            if not _READING[key]:
                del _READING[key]
            if idle:
                _OWNERS.pop(key, None)
        if idle:
            _stop(system)


#: Set when the interpreter exits: Chroma's native code must not be torn down or started from
#: a thread while Python finalises (a process crashed on exit when it was).
_EXITING = threading.Event()
_REOPENING: set[threading.Thread] = set()


@atexit.register
def _quiet_exit() -> None:
    _EXITING.set()
    for thread in list(_REOPENING):
        thread.join(timeout=30)


#: The systems this module made for itself (``fresh_client``); only those are ever stopped.
#: A system from Chroma's cache may be shared with a client of the user's own in this process
#: (a script that opens the library with ``chromadb.PersistentClient`` for LlamaIndex), and
#: stopping it would break theirs.
_MADE: set[int] = set()


def fresh_client(config: Config) -> tuple[Any, Any]:
    """A client of the embedded library on a Chroma system of its own, which reads the library
    as it is now, and that system. Chroma caches one system per folder, with its vector index
    loaded once: the cache is dropped before, so that the system is new, and after, so that no
    other client shares it."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    try:
        client = open_client(config)
        # Read while it is in the cache: the client finds its system there.
        system = _system_of(client)
    finally:
        SharedSystemClient.clear_system_cache()
    if system is not None:
        with _SYSTEMS_LOCK:
            _MADE.add(id(system))
    return client, system


def _stop(system: Any) -> None:
    if _EXITING.is_set():
        return
    with _SYSTEMS_LOCK:
        if id(system) not in _MADE:
            return  # it may serve another client in this process
        _MADE.discard(id(system))
    with contextlib.suppress(Exception):
        system.stop()


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _pinned(method: _Method) -> _Method:
    """A store method that reads: its system is held for the duration (``Store.reading``)."""

    @functools.wraps(method)
    def read(self: Store, *args: Any, **kwargs: Any) -> Any:
        with self.reading():
            return method(self, *args, **kwargs)

    return cast(_Method, read)


def published_day(published: str) -> int | None:
    """Days since 1970-01-01 for an ISO date, so that Chroma can filter date ranges."""
    try:
        return (dt.date.fromisoformat(published[:10]) - dt.date(1970, 1, 1)).days
    except ValueError:
        return None


def _clean(meta: dict[str, Any]) -> dict[str, Any]:
    # Chroma metadata takes no None values.
    return {k: v for k, v in meta.items() if v is not None}


class Store:
    """Chunks, their vectors and the articles they come from."""

    def __init__(
        self,
        client: Any,
        collection: str,
        embedding_model: str | None,
        config: Config | None = None,
    ) -> None:
        self.client = client
        self.collection_name = collection
        self.embedding_model = embedding_model
        self._chunks: Any = None
        self._articles: Any = None
        #: Set for an embedded library: how to open it again, and its writers' lock file.
        self._config = config if config is not None and not config.chroma_url else None
        self._seen: str | None = None
        self._checked = 0.0
        self._known = ""
        self._known_at = float("-inf")
        self._reopen = threading.Lock()
        self._reopening: threading.Thread | None = None
        #: Moves whenever this process opens the store afresh or writes: a store opened in the
        #: background before that is older, and is dropped rather than swapped in.
        self._epoch = 0
        self._write = threading.Lock()
        self._listeners: list[Callable[[str], None]] = []
        #: The Chroma system this store runs on, when embedded (stopped once nothing uses it).
        self._system: Any = None
        if self._config is not None:
            self._swap_system()

    @classmethod
    def open(cls, config: Config, embedding_model: str | None = None) -> Store:
        """Open the library; with ``embedding_model``, refuse one built with another model."""
        store = cls(open_client(config), config.collection, embedding_model, config)
        if embedding_model is not None and store._config is not None:
            with store._writing():  # two processes creating one library take turns
                store._attach(create=True)
                store._upgrade()
        else:
            store._attach(create=embedding_model is not None)
            if embedding_model is not None:
                with store._writing():
                    store._upgrade()
        store._seen = store.generation()
        if store._chunks is not None:
            store.recover()
        return store

    # -- other processes ----------------------------------------------------------------------

    def refresh(self, force: bool = False, background: bool = False) -> bool:
        """Catch up with what another process committed to this embedded library; True when
        the store was opened afresh here. With ``background``, the store is opened afresh in a
        thread, its vector index loaded there, and swapped in when ready: the caller (a
        question) goes on with the store as it was. A no-op for a Chroma server, which every
        process shares."""
        if self._config is None:
            return False
        now = time.monotonic()
        if not force and now - self._checked < REFRESH_EVERY:
            return False
        self._checked = now
        with self._reopen:
            generation = self.generation() if self._articles is not None else None
            if generation is not None and generation == self._seen:
                return False
            if generation is None and not self._created_elsewhere():
                return False
            if background and generation is not None:
                self._reopen_in_background()
                return False
            self._open_afresh()
            return True

    def _open_afresh(self) -> None:
        assert self._config is not None
        # Handles other threads hold keep working on the old system until they are done.
        self.client, system = fresh_client(self._config)
        self._attach(create=False)
        self._seen = self.generation()
        self._epoch += 1
        self._swap_system(system)

    def _reopen_in_background(self) -> None:
        if self._reopening is not None and self._reopening.is_alive():
            return
        if _EXITING.is_set():
            return
        self._reopening = threading.Thread(
            target=self._reopen_and_swap, args=(self._epoch,), name="store-reopen", daemon=True
        )
        _REOPENING.add(self._reopening)
        self._reopening.start()

    def _reopen_and_swap(self, epoch: int) -> None:
        try:
            self._reopen_from(epoch)
        finally:
            _REOPENING.discard(threading.current_thread())

    def _reopen_from(self, epoch: int) -> None:
        assert self._config is not None
        system = None
        try:
            # Read before opening: a commit that lands meanwhile moves it again, and the next
            # check opens afresh once more.
            generation = self.generation()
            client, system = fresh_client(self._config)
            chunks = client.get_collection(self.collection_name, embedding_function=None)
            articles = client.get_collection(
                f"{self.collection_name}-articles", embedding_function=None
            )
            # Load the vector index here (0.4 s at 100,000 chunks) rather than in a question.
            sample = chunks.get(limit=1, include=["embeddings"])
            if sample["ids"]:
                chunks.query(query_embeddings=sample["embeddings"], n_results=1, include=[])
        except Exception:
            if system is not None:
                _own(system)
                _disown(system)  # stopped: it serves nothing
            self._checked = 0.0  # the next question's check tries again
            return
        with self._reopen:
            if epoch != self._epoch:
                _own(system)
                _disown(system)  # this process opened afresh or wrote meanwhile
                return
            self.client, self._chunks, self._articles = client, chunks, articles
            self._seen = generation
            self._epoch += 1
            self._swap_system(system)

    def _swap_system(self, system: Any = None) -> None:
        """This store now runs on ``system`` (by default its client's); the one it ran on is
        stopped once nothing runs or reads on it."""
        new = system if system is not None else _system_of(self.client)
        _own(new)  # before any read can find it: a read that ends must not stop it
        old, self._system = self._system, new
        _disown(old)

    def reading(self) -> contextlib.AbstractContextManager[None]:
        """Hold while reading through ``chunks`` or the store's collections: the system they
        run on is not stopped meanwhile, even if the store is opened afresh."""
        return _reading_on(self._system)

    def wait_for_reopen(self) -> None:
        """Until a store being opened afresh in the background is swapped in (tests)."""
        thread = self._reopening
        if thread is not None:
            thread.join()

    def on_commit(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(generation)`` in the writing thread after each commit or removal
        this process makes (the keyword index rebuilds there, so no question waits on it)."""
        self._listeners.append(listener)

    def _committed(self) -> None:
        generation = self._seen
        for listener in self._listeners:
            if generation:
                listener(generation)

    def _created_elsewhere(self) -> bool:
        """Whether another process created the library since this one found it empty."""
        names = {self._name(c) for c in self.client.list_collections()}
        return f"{self.collection_name}-articles" in names

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the library's write turn: one writer at a time, across threads and processes,
        each writing on an index that holds every earlier writer's work."""
        with self._write:
            if self._config is None:
                yield
                return
            with writers_turn(self._config.home):
                self.refresh(force=True)
                yield

    # -- collections -------------------------------------------------------------------------

    def _attach(self, create: bool) -> None:
        existing = {self._name(c) for c in self.client.list_collections()}
        if self.collection_name not in existing and not create:
            return
        try:
            if self.collection_name in existing:
                chunks = self.client.get_collection(self.collection_name, embedding_function=None)
            else:
                chunks = self._create_chunks()
            articles = self.client.get_or_create_collection(
                f"{self.collection_name}-articles", embedding_function=None
            )
        except Exception as exc:
            raise StoreError(f"cannot open collection {self.collection_name!r}: {exc}") from exc
        recorded = (chunks.metadata or {}).get(MODEL_KEY)
        if self.embedding_model is not None and recorded and recorded != self.embedding_model:
            raise ModelMismatchError(
                f"this library was built with the embedding model {recorded!r}, not "
                f"{self.embedding_model!r}; set RAG_EMBED_MODEL={recorded} to use it, or pick "
                "another RAG_HOME or RAG_COLLECTION for the new model"
            )
        self.embedding_model = self.embedding_model or recorded
        self._chunks, self._articles = chunks, articles

    def _upgrade(self) -> None:
        """Give the chunks of a library made by an earlier version the fields LlamaIndex reads
        (``rag.nodes``), in place: their vectors and ids stay as they are."""
        if self._chunks is None or (self._chunks.metadata or {}).get(LAYOUT_KEY) == LAYOUT:
            return
        total = int(self._chunks.count())
        if total:
            log.warning("upgrading this library's %d chunks for LlamaIndex (once)", total)
        try:
            got = self.read_all(self._chunks, include=["documents", "metadatas"])
            rows = [
                (cid, {**meta, **stored_node_fields(cid, text, meta)})
                for cid, text, meta in zip(
                    got["ids"], got["documents"], got["metadatas"], strict=True
                )
                if is_ours(meta) and "_node_content" not in meta
            ]
            for lo in range(0, len(rows), PAGE):
                part = rows[lo : lo + PAGE]
                self._chunks.update(ids=[c for c, _ in part], metadatas=[m for _, m in part])
            layout = {**(self._chunks.metadata or {}), LAYOUT_KEY: LAYOUT}
            self._chunks.modify(metadata=layout)
        except Exception as exc:
            raise StoreError(
                f"cannot upgrade the library at {self._where()} for LlamaIndex: {exc}; "
                "opening it again (rag ask, rag ingest, rag serve) tries again"
            ) from exc

    def _where(self) -> str:
        return str(self._config.home) if self._config is not None else self.collection_name

    def _create_chunks(self) -> Any:
        try:
            return self.client.create_collection(
                self.collection_name,
                metadata={MODEL_KEY: self.embedding_model, LAYOUT_KEY: LAYOUT},
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        except Exception:
            # Another process (on a Chroma server) created it a moment ago: use that one.
            if self.collection_name in {self._name(c) for c in self.client.list_collections()}:
                return self.client.get_collection(self.collection_name, embedding_function=None)
            raise

    @staticmethod
    def _name(collection: Any) -> str:
        return collection if isinstance(collection, str) else str(collection.name)

    @property
    def chunks(self) -> Any:
        """The Chroma collection of chunks (``None`` while the library is empty and unopened)."""
        return self._chunks

    def _require(self) -> None:
        if self._chunks is None:
            raise StoreError("the library is empty")

    # -- reading ------------------------------------------------------------------------------

    @_pinned
    def generation(self, max_age: float = 0.0) -> str:
        """A token that changes whenever an article is committed or removed, in any process.
        With ``max_age``, a value read at most that many seconds ago will do (a question asks
        several times; this process's own commits show at once)."""
        if max_age and time.monotonic() - self._known_at < max_age:
            return self._known
        if self._articles is None:
            return ""
        fresh = self.client.get_collection(self._articles.name, embedding_function=None)
        self._known = str((fresh.metadata or {}).get("generation", ""))
        self._known_at = time.monotonic()
        return self._known

    def _bump(self) -> None:
        generation = uuid.uuid4().hex
        self._articles.modify(metadata={"generation": generation})
        self._known, self._known_at = generation, time.monotonic()
        # This process's own write: its index has it already, nothing to open afresh.
        self._seen = generation
        self._epoch += 1

    @staticmethod
    def read_all(collection: Any, **query: Any) -> dict[str, list[Any]]:
        """Chroma's ``get`` over a whole collection, read page by page."""
        include = list(query.pop("include", []))
        out: dict[str, list[Any]] = {"ids": [], **{key: [] for key in include}}
        offset = 0
        while True:
            got = collection.get(limit=PAGE, offset=offset, include=include, **query)
            for key in out:
                out[key].extend(got[key] if got[key] is not None else [])
            if len(got["ids"]) < PAGE:
                return out
            offset += PAGE

    @_pinned
    def all_chunks(self, include: list[str]) -> dict[str, list[Any]]:
        """Every chunk row (ids plus ``include``), read page by page."""
        if self._chunks is None:
            return {"ids": [], **{key: [] for key in include}}
        return self.read_all(self._chunks, include=include)

    @_pinned
    def count_chunks(self) -> int:
        return 0 if self._chunks is None else int(self._chunks.count())

    @_pinned
    def has_articles(self) -> bool:
        """Whether any article is complete (one row read, however large the library)."""
        if self._articles is None:
            return False
        return bool(self._articles.get(where={"status": READY}, limit=1, include=[])["ids"])

    @_pinned
    def all_ready_ids(self) -> set[str]:
        """The ids of every complete article (cheaper than ``documents``)."""
        if self._articles is None:
            return set()
        return set(self.read_all(self._articles, where={"status": READY}, include=[])["ids"])

    @_pinned
    def chunks_of(self, article_ids: Iterable[str]) -> dict[str, list[Any]]:
        """The chunk rows (ids, documents, metadatas) of these articles."""
        wanted = list(article_ids)
        if self._chunks is None or not wanted:
            return {"ids": [], "documents": [], "metadatas": []}
        out: dict[str, list[Any]] = {"ids": [], "documents": [], "metadatas": []}
        for lo in range(0, len(wanted), 500):
            got = self.read_all(
                self._chunks,
                where={"article_id": {"$in": wanted[lo : lo + 500]}},
                include=["documents", "metadatas"],
            )
            for key in out:
                out[key].extend(got[key])
        return out

    @_pinned
    def documents(self) -> list[ArticleInfo]:
        """Every article in the library, newest first."""
        if self._articles is None:
            return []
        got = self.read_all(self._articles, where={"status": READY}, include=["metadatas"])
        infos = [self._info(i, m) for i, m in zip(got["ids"], got["metadatas"], strict=True)]
        return sorted(infos, key=lambda a: (a.published, a.title), reverse=True)

    def _ready_record(self, article_id: str, include: list[str]) -> dict[str, Any] | None:
        """The article record with this id (as Chroma's ``get`` gives it), if it is complete."""
        if self._articles is None:
            return None
        got = self._articles.get(ids=[article_id], include=["metadatas", *include])
        if not got["ids"] or got["metadatas"][0].get("status") != READY:
            return None
        return dict(got)

    @_pinned
    def info(self, article_id: str) -> ArticleInfo | None:
        """The stored article with this id, if it is complete."""
        got = self._ready_record(article_id, [])
        return None if got is None else self._info(article_id, got["metadatas"][0])

    @_pinned
    def article(self, article_id: str) -> Article | None:
        """The stored article with its full text, if it is complete."""
        got = self._ready_record(article_id, ["documents"])
        if got is None:
            return None
        m = got["metadatas"][0]
        return Article(
            title=m.get("title", ""),
            text=got["documents"][0],
            origin=m.get("origin", ""),
            url=m.get("url", ""),
            published=m.get("published", ""),
            source=m.get("source", ""),
            key=m.get("key", ""),
        )

    @_pinned
    def find(self, ref: str) -> list[ArticleInfo]:
        """Articles whose id (or an unambiguous id prefix), URL, origin or key is ``ref``."""
        docs = self.documents()
        exact = [a for a in docs if ref in (a.id, a.url, a.origin, a.key)]
        if exact:
            return exact
        prefixed = [a for a in docs if len(ref) >= 4 and a.id.startswith(ref)]
        return prefixed if len(prefixed) == 1 else []

    @_pinned
    def by_identity(self, identity: str) -> list[ArticleInfo]:
        """Complete articles that are versions of the one with this identity."""
        if self._articles is None:
            return []
        got = self._articles.get(
            where={"$and": [{"key": identity}, {"status": READY}]}, include=["metadatas"]
        )
        return [self._info(i, m) for i, m in zip(got["ids"], got["metadatas"], strict=True)]

    @staticmethod
    def _info(article_id: str, m: dict[str, Any]) -> ArticleInfo:
        return ArticleInfo(
            id=article_id,
            title=m.get("title", ""),
            url=m.get("url", ""),
            published=m.get("published", ""),
            source=m.get("source", ""),
            origin=m.get("origin", ""),
            key=m.get("key", ""),
            chunks=int(m.get("chunks", 0)),
            ingested_at=m.get("ingested_at", ""),
        )

    # -- writing ------------------------------------------------------------------------------

    def _article_meta(self, article: Article, chunks: int, status: str) -> dict[str, Any]:
        return {
            "title": article.title,
            "url": article.url,
            "published": article.published,
            "source": article.source,
            "origin": article.origin,
            "key": article.identity,
            "chunks": chunks,
            "status": status,
            "ingested_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "written_at": time.time(),
        }

    def add_article(self, article: Article, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store an article and all its chunks, or (on any failure) none of them."""
        self.add_articles([(article, chunks, vectors)])

    def add_articles(self, items: Sequence[tuple[Article, Sequence[Chunk], np.ndarray]]) -> None:
        """Store several articles with all their chunks, in a few large writes.

        Each article record is written first as pending and turned ready only after all its
        chunks landed, so a reader never sees an article in part and a crash leaves records to
        clean up. On failure none of ``items`` is left behind and StoreError is raised.
        """
        self._require()
        if not items:
            return
        for _, chunks, vectors in items:
            if len(chunks) != len(vectors):
                raise StoreError("one vector per chunk is needed")
        ids = [article.id for article, _, _ in items]
        with self._writing():
            self._add(items, ids)
        self._committed()

    def _add(
        self, items: Sequence[tuple[Article, Sequence[Chunk], np.ndarray]], ids: list[str]
    ) -> None:
        try:
            # Chunks that a crashed earlier try left behind go before the new ones land.
            leftovers = self._articles.get(ids=ids, include=[])["ids"]
            self._articles.upsert(
                ids=ids,
                documents=[article.text for article, _, _ in items],
                embeddings=[[0.0]] * len(items),
                metadatas=[self._article_meta(a, len(c), PENDING) for a, c, _ in items],
            )
            if leftovers:
                self._chunks.delete(where={"article_id": {"$in": leftovers}})
            rows = [
                (chunk, vector, self._chunk_meta(article, chunk))
                for article, chunks, vectors in items
                for chunk, vector in zip(chunks, vectors, strict=True)
            ]
            step = max(1, int(self.client.get_max_batch_size()))
            for lo in range(0, len(rows), step):
                part = rows[lo : lo + step]
                self._chunks.add(
                    ids=[c.id for c, _, _ in part],
                    embeddings=np.stack([v for _, v, _ in part]),
                    documents=[c.text for c, _, _ in part],
                    metadatas=[m for _, _, m in part],
                )
            self._articles.update(
                ids=ids, metadatas=[self._article_meta(a, len(c), READY) for a, c, _ in items]
            )
            self._bump()
        except Exception as exc:
            for aid in ids:
                self._discard(aid)
            what = f"article {ids[0]}" if len(ids) == 1 else f"{len(ids)} articles"
            raise StoreError(f"could not store {what}: {exc}") from exc

    # -- records kept beside the articles (feed subscriptions) --------------------------------

    def _side(self, kind: str) -> Any:
        return self.client.get_or_create_collection(
            f"{self.collection_name}-{kind}", embedding_function=None
        )

    @_pinned
    def records(self, kind: str) -> dict[str, str]:
        """Every record of ``kind`` kept in the library beside its articles (key -> text)."""
        name = f"{self.collection_name}-{kind}"
        try:
            # Reading creates nothing: a collection is made by the first write, in its turn.
            if name not in {self._name(c) for c in self.client.list_collections()}:
                return {}
            got = self.read_all(
                self.client.get_collection(name, embedding_function=None), include=["documents"]
            )
        except Exception as exc:
            raise StoreError(f"cannot read the library's {kind}: {exc}") from exc
        return dict(zip(got["ids"], got["documents"], strict=True))

    def put_record(self, kind: str, key: str, text: str) -> None:
        """Write (or overwrite) one record of ``kind``, in the library's write turn."""
        try:
            with self._writing():
                self._side(kind).upsert(ids=[key], documents=[text], embeddings=[[0.0]])
        except Exception as exc:
            raise StoreError(f"cannot write the library's {kind}: {exc}") from exc

    def drop_record(self, kind: str, key: str) -> None:
        try:
            with self._writing():
                self._side(kind).delete(ids=[key])
        except Exception as exc:
            raise StoreError(f"cannot write the library's {kind}: {exc}") from exc

    @staticmethod
    def _chunk_meta(article: Article, chunk: Chunk) -> dict[str, Any]:
        return _clean(
            {
                **chunk_node_fields(article, chunk),
                "article_id": chunk.article_id,
                "chunk": chunk.index,
                "start": chunk.start,
                "end": chunk.end,
                "title": article.title,
                "url": article.url,
                "source": article.source,
                "published": article.published,
                "published_day": published_day(article.published),
            }
        )

    def remove(self, article_id: str) -> None:
        """Remove an article and its chunks; it is hidden from readers before its chunks go."""
        self._require()
        with self._writing():
            got = self._articles.get(ids=[article_id], include=["metadatas"])
            if not got["ids"]:
                return
            meta = dict(got["metadatas"][0], status=PENDING, written_at=time.time())
            self._articles.update(ids=[article_id], metadatas=[meta])
            self._bump()
            self._discard(article_id)
        self._committed()

    def _discard(self, article_id: str) -> None:
        try:
            self._chunks.delete(where={"article_id": article_id})
            self._articles.delete(ids=[article_id])
        except Exception:
            # Left pending; recover() finishes the job on a later open.
            pass

    def recover(self, stale_after: float = 600.0) -> list[str]:
        """Clean up articles a crashed writer left pending for longer than ``stale_after`` s."""
        if self._articles is None:
            return []
        got = self.read_all(self._articles, where={"status": PENDING}, include=["metadatas"])
        now = time.time()
        stale = [
            i
            for i, m in zip(got["ids"], got["metadatas"], strict=True)
            if now - float(m.get("written_at", 0.0)) >= stale_after
        ]
        if stale:
            with self._writing():
                for aid in stale:
                    self._discard(aid)
        return stale

    @_pinned
    def chunk_vectors(self, article_ids: Sequence[str]) -> tuple[list[str], np.ndarray] | None:
        """The chunk ids and vectors of these articles' chunks (complete articles only),
        read by id: Chroma's ``where`` on the article id scans the chunk metadata (34 ms a
        search at 100,000 chunks), a read by id takes under 1 ms. None when the chunks found
        are not the ones the article records name (then search with a filter instead)."""
        if self._articles is None or self._chunks is None:
            return [], np.zeros((0, 0), dtype=np.float32)
        got = self._articles.get(ids=list(dict.fromkeys(article_ids)), include=["metadatas"])
        ids = [
            f"{article_id}:{n}"
            for article_id, m in zip(got["ids"], got["metadatas"], strict=True)
            if m.get("status") == READY
            for n in range(int(m.get("chunks", 0)))
        ]
        if not ids:
            return [], np.zeros((0, 0), dtype=np.float32)
        rows = self._chunks.get(ids=ids, include=["embeddings"])
        if len(rows["ids"]) != len(ids):
            return None
        return list(rows["ids"]), np.asarray(rows["embeddings"], dtype=np.float32)

    @_pinned
    def ready_ids(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` whose article is complete."""
        wanted = list(dict.fromkeys(ids))
        if not wanted or self._articles is None:
            return set()
        got = self._articles.get(ids=wanted, include=["metadatas"])
        return {
            i for i, m in zip(got["ids"], got["metadatas"], strict=True) if m.get("status") == READY
        }
