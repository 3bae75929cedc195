"""The words that carry meaning in a text, for keyword search and sentence matching: lowercased,
English stopwords dropped, Porter-stemmed (so "supported" matches "support")."""

from __future__ import annotations

import functools
import re

_WORD = re.compile(r"\w\w+|\d")


@functools.lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from rag.nltk_data import bundled_nltk

    with bundled_nltk():
        from nltk.corpus import stopwords

        words = stopwords.words("english")
    # Question words NLTK's list lacks; they never tell one passage from another.
    extra = {
        "much", "many", "would", "could", "might", "may", "shall", "must", "also", "ever",
        "whose", "else", "something", "anything", "someone", "anyone", "kind", "type", "thing",
    }  # fmt: skip
    return frozenset(words) | extra


@functools.lru_cache(maxsize=1)
def _stemmer() -> functools._lru_cache_wrapper[str]:
    from rag.nltk_data import bundled_nltk

    with bundled_nltk():
        from nltk.stem import PorterStemmer

    # The vocabulary is small next to the running text, so caching the stems saves most of
    # the stemmer's time on a large library.
    return functools.lru_cache(maxsize=200_000)(PorterStemmer().stem)


def terms(text: str) -> list[str]:
    """Stemmed content words of ``text``, in order, repeats kept."""
    stop = _stopwords()
    stem = _stemmer()
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in stop]


def is_stopword(word: str) -> bool:
    """Whether a lowercase word is one that carries no meaning of its own."""
    return word in _stopwords()
