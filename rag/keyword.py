"""BM25 keyword search over the chunks of the library, kept in step with the store's
generation without a question ever waiting on a rebuild, and saved beside the store."""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.store import REFRESH_EVERY, Store
from rag.terms import terms


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    article_id: str
    score: float


def _tokenize(texts: list[str]) -> list[list[str]]:
    return [terms(t) for t in texts]


#: Chunk metadata the keyword index keeps, for the filters retrieval passes it.
FILTER_FIELDS = ("article_id", "source", "published_day")
#: Ends the folder name of a saved index, naming its layout: one saved in another layout (by
#: an earlier version) is not read, and is replaced by the next save.
SAVED_SUFFIX = ".v2"
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


def _filter_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: meta[k] for k in FILTER_FIELDS if meta.get(k) is not None}


def _matches(meta: dict[str, Any], where: dict[str, Any]) -> bool:
    """Whether one chunk's metadata passes ``where`` (as ``KeywordIndex._mask`` does)."""
    if "$and" in where:
        return all(_matches(meta, w) for w in where["$and"])
    ((name, cond),) = where.items()
    ((op, arg),) = cond.items() if isinstance(cond, dict) else (("$eq", cond),)
    value = meta.get(name)
    if op in ("$gte", "$lte"):
        return value is not None and (value >= arg if op == "$gte" else value <= arg)
    if op == "$in":
        return value in arg
    if op == "$eq":
        return bool(value == arg)
    raise ValueError(f"unsupported filter operator {op}")


@dataclass
class _Base:
    """A bm25s index over the chunks of the library as it was at one commit: built whole (in
    the background once a library is open), saved beside the store, loaded memory-mapped."""

    generation: str
    bm25: Any
    chunk_ids: list[str]
    article_ids: list[str]
    #: The filterable fields other than the article id, one value per chunk (None: missing).
    fields: dict[str, list[Any]]
    df: Counter[str]
    #: Mean chunk length in terms, for scoring the delta as bm25s scores the base.
    avgdl: float
    columns: dict[tuple[str, bool], tuple[np.ndarray, dict[Any, int]]] = field(default_factory=dict)

    @functools.cached_property
    def articles(self) -> frozenset[str]:
        return frozenset(self.article_ids)

    @functools.cached_property
    def codes(self) -> tuple[np.ndarray, dict[str, int]]:
        """Each chunk's article as a number, and the article -> number table."""
        table: dict[str, int] = {}
        column = np.fromiter(
            (table.setdefault(a, len(table)) for a in self.article_ids),
            np.int64,
            len(self.article_ids),
        )
        return column, table


@dataclass(frozen=True)
class _Delta:
    """Chunks committed since the base was built, scored with BM25 beside it."""

    chunk_ids: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    metas: tuple[dict[str, Any], ...] = ()
    counts: tuple[Counter[str], ...] = ()
    #: Terms in each chunk (BM25's document length).
    lengths: tuple[int, ...] = ()
    df: Counter[str] = field(default_factory=Counter)

    def plus(self, ids: list[str], texts: list[str], metas: list[dict[str, Any]]) -> _Delta:
        counts = [Counter(words) for words in _tokenize(texts)]
        df = Counter(self.df)
        for c in counts:
            df.update(c.keys())
        return _Delta(
            self.chunk_ids + tuple(ids),
            self.article_ids + tuple(m["article_id"] for m in metas),
            self.metas + tuple(_filter_meta(m) for m in metas),
            self.counts + tuple(counts),
            lengths=self.lengths + tuple(sum(c.values()) for c in counts),
            df=df,
        )

    def without(self, gone: Collection[str]) -> _Delta:
        if not set(gone).intersection(self.article_ids):
            return self
        keep = [i for i, a in enumerate(self.article_ids) if a not in gone]
        counts = tuple(self.counts[i] for i in keep)
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        return _Delta(
            tuple(self.chunk_ids[i] for i in keep),
            tuple(self.article_ids[i] for i in keep),
            tuple(self.metas[i] for i in keep),
            counts,
            lengths=tuple(self.lengths[i] for i in keep),
            df=df,
        )


