"""The short answer inside the cited sentences: the candidate spans of ``rag.spans`` are
scored by fitted weights, and the answer is the span with the highest expected CoQA F1 under
them (minimum Bayes risk over the best ``CONSIDERED``).

The weights are fitted by ``python -m eval.fit_reader`` (a conditional logit over each turn's
candidates, the gold ones those whose CoQA F1 is best), cross-validated by conversation; they
are kept in ``rag/reader_weights.json`` with those of ``rag.yesno`` and ``rag.answerable``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag import span_model
from rag.span_model import Reading
from rag.spans import FEATURES as SPAN_FEATURES
from rag.spans import asked_terms, span_features

WEIGHTS = Path(__file__).with_name("reader_weights.json")
#: The sentences the reading model reads (it was fitted on the first two cited).
READ_SENTENCES = 2
#: The log-probability a span gets from the reading model when the model did not see it
#: (a third sentence, or words cut off); spans it did see rarely fall this low.
UNREAD = -30.0
FEATURES = (
    *SPAN_FEATURES,
    "model_span",  # the reading model's log-probability that this is the answer's span
    "model_unread",  # the reading model did not see it
)


@dataclass(frozen=True)
class Candidates:
    """The candidate spans of some sentences: which sentence, the character span there, the
    row of ``FEATURES``, and where its scored words lie (``lo``..``hi`` in one count over all
    the sentences, so that two candidates' shared words are the overlap of their ranges)."""

    sentence: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    x: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    def text(self, i: int, sentences: Sequence[str]) -> str:
        return sentences[int(self.sentence[i])][int(self.starts[i]) : int(self.ends[i])]


def reading_of(question: str, standalone: str, sentences: Sequence[str]) -> Reading:
    """The reading model's reading of the first ``READ_SENTENCES`` of ``sentences``."""
    return span_model.model().read(question, standalone, sentences[:READ_SENTENCES])


def candidates(
    question: str,
    standalone: str,
    sentences: Sequence[str],
    reading: Reading | None = None,
    read: bool = True,
) -> Candidates:
    """Every candidate span of ``sentences`` (the cited ones, best first), with what the
    reading model makes of it: ``reading`` when given, else read now (unless not ``read``:
    then the model's columns are left empty)."""
    if reading is None and read and sentences:
        reading = reading_of(question, standalone, sentences)
    wanted = asked_terms(question, standalone)
    parts = []
    offset = 0
    for n, sentence in enumerate(sentences):
        starts, ends, x0, lo, hi = span_features(question, sentence, wanted, second=n > 0)
        x = np.zeros((len(starts), len(FEATURES)), dtype=np.float32)
        x[:, : len(SPAN_FEATURES)] = x0
        x[:, -2], x[:, -1] = UNREAD, 1.0
        if reading is not None:
            p = reading.spans(n, starts, ends)
            seen = ~np.isnan(p)
            x[seen, -2], x[seen, -1] = np.maximum(p[seen], UNREAD), 0.0
        parts.append((np.full(len(starts), n), starts, ends, x, lo + offset, hi + offset))
        offset += int(hi.max()) + 1 if len(hi) else 0
    if not parts:
        empty = np.zeros(0, np.int64)
        return Candidates(
            empty, empty, empty, np.zeros((0, len(FEATURES)), np.float32), empty, empty
        )
    return Candidates(*(np.concatenate(column) for column in zip(*parts, strict=True)))


#: Candidates, best scored first, among which the answer is chosen by its expected F1.
CONSIDERED = 40


def choose(found: Candidates, w: np.ndarray) -> int:
    """The candidate with the highest expected CoQA F1 under the weights' probabilities of
    the ``CONSIDERED`` best (minimum Bayes risk): when the probability is spread over several
    short spans, a span that holds them scores better than any one of them."""
    z = found.x @ w
    top = np.argsort(-z, kind="stable")[:CONSIDERED]
    p = np.exp(z[top] - z[top].max())
    p /= p.sum()
    lo, hi = found.lo[top], found.hi[top]
    shared = np.maximum(
        0, np.minimum(hi[:, None], hi[None, :]) - np.maximum(lo[:, None], lo[None, :])
    )
    sizes = (hi - lo)[:, None] + (hi - lo)[None, :]
    f1 = np.where(sizes > 0, 2 * shared / np.maximum(sizes, 1), 0.0)
    return int(top[int(np.argmax(f1 @ p))])


@dataclass(frozen=True)
class Read:
    """The span the reader chose: which sentence, and its character span there."""

    sentence: int
    start: int
    end: int


def read(
    question: str, standalone: str, sentences: Sequence[str], w: np.ndarray | None = None
) -> Read | None:
    """The short answer among the spans of ``sentences`` (the cited ones, best first)."""
    found = candidates(question, standalone, sentences)
    if not len(found):
        return None
    i = choose(found, weights() if w is None else w)
    return Read(int(found.sentence[i]), int(found.starts[i]), int(found.ends[i]))


@functools.lru_cache(maxsize=1)
def _fitted() -> dict[str, Any]:
    return dict(json.loads(WEIGHTS.read_text("utf-8")))


def fitted(part: str, features: Sequence[str]) -> tuple[np.ndarray, dict[str, Any]]:
    """The weights of one fitted part (``span``, ``yes_no``, ``answerable``) in the order of
    its ``features``, and whatever else the fit kept for it (a threshold)."""
    data = _fitted()[part]
    if tuple(data["features"]) != tuple(features):
        raise RuntimeError(
            f"{WEIGHTS} was fitted for other {part} features: run python -m eval.fit_reader"
        )
    return np.asarray(data["weights"], dtype=np.float32), data


def weights() -> np.ndarray:
    """The span weights, in the order of ``FEATURES``."""
    return fitted("span", FEATURES)[0]
