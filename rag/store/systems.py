"""Chroma clients and the systems they run on, from opening to stopping. The only module that
touches Chroma's private parts; each use says why, checked against chromadb 1.5.9.

An embedded client runs on a Chroma *system*, which holds the library's vector index in memory
and never reloads it. Chroma caches one system per folder and frees its index only when the
system is stopped; a store that opens its library afresh (``freshness``) gets a system of its
own here, and the one it leaves is stopped once no store runs on it and no read is in flight on
it. Without that, each reopening kept one more copy of the index (about 200 MB at 100,000
chunks; ``rag bench --live``)."""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from rag.config import Config
from rag.store.base import StoreError
from rag.store.turns import writers_turn


def chroma_settings() -> Any:
    """The settings every client gets: no telemetry, no reset."""
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
                settings=chroma_settings(),
            )
        config.home.mkdir(parents=True, exist_ok=True)
        folder = config.home / "chroma"
        # Opening a folder the first time creates its tables: two processes doing it at once
        # fail ("table collections already exists"), so a first opening takes a writer's turn.
        with writers_turn(config.home) if not folder.exists() else contextlib.nullcontext():
            return chromadb.PersistentClient(path=str(folder), settings=chroma_settings())
    except Exception as exc:
        where = config.chroma_url or str(config.home)
        raise StoreError(f"cannot open the Chroma store at {where}: {exc}") from exc


def fresh_client(config: Config) -> tuple[Any, Any]:
    """A client of the embedded library on a Chroma system of its own, which reads the library
    as it is now, and that system. Chroma caches one system per folder, with its vector index
    loaded once: the cache is dropped before, so that the system is new, and after, so that no
    other client shares it."""
    # Private (chromadb 1.5.9): no public way to get a second system for one folder, or to
    # keep a system out of the cache that every client of that folder would share.
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    try:
        client = open_client(config)
        # Read while it is in the cache: the client finds its system there.
        system = system_of(client)
    finally:
        SharedSystemClient.clear_system_cache()
    LEDGER.made(system)
    return client, system


def system_of(client: Any) -> Any:
    """The Chroma system an embedded client runs on (as registered right now), or None."""
    try:
        # Private (chromadb 1.5.9): a property that looks the client's system up in Chroma's
        # cache; stopping the system is the only way to free its vector index.
        return client._system
    except (AttributeError, KeyError):
        return None


#: Set when the interpreter exits: Chroma's native code must not be torn down or started from
#: a thread while Python finalises (a process crashed on exit when it was).
_EXITING = threading.Event()


@atexit.register
def mark_exiting() -> None:
    """From now on no system is stopped, and no store is opened afresh in the background."""
    _EXITING.set()


def exiting() -> bool:
    """Whether the interpreter is exiting (``mark_exiting``)."""
    return _EXITING.is_set()


class _Ledger:
    """Per Chroma system (by id): the stores running on it (one process may open a library
    more than once; they share the system until one of them opens the library afresh), the
    reads in flight on it, and whether this module made it. A system no store runs on any more
    is stopped when its last read ends, if this module made it: a system from Chroma's cache
    may serve a client of the user's own in this process (a script that opens the library with
    ``chromadb.PersistentClient`` for LlamaIndex), and stopping it would break theirs."""

    def __init__(self) -> None:
        #: Guards _owners, _reading and _made.
        self._lock = threading.Lock()
        self._owners: dict[int, int] = {}
        self._reading: dict[int, int] = {}
        self._made: set[int] = set()

    def made(self, system: Any) -> None:
        """``system`` is this module's own (``fresh_client``): it may be stopped."""
        if system is not None:
            with self._lock:
                self._made.add(id(system))

    def own(self, system: Any) -> None:
        """One more store runs on ``system``."""
        if system is not None:
            with self._lock:
                self._owners[id(system)] = self._owners.get(id(system), 0) + 1

    def disown(self, system: Any) -> None:
        """One store fewer runs on ``system``: stopped if it was the last and none reads."""
        if system is None:
            return
        with self._lock:
            key = id(system)
            self._owners[key] = self._owners.get(key, 1) - 1
            idle = self._forget_if_idle(key)
        if idle:
            self._stop(system)

    def pin(self, system: Any) -> bool:
        """Count a read on ``system`` unless it is idle already (stopped, or about to be)."""
        if system is None:
            return True
        with self._lock:
            key = id(system)
            if self._owners.get(key, 0) <= 0 and not self._reading.get(key):
                return False
            self._reading[key] = self._reading.get(key, 0) + 1
            return True

    def unpin(self, system: Any) -> None:
        """A read on ``system`` ended: stopped if it was the last and no store runs on it."""
        if system is None:
            return
        with self._lock:
            key = id(system)
            self._reading[key] -= 1
            idle = self._forget_if_idle(key)
        if idle:
            self._stop(system)

    def discard(self, system: Any) -> None:
        """Stop a system that never served anything (a reopening that failed or came late)."""
        if system is not None:
            self.own(system)
            self.disown(system)

    def _forget_if_idle(self, key: int) -> bool:
        """Drop the counts of a system nothing runs or reads on (lock held); True if idle."""
        if self._reading.get(key, 1) <= 0:
            del self._reading[key]
        if self._owners.get(key, 0) > 0 or self._reading.get(key):
            return False
        self._owners.pop(key, None)
        return True

    def _stop(self, system: Any) -> None:
        if exiting():
            return
        with self._lock:
            if id(system) not in self._made:
                return  # it may serve another client in this process
            self._made.discard(id(system))
        with contextlib.suppress(Exception):
            system.stop()


LEDGER = _Ledger()


@dataclass(frozen=True)
class Running:
    """What a store runs on, replaced as one: its client, the library's two collections on it
    (None while the library does not exist), and the client's embedded Chroma system (None
    on a Chroma server)."""

    client: Any
    chunks: Any = None
    articles: Any = None
    system: Any = None


class Tenant:
    """Runs on one ``Running`` at a time and owns its system: moving to another gives up the
    system before, which is stopped once nothing runs or reads on it."""

    def __init__(self, running: Running) -> None:
        #: Guards _running: owning the new system and replacing it are one step, so each
        #: system is given up once. Readers take _running without it, as one reference.
        self._swap_lock = threading.Lock()
        LEDGER.own(running.system)
        self._running = running

    @property
    def running(self) -> Running:
        """What this runs on now."""
        return self._running

    @property
    def _system(self) -> Any:
        """The Chroma system this runs on now (the tests check that a reopening stops it)."""
        return self._running.system

    def run_on(self, running: Running) -> None:
        """From now on run on ``running``; the system before is stopped once idle."""
        with self._swap_lock:
            # Owned before any read can find it: a read that ends must not stop it.
            LEDGER.own(running.system)
            old, self._running = self._running, running
        LEDGER.disown(old.system)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Running]:
        """Hold while reading through what this runs on (``chunks`` included): its system is
        not stopped meanwhile, even if this moves to another."""
        running = self._running
        # A move between taking it and pinning it may have stopped it: take the new one.
        while not LEDGER.pin(running.system):
            running = self._running
        try:
            yield running
        finally:
            LEDGER.unpin(running.system)
