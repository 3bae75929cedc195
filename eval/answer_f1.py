"""CoQA's measure of a short answer: word F1 against the accepted answers, best match.

The normalisation is that of CoQA's official evaluation script (``evaluate-v1.0.py``, Reddy,
Chen & Manning 2019): lower-cased, punctuation removed, the articles a/an/the removed, white
space collapsed. Two empty answers agree (F1 1), one empty answer does not (F1 0). A refusal
is the answer "unknown", as CoQA writes the answer of a question its passage does not answer.

CoQA's script averages over its four human answers, each scored against the other three; the
datasets here keep the accepted answers as one list, so a prediction scores its best match.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rag.answer import strip_markers

if TYPE_CHECKING:
    from rag.answer import Answer

#: What a refusal answers, in CoQA's words.
UNKNOWN = "unknown"
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """CoQA's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def word_f1(gold: str, predicted: str) -> float:
    """CoQA's F1 of one predicted answer against one gold answer."""
    gold_words, said = normalize_answer(gold).split(), normalize_answer(predicted).split()
    if not gold_words or not said:
        return float(gold_words == said)
    same = sum((Counter(gold_words) & Counter(said)).values())
    if not same:
        return 0.0
    precision, recall = same / len(said), same / len(gold_words)
    return 2 * precision * recall / (precision + recall)


def best_f1(accepted: Sequence[str], predicted: str) -> float:
    """F1 of ``predicted`` against the accepted answer it matches best."""
    return max((word_f1(a, predicted) for a in accepted), default=0.0)


def short_text(answer: Answer) -> str:
    """What an answer says in short: "unknown" for a refusal, else its short answer, else
    (an answer that states no short one) its whole text without markers."""
    if answer.refused:
        return UNKNOWN
    if answer.short is not None:
        return answer.short.text
    return strip_markers(answer.text)
