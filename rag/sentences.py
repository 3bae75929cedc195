"""Sentence boundaries with character offsets, from NLTK's Punkt model (the copy that ships
inside llama-index-core, so nothing is downloaded), with its splits after titles and initials
mended."""

from __future__ import annotations

import functools
import re
from typing import Any

from rag.nltk_data import bundled_nltk
from rag.terms import is_stopword

_LINE = re.compile(r"[^\n]+")
#: Titles and "No." never end a sentence; Punkt splits after them when a capital or a number
#: follows ("A floral wreath framed a No. | 9 jersey.": 9 such splits in coqa-cnn-dev).
_TITLE = re.compile(
    r"^\W*(?:No|Nos|Gov|Mr|Mrs|Ms|Dr|Sen|Rep|Gen|Lt|Col|Sgt|Capt|Cmdr|Adm|Prof|Rev|Supt|Det)\.$"
)
#: Initials and a.m./p.m. end a sentence only when a sentence-opening word follows:
#: "O.J. | Simpson", "7:30 p.m. | ET Saturday" are one sentence, "... in the U.S. | The ..." two.
_INITIALS = re.compile(r"(?:[A-Za-z]\.){2,}$")
_FIRST_WORD = re.compile(r"[^\W\d_]+|\d")


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
            if lead == len(piece):
                continue
            start, end = base + a + lead, base + b - trail
            if (
                spans
                and text[spans[-1][1] : start].strip() == ""
                and _runs_on(text[spans[-1][0] : spans[-1][1]], text[start:end])
            ):
                start = spans.pop()[0]
            spans.append((start, end))
    return spans


def _runs_on(before: str, after: str) -> bool:
    """Whether Punkt's split between ``before`` and ``after`` falls inside one sentence."""
    first = _FIRST_WORD.search(after)
    if first is None:
        return False
    word = first.group()
    if word[0].islower():
        return True  # '"Come in!" in French', "etc.) minorities": no sentence opens lowercase
    last = before.split()[-1]
    if _TITLE.search(last):
        return True
    return bool(_INITIALS.search(last)) and not is_stopword(word.lower())
