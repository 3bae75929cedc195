"""Whether a store reads its library as it is now: the generation every commit moves, and
opening the store afresh when another process committed since.

Chroma's embedded mode holds a library's vector index in memory and never reloads it. So a
reader whose library changed under it, in another process, opens the store afresh in a
background thread (its vector index loaded there, then swapped in), checked at most every
``REFRESH_EVERY`` seconds before a dense search; the system it replaces is stopped once no
read is in flight on it (``systems``)."""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from rag.config import Config
from rag.store import layout, systems
from rag.store.systems import LEDGER, Running, Tenant

log = logging.getLogger(__name__)

#: How often (seconds) a reader looks for changes another process committed: well inside the
#: 2 s in which every open library must see a new or removed article.
REFRESH_EVERY = 0.5

#: Guards _REOPENING: the threads opening a store afresh right now, which the interpreter's
#: exit waits for (added by a question's thread, removed by the reopening thread itself).
_REOPENING_LOCK = threading.Lock()
_REOPENING: set[threading.Thread] = set()


@atexit.register
def _quiet_exit() -> None:
    # Runs before the systems module's own hook (atexit runs last registered first): no new
    # reopening starts and none stops a system from here on, and those under way end first.
    systems.mark_exiting()
    with _REOPENING_LOCK:
        threads = list(_REOPENING)
    for thread in threads:
        thread.join(timeout=30)


def _start(thread: threading.Thread) -> bool:
    """Start a reopening thread, unless the interpreter is exiting."""
    with _REOPENING_LOCK:
        if systems.exiting():
            return False
        _REOPENING.add(thread)
        thread.start()
    return True


def _done() -> None:
    with _REOPENING_LOCK:
        _REOPENING.discard(threading.current_thread())


