"""NLTK's data (Punkt, stopwords) from the copy that ships inside llama-index-core, so nothing
is downloaded."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path

#: nltk's package imports are circular: two threads importing it at once fail on each other's
#: half-initialised modules (16 page conversations that started together did).
_NLTK_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _point_at_bundled_data() -> None:
    import nltk

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
