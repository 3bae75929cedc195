"""The keyword index's base: built whole from the store, saved beside it (whole or not at all)
and loaded back memory-mapped, so that a process opening the library need not build it."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from rag.keyword_parts import Base, tokenize
from rag.keyword_where import FILTER_FIELDS, filter_meta
from rag.store import Store

#: Ends the folder name of a saved index, naming its layout: one saved in another layout (by
#: an earlier version) is not read, and is replaced by the next save.
SAVED_SUFFIX = ".v2"


def build_base(store: Store) -> Base:
    """A bm25s index over every chunk of every complete article."""
    import bm25s

    # The generation read before the chunks: if it moves while they are read, catching up
    # applies the difference.
    generation = store.generation()
    chunks = store.chunks
    ready = store.all_ready_ids() if chunks is not None else set()
    ids: list[str] = []
    texts: list[str] = []
    metas: list[dict[str, Any]] = []
    if chunks is not None and ready:
        got = store.all_chunks(["documents", "metadatas"])
        for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            if meta.get("article_id") in ready:
                ids.append(cid)
                texts.append(doc)
                metas.append(filter_meta(meta))
    bm25 = None
    df: Counter[str] = Counter()
    avgdl = 1.0
    if texts:
        tokens = tokenize(texts)
        for words in tokens:
            df.update(set(words))
        avgdl = max(1.0, sum(len(w) for w in tokens) / len(tokens))
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
    fields = {f: [m.get(f) for m in metas] for f in FILTER_FIELDS if f != "article_id"}
    return Base(generation, bm25, ids, [m["article_id"] for m in metas], fields, df, avgdl)


def save_base(base: Base, folder: Path) -> None:
    """Write the base index into ``folder``, whole or not at all (a temp folder renamed), then
    drop older ones."""
    if not base.generation:
        return
    final = folder / f"{base.generation}{SAVED_SUFFIX}"
    if final.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=folder))
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
    for old in folder.iterdir():
        if old.name != final.name and not old.name.startswith(".building-"):
            shutil.rmtree(old, ignore_errors=True)


def load_base(folder: Path) -> Base | None:
    """The newest base saved in ``folder``, memory-mapped; None when there is none."""
    if not folder.is_dir():
        return None
    # Indexes saved in another layout (another suffix) are never read, only replaced.
    saved = [d for d in folder.iterdir() if d.name.endswith(SAVED_SUFFIX)]
    for where in sorted(saved, key=lambda d: d.stat().st_mtime, reverse=True):
        try:
            rows = json.loads((where / "rows.json").read_text("utf-8"))
            bm25 = None
            if (where / "bm25").is_dir():
                import bm25s

                bm25 = bm25s.BM25.load(str(where / "bm25"), mmap=True)
            ids = rows["chunk_ids"].split("\n") if rows["chunk_ids"] else []
            articles = rows["article_ids"].split("\n") if rows["article_ids"] else []
            return Base(
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
