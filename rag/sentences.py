"""Sentence boundaries with character offsets, from NLTK's Punkt model (the copy that ships
inside llama-index-core, so nothing is downloaded)."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_LINE = re.compile(r"[^\n]+")
#: nltk's package imports are circular: two threads importing it at once fail on each other's
#: half-initialised modules (16 page conversations that started together did).
_NLTK_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _point_at_bundled_data() -> None:
    """Point NLTK at the data that ships inside llama-index-core (Punkt, stopwords)."""
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


@functools.lru_cache(maxsize=1)
def _punkt() -> Any:
    with bundled_nltk():
        from nltk.tokenize.punkt import PunktTokenizer

        return PunktTokenizer("english")


def load_sentence_splitter() -> None:
    """Load Punkt now (importing nltk takes about 3 s) rather than on the first sentence."""
    _punkt()


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every sentence; lines (headlines, captions) are never joined."""
    punkt = _punkt()
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        body = line.group()
        if not body.strip():
            continue
        base = line.start()
        for a, b in punkt.span_tokenize(body):
            piece = body[a:b]
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            if lead < len(piece):
                spans.append((base + a + lead, base + b - trail))
    return spans