@dataclass(frozen=True)
class _Snapshot:
    """The keyword index of one generation of the library: a base index, the chunks added
    since, and the base's articles removed since. Replaced whole, never changed in place."""

    generation: str
    base: _Base
    delta: _Delta = field(default_factory=_Delta)
    removed: frozenset[str] = frozenset()

    @functools.cached_property
    def removed_mask(self) -> np.ndarray | None:
        """True for each base chunk whose article is gone."""
        if not self.removed:
            return None
        column, table = self.base.codes
        return np.isin(column, [table[a] for a in self.removed if a in table])

    @functools.cached_property
    def chunk_ids(self) -> list[str]:
        ids = self.base.chunk_ids
        if self.removed:
            ids = [
                c for c, a in zip(ids, self.base.article_ids, strict=True) if a not in self.removed
            ]
        return [*ids, *self.delta.chunk_ids]

    @functools.cached_property
    def article_ids(self) -> list[str]:
        ids = self.base.article_ids
        if self.removed:
            ids = [a for a in ids if a not in self.removed]
        return [*ids, *self.delta.article_ids]

    @functools.cached_property
    def articles(self) -> frozenset[str]:
        return (self.base.articles - self.removed) | frozenset(self.delta.article_ids)

    def df(self, word: str) -> int:
        # Removed base chunks still count: a word only they held stays "known" until the
        # next base build, which changes nothing a question sees.
        return self.base.df[word] + self.delta.df[word]

    @property
    def size(self) -> int:
        return len(self.chunk_ids)

    @property
    def drift(self) -> int:
        """Chunks the base no longer describes: added since, or removed since."""
        added = len(self.delta.chunk_ids)
        removed = len(self.base.chunk_ids) - (self.size - added)
        return added + removed


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
        self._snap: _Snapshot | None = None
        self._background: threading.Thread | None = None
        store.on_commit(self._committed)

    # -- which index ----------------------------------------------------------------------

    def _current(self) -> _Snapshot:
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
                        self._snap = _Snapshot(base.generation, base)
                    else:
                        self._snap = self._catch_up(_Snapshot(base.generation, base))
                snap = self._snap
            self._rebase_if_drifted()
            return snap
        self._in_background(self._follow)
        return snap

    def _stale(self, base: _Base) -> bool:
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

    def _catch_up(self, snap: _Snapshot) -> _Snapshot:
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
        return _Snapshot(generation, snap.base, delta, frozenset(removed))

    def _rebase_if_drifted(self) -> None:
        snap = self._snap
        if snap is not None and snap.drift > max(DELTA_MIN, DELTA_SHARE * snap.size):
            self._in_background(self._rebase)

    def _rebase(self) -> None:
        base = self._build()
        with self._build_lock:
            # Commits that landed during the build are applied on top of the new base.
            self._snap = self._catch_up(_Snapshot(base.generation, base))

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

    # -- building, saving, loading --------------------------------------------------------

    def _build(self) -> _Base:
        import bm25s

        # The generation read before the chunks: if it moves while they are read, catching up
        # applies the difference.
        generation = self.store.generation()
        chunks = self.store.chunks
        ready = self.store.all_ready_ids() if chunks is not None else set()
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        if chunks is not None and ready:
            got = self.store.all_chunks(["documents", "metadatas"])
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                if meta.get("article_id") in ready:
                    ids.append(cid)
                    texts.append(doc)
                    metas.append(_filter_meta(meta))
        bm25 = None
        df: Counter[str] = Counter()
        avgdl = 1.0
        if texts:
            tokens = _tokenize(texts)
            for words in tokens:
                df.update(set(words))
            avgdl = max(1.0, sum(len(w) for w in tokens) / len(tokens))
            bm25 = bm25s.BM25()
            bm25.index(tokens, show_progress=False)
        fields = {f: [m.get(f) for m in metas] for f in FILTER_FIELDS if f != "article_id"}
        base = _Base(generation, bm25, ids, [m["article_id"] for m in metas], fields, df, avgdl)
        self._save(base)
        return base

    def _save(self, base: _Base) -> None:
        """Write the base index beside the store, whole or not at all (a temp folder renamed),
        then drop older ones."""
        if self.folder is None or not base.generation:
            return
        final = self.folder / f"{base.generation}{SAVED_SUFFIX}"
        if final.exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=self.folder))
        try:
            if base.bm25 is not None:
                base.bm25.save(str(tmp / "bm25"))
            # Columns, ids joined into one string: a list of 100,000 dicts took 0.25 s to read
            # back, a fresh process's first question waiting on it (`rag bench --live`).
            rows = {
                "chunk_ids": "\n".join(base.chunk_ids),
                "article_ids": "\n".join(base.article_ids),
                "fields": base.fields,
                "df": dict(base.df),
                "avgdl": base.avgdl,
            }
            (tmp / "rows.json").write_text(json.dumps(rows), "utf-8")
            os.replace(tmp, final)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            return
        for old in self.folder.iterdir():
            if old.name != final.name and not old.name.startswith(".building-"):
                shutil.rmtree(old, ignore_errors=True)

    def _load(self) -> _Base | None:
        """The newest base saved beside the store, memory-mapped; None when there is none."""
        if self.folder is None or not self.folder.is_dir():
            return None
        # Indexes saved in another layout (another suffix) are never read, only replaced.
        saved = [d for d in self.folder.iterdir() if d.name.endswith(SAVED_SUFFIX)]
        for where in sorted(saved, key=lambda d: d.stat().st_mtime, reverse=True):
            try:
                rows = json.loads((where / "rows.json").read_text("utf-8"))
                bm25 = None
                if (where / "bm25").is_dir():
                    import bm25s

                    bm25 = bm25s.BM25.load(str(where / "bm25"), mmap=True)
                ids = rows["chunk_ids"].split("\n") if rows["chunk_ids"] else []
                articles = rows["article_ids"].split("\n") if rows["article_ids"] else []
                return _Base(
                    where.name.removesuffix(SAVED_SUFFIX),
                    bm25,
                    ids,
                    articles,
                    rows["fields"],
                    Counter(rows["df"]),
                    float(rows["avgdl"]),
                )
            except (OSError, ValueError, KeyError):
                continue
        return None

    # -- questions --------------------------------------------------------------------------

    @property
    def chunk_ids(self) -> list[str]:
        return self._current().chunk_ids

    @property
    def article_ids(self) -> list[str]:
        return self._current().article_ids

    def idf(self, words: list[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each word (from ``terms``) over the chunks."""
        snap = self._current()
        return self._idf_of(snap, words)

    @staticmethod
    def _column(base: _Base, field: str, numeric: bool) -> tuple[np.ndarray, dict[Any, int]]:
        """One metadata field of every base chunk as an array: numbers (NaN where missing),
        or codes with the value -> code table, so that a filter is a vector operation."""
        key = (field, numeric)
        if key not in base.columns:
            if field == "article_id":
                values: list[Any] = base.article_ids
            else:
                values = base.fields.get(field) or [None] * len(base.chunk_ids)
            codes: dict[Any, int] = {}
            if numeric:
                column = np.array(
                    [np.nan if v is None else float(v) for v in values], dtype=np.float64
                )
            else:
                column = np.fromiter(
                    (codes.setdefault(v, len(codes)) for v in values), np.int64, len(values)
                )
            base.columns[key] = (column, codes)
        return base.columns[key]

    def _mask(self, base: _Base, where: dict[str, Any]) -> np.ndarray:
        """Which base chunks pass ``where`` (the subset of Chroma's language the retriever
        builds). Vectorised: a Python test per chunk cost 145 ms a search at 100,000 chunks."""
        if "$and" in where:
            return np.logical_and.reduce([self._mask(base, w) for w in where["$and"]])
        ((name, cond),) = where.items()
        ((op, arg),) = cond.items() if isinstance(cond, dict) else (("$eq", cond),)
        if op in ("$gte", "$lte"):
            numbers, _ = self._column(base, name, numeric=True)
            with np.errstate(invalid="ignore"):
                return numbers >= arg if op == "$gte" else numbers <= arg
        column, codes = self._column(base, name, numeric=False)
        if op == "$in":
            return np.isin(column, [codes[v] for v in arg if v in codes])
        if op == "$eq":
            return column == codes.get(arg, -1)
        raise ValueError(f"unsupported filter operator {op}")

    def unknown(self, words: list[str]) -> set[str]:
        """The words (from ``terms``) that no chunk of the library contains."""
        snap = self._current()
        return {w for w in words if snap.df(w) == 0}

    def search(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[KeywordHit]:
        """The ``k`` best chunks for ``query`` among those that pass the filter ``where``."""
        snap = self._current()
        if k < 1:
            return []
        tokens = _tokenize([query])
        if not tokens[0]:
            return []
        hits = self._search_base(snap, tokens, k, where) + self._search_delta(
            snap, tokens[0], where
        )
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def _search_base(
        self, snap: _Snapshot, tokens: list[list[str]], k: int, where: dict[str, Any] | None
    ) -> list[KeywordHit]:
        """BM25 over the base chunks, each query term's scores reweighted from the base's idf
        to the library's as it is now (bm25s keeps idf x tf per term), so that base and delta
        chunks score on one scale, as a whole build would score them."""
        base = snap.base
        if base.bm25 is None:
            return []
        with self._lock:  # the column cache fills on first use
            allowed = self._mask(base, where) if where else None
        if snap.removed_mask is not None:
            gone = ~snap.removed_mask
            allowed = gone if allowed is None else allowed & gone
        now = self._idf_of(snap, tokens[0])
        n_base = len(base.chunk_ids)
        scores = np.zeros(n_base, dtype=np.float32)
        for word, times in Counter(tokens[0]).items():
            if word not in base.bm25.vocab_dict:
                continue
            then = math.log(1 + (n_base - base.df[word] + 0.5) / (base.df[word] + 0.5))
            scores += base.bm25.get_scores([word]) * np.float32(times * now[word] / then)
        if allowed is not None:
            scores[~allowed] = 0.0
        n = min(k, n_base)
        top = np.argpartition(-scores, n - 1)[:n]
        return [
            KeywordHit(base.chunk_ids[int(d)], base.article_ids[int(d)], float(scores[d]))
            for d in top
            if scores[d] > 0
        ]

    def _search_delta(
        self, snap: _Snapshot, words: list[str], where: dict[str, Any] | None
    ) -> list[KeywordHit]:
        """BM25 over the chunks added since the base, scored as bm25s scores the base
        (its "lucene" variant: idf log(1 + (N - df + .5)/(df + .5)), tf / (tf + k1 (1 - b +
        b dl/avgdl)), with the base's k1, b and mean chunk length)."""
        delta = snap.delta
        if not delta.chunk_ids:
            return []
        k1 = float(getattr(snap.base.bm25, "k1", 1.5))
        b = float(getattr(snap.base.bm25, "b", 0.75))
        idf = self._idf_of(snap, words)
        hits = []
        for i, counts in enumerate(delta.counts):
            if not any(w in counts for w in idf) or (where and not _matches(delta.metas[i], where)):
                continue
            norm = k1 * (1 - b + b * delta.lengths[i] / snap.base.avgdl)
            score = sum(idf[w] * counts[w] / (counts[w] + norm) for w in words if w in counts)
            if score > 0:
                hits.append(KeywordHit(delta.chunk_ids[i], delta.article_ids[i], score))
        return hits

    @staticmethod
    def _idf_of(snap: _Snapshot, words: list[str]) -> dict[str, float]:
        n = snap.size
        return {w: math.log(1 + (n - snap.df(w) + 0.5) / (snap.df(w) + 0.5)) for w in set(words)}
