"""BM25 keyword search over the chunks of the library, kept in step with the store's
generation without a question ever waiting on a rebuild, and saved beside the store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.keyword_disk import SAVED_SUFFIX, build_base, load_base, save_base
from rag.keyword_parts import Base, KeywordHit, Snapshot, tokenize
from rag.store import REFRESH_EVERY, Store

__all__ = ["SAVED_SUFFIX", "KeywordHit", "KeywordIndex"]

#: Chunks added or removed since the base index was built, beyond which the base is built
#: afresh (in the background) instead of carrying a larger delta: a delta chunk is scored in
#: Python on each question, a base chunk inside bm25s. 2% of the library, at least 2,000.
DELTA_SHARE = 0.02
DELTA_MIN = 2_000
#: A saved base that lacks more than this share of the library's chunks is not caught up
#: with when a process opens the library: the index is built whole while the first question
#: waits. Catching up would tokenise most of the library anyway, and the base built in the
#: background after it took the CPU from the questions for a minute, which were meanwhile
#: scored against a delta of most of the library in Python (`rag bench` at 100,000 chunks,
#: grown from 10,000: the first 40 answers took 0.7 to 0.8 s instead of 0.15 s).
STALE_SHARE = 0.5


class KeywordIndex:
    """BM25 (bm25s) over every chunk of every complete article.

    No question waits on a build, and no commit rebuilds the whole index. A commit, in this
    process or another, is applied as a delta: the chunks of new articles are tokenised and
    scored beside the base index, removed articles are masked out of it; only once the delta
    passes ``DELTA_SHARE`` of the library is the base built afresh, in the background, while
    questions go on with the index they had. Each base is saved beside the store
    (``folder``); a process that opens the library loads the newest saved one, memory-mapped,
    and applies what was committed since as a delta, so only a library nobody saved an index
    of is built while the first question waits."""

    def __init__(self, store: Store, folder: Path | None = None) -> None:
        self.store = store
        self.folder = folder
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._snap: Snapshot | None = None
        self._background: threading.Thread | None = None
        store.on_commit(self._committed)

    # -- which index ----------------------------------------------------------------------

    def _current(self) -> Snapshot:
        # Another process's commit shows within REFRESH_EVERY, as it does for dense search.
        generation = self.store.generation(max_age=REFRESH_EVERY)
        snap = self._snap
        if snap is not None and snap.generation == generation:
            return snap
        if snap is None:
            with self._build_lock:
                if self._snap is None:
                    base = self._load()
                    if base is None or self._stale(base):
                        base = self._build()
                        self._snap = Snapshot(base.generation, base)
                    else:
                        self._snap = self._catch_up(Snapshot(base.generation, base))
                snap = self._snap
            self._rebase_if_drifted()
            return snap
        self._in_background(self._follow)
        return snap

    def _stale(self, base: Base) -> bool:
        """Whether a saved base misses so much of the library that building afresh is
        cheaper than catching up (``STALE_SHARE``)."""
        have = self.store.count_chunks()
        return have - len(base.chunk_ids) > STALE_SHARE * have

    def _committed(self, generation: str) -> None:
        """After this process's own commit, in the writing thread: apply it as a delta."""
        with self._build_lock:
            if self._snap is not None and self._snap.generation != generation:
                self._snap = self._catch_up(self._snap)
        self._rebase_if_drifted()

    def _follow(self) -> None:
        """Catch up with another process's commits (background thread)."""
        with self._build_lock:
            if self._snap is not None and self._snap.generation != self.store.generation():
                self._snap = self._catch_up(self._snap)
        self._rebase_if_drifted()

    def _catch_up(self, snap: Snapshot) -> Snapshot:
        """``snap`` brought to the library as it is now: new articles' chunks tokenised into
        the delta, removed articles masked out. Cost follows what changed, not the library."""
        generation = self.store.generation()
        ready = self.store.all_ready_ids()
        new = ready - snap.articles
        gone = snap.articles - ready
        delta = snap.delta.without(gone)
        if new:
            rows = self.store.chunks_of(sorted(new))
            delta = delta.plus(rows["ids"], rows["documents"], rows["metadatas"])
        removed = snap.removed | (gone & snap.base.articles)
        return Snapshot(generation, snap.base, delta, frozenset(removed))

    def _rebase_if_drifted(self) -> None:
        snap = self._snap
        if snap is not None and snap.drift > max(DELTA_MIN, DELTA_SHARE * snap.size):
            self._in_background(self._rebase)

    def _rebase(self) -> None:
        base = self._build()
        with self._build_lock:
            # Commits that landed during the build are applied on top of the new base.
            self._snap = self._catch_up(Snapshot(base.generation, base))

    def _in_background(self, work: Callable[[], None]) -> None:
        with self._lock:
            if self._background is not None and self._background.is_alive():
                return
            self._background = threading.Thread(target=work, name="keyword-index", daemon=True)
            self._background.start()

    def wait(self) -> None:
        """Until background work on the index is done (for tests and benchmarks)."""
        while True:
            thread = self._background
            if thread is None or not thread.is_alive():
                return
            thread.join()

    def _build(self) -> Base:
        """The base built whole from the store, and saved beside it."""
        base = build_base(self.store)
        if self.folder is not None:
            save_base(base, self.folder)
        return base

    def _load(self) -> Base | None:
        return None if self.folder is None else load_base(self.folder)

    # -- questions --------------------------------------------------------------------------

    @property
    def chunk_ids(self) -> list[str]:
        return self._current().chunk_ids

    @property
    def article_ids(self) -> list[str]:
        return self._current().article_ids

    def idf(self, words: list[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each word (from ``terms``) over the chunks."""
        return self._current().idf(words)

    def unknown(self, words: list[str]) -> set[str]:
        """The words (from ``terms``) that no chunk of the library contains."""
        snap = self._current()
        return {w for w in words if snap.df(w) == 0}

    def search(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[KeywordHit]:
        """The ``k`` best chunks for ``query`` among those that pass the filter ``where``."""
        snap = self._current()
        if k < 1:
            return []
        words = tokenize([query])[0]
        return snap.search(words, k, where) if words else []
