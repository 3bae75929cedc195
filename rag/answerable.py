"""Whether the cited sentences answer the question at all: a question about the right story
whose fact the article does not state ("How much prize money did she win?" over a report that
never says) finds sentences about its people all the same, but no span of the kind it asks
for, few of its own words, and a reader that is unsure. Fitted by ``python -m eval.fit_reader``
(logistic regression on CoQA's answerable turns against the near-miss set and CoQA's
unanswerable turns, cross-validated by conversation)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from rag.items import asked_item, asked_noun_terms
from rag.reader import FEATURES as SPAN_FEATURES
from rag.reader import Candidates
from rag.span_model import Reading
from rag.spans import QUESTION_TYPES, question_type
from rag.terms import terms

_NUMBER = re.compile(r"\d[\d,.]*")
_CAPITAL = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w-]+")
_COLUMN = {name: i for i, name in enumerate(SPAN_FEATURES)}
#: The span shape each question type asks for (a candidate of that shape that is not the
#: question's own words is the kind of thing the question wants).
_WANTS = {
    "who": "whole_name",
    "where": "whole_name",
    "when": "date",
    "count": "whole_number",
    "measure": "whole_number",
}

FEATURES = (
    "bias",
    "yes_no",  # the question is answered yes or no
    "kind_found",  # a candidate of the kind the question asks for, not its own words
    "best_score",  # the reader's best candidate score
    "best_probability",  # the probability the reader gives it
    "first_covers",  # share of the question's content words in the first cited sentence
    "all_cover",  # in all of them
    "name_missing",  # a capitalised name of the question none of them has
    "number_missing",  # a number of the question none of them has
    "article_lacks",  # share of the question's content words the article lacks
    "article_lacks_any",  # the article lacks one of them
    "item_found",  # a quote holds the item of the kind asked (an age, an amount, a date ...)
    "short_question",  # three words or fewer: a bare follow-up
    "model_unknown",  # the reading model's log-odds that the sentences do not answer
    "model_best_span",  # its log-probability of the likeliest candidate span
    "names_noun",  # the question names what it asks about ("which arena", "how many overs")
    "noun_missing",  # and none of the cited sentences has that noun
    "noun_missing_article",  # nor the article
    *(f"type={t}" for t in QUESTION_TYPES),
)


def features(
    question: str,
    standalone: str,
    quotes: Sequence[str],
    article: str,
    found: Candidates,
    span_weights: np.ndarray,
    yes_no: bool,
    reading: Reading | None,
) -> np.ndarray:
    """One row of ``FEATURES``."""
    x = np.zeros(len(FEATURES), dtype=np.float32)
    x[0] = 1.0
    x[1] = yes_no
    kind = question_type(question)
    if len(found):
        z = found.x @ span_weights
        p = np.exp(z - z.max())
        x[3] = float(z.max())
        x[4] = float(1.0 / p.sum())
        wants = _WANTS.get(kind)
        if wants is not None:
            repeats = found.x[:, _COLUMN["any_question_word"]] > 0
            x[2] = bool(((found.x[:, _COLUMN[wants]] > 0) & ~repeats).any())
    text = " ".join(quotes)
    # The words of the sentences and of their article, stemmed once for every feature below.
    said, known = set(terms(text)), set(terms(article or text))
    asked = set(terms(question)) | set(terms(standalone))
    if asked and quotes:
        x[5] = len(asked & set(terms(quotes[0]))) / len(asked)
        x[6] = len(asked & said) / len(asked)
    x[7] = any(name not in text for name in _CAPITAL.findall(standalone))
    x[8] = any(n not in text for n in _NUMBER.findall(standalone))
    own = set(terms(question))
    if own:
        lacks = own - known
        x[9] = len(lacks) / len(own)
        x[10] = bool(lacks)
    x[11] = any(asked_item(question, q) is not None for q in quotes)
    x[12] = len(question.split()) <= 3
    if reading is not None:
        x[13] = reading.log_odds_against("unknown")
        if len(found):
            x[14] = float(found.x[:, _COLUMN["model_span"]].max())
    noun = asked_noun_terms(question)
    if noun:
        x[15] = 1.0
        x[16] = not noun & said
        x[17] = not noun & said and not noun & known
    if kind:
        x[FEATURES.index(f"type={kind}")] = 1.0
    return x


def answers(x: np.ndarray, w: np.ndarray, threshold: float) -> bool:
    """Whether the fitted model finds the question answered (its log-odds at the threshold
    or above)."""
    return float(x @ w) >= threshold
