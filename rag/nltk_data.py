"""NLTK's data (Punkt, stopwords) from the copy that ships inside llama-index-core, so nothing
is downloaded."""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: nltk's package imports are circular: two threads importing it at once fail on each other's
#: half-initialised modules (16 page conversations that started together did).
_NLTK_LOCK = threading.Lock()


#: Packages nltk's ``__init__`` imports for features this product never uses (collocation
#: tests, a scikit-learn classifier wrapper): 1.2 s of the 1.5 s that ``import nltk`` took,
#: which a freshly started process paid on its first question (`rag bench --live`, restart).
#: nltk imports them optionally and carries on without them.
UNUSED_BY_NLTK_HERE = ("scipy", "sklearn")


class _SkipUnused(importlib.abc.MetaPathFinder):
    """Refuses ``UNUSED_BY_NLTK_HERE`` to the one thread importing nltk, only while it does;
    modules already imported, and every other thread, are not affected."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if threading.get_ident() == self.thread and name.partition(".")[0] in UNUSED_BY_NLTK_HERE:
            raise ModuleNotFoundError(f"{name} is not needed by nltk here", name=name)
        return None


def _import_nltk() -> Any:
    skip = _SkipUnused()
    sys.meta_path.insert(0, skip)
    try:
        import nltk
    finally:
        sys.meta_path.remove(skip)
    return nltk


@functools.lru_cache(maxsize=1)
def _point_at_bundled_data() -> None:
    nltk = _import_nltk()

    # Located without importing llama_index, which takes seconds.
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llama-index-core, which ships NLTK's Punkt and stopwords, is missing")
    cache = Path(next(iter(spec.submodule_search_locations))) / "_static" / "nltk_cache"
    if str(cache) not in nltk.data.path:
        nltk.data.path.append(str(cache))


@contextlib.contextmanager
def bundled_nltk() -> Iterator[None]:
    """Hold while importing from nltk or loading its data: one thread at a time, with nltk
    pointed at the bundled data."""
    with _NLTK_LOCK:
        _point_at_bundled_data()
        yield
