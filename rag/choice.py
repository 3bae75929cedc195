"""Which sentence answers: the features of each candidate sentence, and the weights that turn
them into a score.

The weights are not set by hand: ``python -m eval.fit`` fits them (a conditional logit: which
candidate of a turn holds the gold rationale) on the CoQA dev sets and writes
``rag/choice_weights.json``; a test refits them and checks that the file is what comes out.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.items import counts_asked, expected_type, holds_type
from rag.support import Sentence, SupportScorer

WEIGHTS = Path(__file__).with_name("choice_weights.json")

#: Sentences this close after the last cited one count as "ahead" (characters).
AHEAD_WINDOW = 400

FEATURES = (
    "cosine_question",  # meaning: the question as typed
    "overlap_question",  # its rare words in the sentence (0 to 1)
    "cosine_standalone",  # the same for the rewritten question
    "overlap_standalone",
    "who_name",  # "who ...?" and the sentence holds a name the question lacks
    "when_date",  # "when ...?" and a date
    "number",  # "how many/much/old ...?" and a number
    "counts_asked",  # "how many X?" and a number of X ("27 Chinese companies")
    "where_place",  # "where ...?" and a place
    "why_reason",  # "why ...?" and "because", "after", "so", "due to" ...
    "say_quote",  # "what did ... say?" and a quotation or "said"
    "retrieved_rank",  # 1/(1 + rank) of its retrieved passage; 0 beyond the retrieved ones
    "next_after_cited",  # the first sentence after the one cited last
    "ahead_of_cited",  # within AHEAD_WINDOW characters after it
    "is_cited",  # the sentence cited last
    "behind_cited",  # before it, in the same article
    "aside",  # a caption, headline, "Read more" or "RELATED:" line
    "words",  # length in words / 30, at most 2
    "lead",  # within the article's first 400 characters
)


@dataclass(frozen=True)
class Asked:
    """What the turn asks and where the conversation stands."""

    question: str
    standalone: str
    #: ``(article_id, start, end)`` of the sentence cited last, if any.
    last: tuple[str, int, int] | None = None


_ASIDE = re.compile(
    r"^\s*(read|read more|read also|see also|related|more|watch|photos?|video|ireport|"
    r"click|follow|editor's note|copyright)\b[^.?!]{0,40}:",
    re.I,
)
_ENDS = re.compile(r"[.?!\"”'’)\]]\s*$")


def is_aside(text: str) -> bool:
    """A caption, headline or pointer line rather than a sentence of the story: no closing
    punctuation, or a "Read more:"/"RELATED:" lead."""
    return not _ENDS.search(text) or bool(_ASIDE.match(text))


_WHY = re.compile(r"^\s*(?:and\s+)?(?:why|how come)\b|\bwhat (?:caused|led to)\b", re.I)
_REASON = re.compile(
    r"\b(?:because|since|after|so that|due to|in order to|as a result|caused|led to|"
    r"reason|for fear)\b",
    re.I,
)
_SAY = re.compile(r"\b(?:say|said|says|tell|told|call|called|describe|described|think)\b", re.I)
_QUOTED = re.compile(r"[\"“”]|\b(?:said|says|told|according to)\b", re.I)


_COL = {name: i for i, name in enumerate(FEATURES)}
#: The columns that need the sentences embedded.
COSINES = (FEATURES.index("cosine_question"), FEATURES.index("cosine_standalone"))


def features(
    asked: Asked, sentences: Sequence[Sentence], scorer: SupportScorer, cosine: bool = True
) -> np.ndarray:
    """One row of ``FEATURES`` per sentence; without ``cosine`` the two cosine columns stay
    zero (nothing is embedded: ``add_cosines`` fills them for the sentences that need it)."""
    texts = [s.text for s in sentences]
    x = np.zeros((len(sentences), len(FEATURES)), dtype=np.float32)
    if not sentences:
        return x
    question = asked.question
    x[:, _COL["overlap_question"]] = scorer.overlap(question, texts)
    if asked.standalone.strip() != question.strip():
        x[:, _COL["overlap_standalone"]] = scorer.overlap(asked.standalone, texts)
    else:
        x[:, _COL["overlap_standalone"]] = x[:, _COL["overlap_question"]]
    if cosine:
        add_cosines(x, asked, texts, scorer)
    kind = expected_type(question)
    column = {"name": "who_name", "date": "when_date", "number": "number", "place": "where_place"}
    if kind in column:
        x[:, _COL[column[kind]]] = [holds_type(kind, t, question) for t in texts]
        if kind == "number":
            x[:, _COL["counts_asked"]] = [counts_asked(question, t) for t in texts]
    if _WHY.search(question):
        x[:, _COL["why_reason"]] = [bool(_REASON.search(t)) for t in texts]
    if _SAY.search(question):
        x[:, _COL["say_quote"]] = [bool(_QUOTED.search(t)) for t in texts]
    # The story's whole articles come as passages without a chunk.
    x[:, _COL["retrieved_rank"]] = [
        1.0 / (1 + s.rank) if s.passage.chunk_id else 0.0 for s in sentences
    ]
    if asked.last is not None:
        article, start, end = asked.last
        same = [s.passage.article_id == article for s in sentences]
        after = [s.start for s, m in zip(sentences, same, strict=True) if m and s.start >= end]
        following = min(after) if after else -1
        for i, s in enumerate(sentences):
            if not same[i]:
                continue
            x[i, _COL["next_after_cited"]] = s.start == following
            x[i, _COL["ahead_of_cited"]] = 0 <= s.start - end <= AHEAD_WINDOW
            x[i, _COL["is_cited"]] = s.start < end and s.end > start
            x[i, _COL["behind_cited"]] = s.end <= start
    x[:, _COL["aside"]] = [is_aside(t) for t in texts]
    x[:, _COL["words"]] = [min(len(t.split()) / 30, 2.0) for t in texts]
    x[:, _COL["lead"]] = [s.start < 400 for s in sentences]
    return x


def add_cosines(x: np.ndarray, asked: Asked, texts: Sequence[str], scorer: SupportScorer) -> None:
    """Fill the cosine columns of the rows ``x`` of ``texts``."""
    x[:, COSINES[0]] = scorer.cosine(asked.question, texts)
    if asked.standalone.strip() != asked.question.strip():
        x[:, COSINES[1]] = scorer.cosine(asked.standalone, texts)
    else:
        x[:, COSINES[1]] = x[:, COSINES[0]]


@functools.lru_cache(maxsize=1)
def weights() -> np.ndarray:
    """The fitted weights, in the order of ``FEATURES``."""
    data = json.loads(WEIGHTS.read_text("utf-8"))
    if tuple(data["features"]) != FEATURES:
        raise RuntimeError(f"{WEIGHTS} was fitted for other features: run python -m eval.fit")
    return np.asarray(data["weights"], dtype=np.float32)