class Freshness:
    """Keeps one store's ``Tenant`` on the library as it is now, for an embedded library
    (``config``); a Chroma server, which every process shares, needs none of it."""

    def __init__(
        self,
        tenant: Tenant,
        name: str,
        config: Config | None,
        attach: Callable[[Any, Any, bool], Running],
    ) -> None:
        self._tenant = tenant
        self._name = name
        self._config = config
        #: What the tenant runs on with a client and its system: the library's collections on
        #: it (made if asked), the embedding model checked.
        self._attach = attach
        #: Guards _seen, _epoch and _reopening, and orders every move of the tenant with them.
        self._lock = threading.Lock()
        #: The generation of the library the tenant's index holds.
        self._seen: str | None = None
        #: Moves whenever this process opens the store afresh or writes: a store opened in the
        #: background before that is older, and is dropped rather than swapped in.
        self._epoch = 0
        self._reopening: threading.Thread | None = None
        #: Guards _checked (monotonic time of the last check), apart from _lock so that a
        #: question within REFRESH_EVERY of the last check never waits on a reopening.
        self._check_lock = threading.Lock()
        self._checked = 0.0
        #: Guards _known: the generation last read or written, and when (monotonic).
        self._known_lock = threading.Lock()
        self._known: tuple[str, float] = ("", float("-inf"))

    @property
    def seen(self) -> str | None:
        """The generation of the library the store reads now."""
        with self._lock:
            return self._seen

    def start(self) -> None:
        """Take the library as it is now as the one the store reads (once opened)."""
        generation = self.generation()
        with self._lock:
            self._seen = generation

    def attach(self, create: bool) -> None:
        """Find (with ``create``, make) the library's collections on the store's client."""
        with self._lock:
            running = self._tenant.running
            self._tenant.run_on(self._attach(running.client, running.system, create))

    def generation(self, max_age: float = 0.0) -> str:
        """A token that changes whenever an article is committed or removed, in any process.
        With ``max_age``, a value read at most that many seconds ago will do."""
        started = time.monotonic()
        with self._known_lock:
            known, known_at = self._known
        if max_age and started - known_at < max_age:
            return known
        with self._tenant.reading() as running:
            if running.articles is None:
                return ""
            fresh = running.client.get_collection(running.articles.name, embedding_function=None)
        generation = str((fresh.metadata or {}).get("generation", ""))
        with self._known_lock:
            # A read that began before the last bump (or a later read) must not undo it.
            if started >= self._known[1]:
                self._known = (generation, started)
        return generation

    def bump(self) -> None:
        """Move the generation after this process's own commit or removal: its index has it
        already, so there is nothing to open afresh."""
        generation = uuid.uuid4().hex
        # Under _lock: a check in between would take the new generation for another's.
        with self._lock:
            self._tenant.running.articles.modify(metadata={"generation": generation})
            self._seen = generation
            self._epoch += 1
        with self._known_lock:
            self._known = (generation, time.monotonic())

    def refresh(self, force: bool = False, background: bool = False) -> bool:
        """Catch up with what another process committed; True when the store was opened
        afresh here. With ``background``, the store is opened afresh in a thread and swapped
        in when ready: the caller (a question) goes on with the store as it was."""
        if self._config is None or not self._due(force):
            return False
        with self._lock:
            running = self._tenant.running
            generation = self.generation() if running.articles is not None else None
            if generation is not None and generation == self._seen:
                return False
            if generation is None and not layout.created_elsewhere(running.client, self._name):
                return False
            if background and generation is not None:
                self._reopen_in_background()
                return False
            self._open_afresh()
            return True

    def open_afresh(self) -> None:
        """Open the store afresh now, in this thread."""
        with self._lock:
            self._open_afresh()

    def _due(self, force: bool) -> bool:
        """Whether to look for changes now: forced, or none looked for REFRESH_EVERY."""
        now = time.monotonic()
        with self._check_lock:
            if not force and now - self._checked < REFRESH_EVERY:
                return False
            self._checked = now
            return True

    def _retry_soon(self) -> None:
        with self._check_lock:
            self._checked = 0.0  # the next question's check tries again

    def _open_afresh(self) -> None:
        """Open the store afresh in this thread (_lock held)."""
        assert self._config is not None
        # Reads in flight on the old system keep it up until they are done.
        client, system = systems.fresh_client(self._config)
        try:
            running = self._attach(client, system, False)
        except Exception:
            LEDGER.discard(system)
            raise
        self._tenant.run_on(running)
        self._seen = self.generation()
        self._epoch += 1

    def _reopen_in_background(self) -> None:
        if self._reopening is not None and self._reopening.is_alive():
            return
        thread = threading.Thread(
            target=self._reopen_and_swap, args=(self._epoch,), name="store-reopen", daemon=True
        )
        if _start(thread):
            self._reopening = thread

    def _reopen_and_swap(self, epoch: int) -> None:
        try:
            opened = self._reopen()
            if opened is not None:
                self._swap(epoch, *opened)
        finally:
            _done()

    def _reopen(self) -> tuple[Running, str] | None:
        """The library opened afresh, its vector index loaded, and the generation it holds at
        least; None (logged) when it could not be opened."""
        assert self._config is not None
        system = None
        try:
            # Read before opening: a commit that lands meanwhile moves it again, and the next
            # check opens afresh once more.
            generation = self.generation()
            client, system = systems.fresh_client(self._config)
            chunks, articles = layout.collections(client, self._name)
            _load_index(chunks)
        except Exception as exc:
            LEDGER.discard(system)  # stopped: it serves nothing
            log.warning("could not open the library afresh in the background: %s", exc)
            self._retry_soon()
            return None
        return Running(client, chunks, articles, system), generation

    def _swap(self, epoch: int, running: Running, generation: str) -> None:
        with self._lock:
            if epoch != self._epoch:
                LEDGER.discard(running.system)  # this process opened afresh or wrote meanwhile
                return
            self._tenant.run_on(running)
            self._seen = generation
            self._epoch += 1


def _load_index(chunks: Any) -> None:
    """Load the vector index here (0.4 s at 100,000 chunks) rather than in a question."""
    sample = chunks.get(limit=1, include=["embeddings"])
    if sample["ids"]:
        chunks.query(query_embeddings=sample["embeddings"], n_results=1, include=[])
