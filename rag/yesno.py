"""Yes or no: whether a question is one ("Did he ...?", "Is it ...?"), and which answer the
sentence that settles it gives. A sentence that denies what the question asks ("not", "never",
"refused"), or that states another number or name where the question has one, says no; the
weights of those signs are fitted by ``python -m eval.fit_reader`` on CoQA's yes/no turns
(logistic regression, cross-validated by conversation)."""

from __future__ import annotations

import re

import numpy as np

from rag.span_model import Reading
from rag.terms import terms
from rag.words import AUXILIARIES, NEGATIONS, OPENERS

#: "Is it public or private?" asks which, not whether; "Can you name one?" asks for a name.
_CHOICE = re.compile(r"\b\w+\s+or\s+(?:\w+\s+){0,3}\w+\s*\??\s*$", re.I)
_ASKS_FOR = re.compile(
    r"^(?:can|could|would|will)\s+(?:you|u)\s+(?:name|tell|give|list|say|describe|explain)\b", re.I
)
_WORD = re.compile(r"[\w'’]+")
_CONTRAST = re.compile(r"\b(?:but|however|although|though|instead|only|rather|yet)\b", re.I)
_NUMBER = re.compile(r"\d[\d,.]*")
_CAPITAL = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][a-z]+")

FEATURES = (
    "bias",
    "sentence_negation",  # the sentence has a word of denial
    "negation_near",  # one within four words of a word the question asks about
    "question_negation",  # the question itself is negative ("Didn't he ...?")
    "negations_disagree",  # one of the two is negative, the other not
    "asked_words_missing",  # share of the question's content words the sentence lacks
    "number_missing",  # a number of the question is not in the sentence
    "name_missing",  # a capitalised name of the question is not in the sentence
    "contrast",  # "but", "only", "instead" ...
    "model_yes",  # the reading model's log-odds of "yes" against "no"
    # ... and the same where the sentence denies: the model alone can miss a plain denial
    # ("... did not have any children" read as "yes"), so the fit weighs it apart there
    "model_yes_denied",
    "model_yes_denied_near",
)


def _opening(question: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(question)]
    while words and words[0] in OPENERS:
        words = words[1:]
    return words


def is_yes_no(question: str) -> bool:
    """Whether ``question`` is answered yes or no."""
    words = _opening(question)
    if not words or words[0] not in AUXILIARIES:
        return False
    rest = " ".join(question.split()[len(question.split()) - len(words) :])
    return not (_CHOICE.search(rest) or _ASKS_FOR.search(rest))


def _negated(words: list[str]) -> np.ndarray:
    return np.array([w in NEGATIONS or w.endswith("n't") for w in words], dtype=bool)


def features(
    question: str, standalone: str, sentence: str, reading: Reading | None = None
) -> np.ndarray:
    """One row of ``FEATURES`` for the question and the sentence that settles it, with what
    the reading model made of it (``reading``, of the cited sentences, this one first).

    On the held-out folds the model's three columns move yes/no turns 0.600 -> 0.633
    (coqa-cnn-dev) and 0.637 -> 0.652 (coqa-wikipedia); without the two that cross it with a
    denial it outweighed one ("... did not have any children" answered "Yes")."""
    x = np.zeros(len(FEATURES), dtype=np.float32)
    x[0] = 1.0
    words = [w.lower() for w in _WORD.findall(sentence)]
    denied = _negated(words)
    asked = set(terms(question)) | set(terms(standalone))
    hits = [i for i, w in enumerate(words) if set(terms(w)) & asked]
    x[1] = denied.any()
    x[2] = any(denied[max(0, i - 4) : i + 5].any() for i in hits)
    asks_negatively = _negated(_opening(question)).any()
    x[3] = asks_negatively
    x[4] = bool(x[1]) != bool(asks_negatively)
    have = set(terms(sentence))
    x[5] = len(asked - have) / len(asked) if asked else 0.0
    x[6] = any(n not in sentence for n in _NUMBER.findall(question))
    x[7] = any(name not in sentence for name in _CAPITAL.findall(question))
    x[8] = bool(_CONTRAST.search(sentence))
    if reading is not None:
        x[9] = reading.log_odds("yes", "no")
        x[10] = x[9] * x[1]
        x[11] = x[9] * x[2]
    return x


def says_yes(
    question: str, standalone: str, sentence: str, w: np.ndarray, reading: Reading | None = None
) -> bool:
    """Whether the sentence answers the question yes (by the fitted weights ``w``)."""
    return float(features(question, standalone, sentence, reading) @ w) >= 0.0
