"""The story a conversation is on: the article(s) its confident answers came from, weighted by
how much of the conversation was about each, and the test of whether a question moves away.

News articles resemble each other (several shootings, trials and finals in one library), so a
follow-up that is searched afresh drifts to another story one time in four (coqa-cnn-dev). A
chat therefore stays on its story unless the question names something the story lacks and
another article has; one doubtful citation cannot move it, since a focused turn only cites the
story.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rag.answer import Citation
from rag.retrieve import Passage
from rag.terms import terms

#: An article stays in the focus while its weight is at least this share of the leader's.
KEEP_SHARE = 0.5
#: Weight an answer adds to the article it cites first, and to each other article it cites.
FIRST_CITED, ALSO_CITED = 1.0, 0.5
#: A question moves to another article when that article holds this much more of the
#: question's rare-word weight than the story does (less when the story lacks a name). Set by
#: hand, not swept: on coqa-cnn-dev, whose conversations each stay on one article, the rule
#: moved a follow-up wrongly 4 times in 468 (and the evidence switch undoes such a move).
TOPIC_MOVE_GAIN = 0.4
NAME_MOVE_GAIN = 0.2
#: The story gives way to another article once the questions' searches have found that one
#: by this many turns' worth of results more than the story's leading article. Swept on
#: coqa-cnn-dev follow-ups (`python -m eval.coqa`, share citing the conversation's article):
#: 0.5 / 0.75 / 1.0 / 1.5 / 2.5 gave 0.900 / 0.919 / 0.904 / 0.893 / 0.874; coqa-wikipedia
#: 0.916 at 0.75.
EVIDENCE_MARGIN = 0.75

#: A capitalised word that is not the question's first: a name (person, place, organisation).
_NAME = re.compile(r"(?<=[\s\"'(])[A-Z][\w'’.-]*")


@dataclass
class Story:
    """The articles a conversation is about, each with the weight of the answers it gave."""

    weights: dict[str, float] = field(default_factory=dict)
    #: article id -> how much of the search results of the questions asked so far it drew.
    evidence: dict[str, float] = field(default_factory=dict)
    #: Articles the chat moved away from: the story it was on before, taken wrongly or left.
    left: set[str] = field(default_factory=set)

    @property
    def articles(self) -> tuple[str, ...]:
        """The focus: the leading article first, then any close to it."""
        if not self.weights:
            return ()
        top = max(self.weights.values())
        ranked = sorted(self.weights, key=lambda a: -self.weights[a])
        return tuple(a for a in ranked if self.weights[a] >= top * KEEP_SHARE)

    def follow(self, citations: Sequence[Citation], moved: bool) -> None:
        """Take in a confident answer's citations; after a move the old story fades out."""
        cited = list(dict.fromkeys(c.article_id for c in citations))
        if not cited:
            return
        if moved:
            self._fade()
        for i, article in enumerate(cited):
            self.weights[article] = self.weights.get(article, 0.0) + (
                FIRST_CITED if i == 0 else ALSO_CITED
            )

    def hear(self, found: Sequence[Passage]) -> None:
        """Take in what a question, searched across the library, found: each article gains
        its share of the results' fused score."""
        total = sum(p.score for p in found) or 1.0
        for p in found:
            self.evidence[p.article_id] = self.evidence.get(p.article_id, 0.0) + p.score / total

    def rival(self) -> str | None:
        """An article outside the focus that the questions have kept finding, clearly more
        than the story's leading article: the first answer took the wrong story."""
        focus = self.articles
        if not focus:
            return None
        lead = self.evidence.get(focus[0], 0.0)
        others = {a: e for a, e in self.evidence.items() if a not in focus}
        best = max(others, key=lambda a: others[a], default=None)
        if best is not None and others[best] >= lead + EVIDENCE_MARGIN:
            return best
        return None

    def switch(self, article_id: str) -> None:
        """Move the focus to ``article_id``; the old story falls out of it."""
        self._fade()
        self.weights[article_id] = self.weights.get(article_id, 0.0) + FIRST_CITED

    def _fade(self) -> None:
        """A move: the old story falls out of the focus, and the evidence so far fades by
        half, so a long stay there does not pull the chat back at once while a move that was
        wrong is soon undone. Measured on coqa-cnn-dev follow-ups (citing the conversation's
        article): halving 0.917, keeping it whole 0.915, keeping only the old story's 0.895,
        erasing it 0.887."""
        self.evidence = {a: e / 2 for a, e in self.evidence.items()}
        self.left |= set(self.weights)
        if self.weights:
            # A move starts a new story: the old one falls out of the focus however long the
            # conversation stayed on it, but is still remembered.
            scale = KEEP_SHARE / 2 * FIRST_CITED / max(self.weights.values())
            self.weights = {a: w * scale for a, w in self.weights.items()}

    def copy(self) -> Story:
        return Story(dict(self.weights), dict(self.evidence), set(self.left))

    def clear(self) -> None:
        self.weights.clear()
        self.evidence.clear()
        self.left.clear()


def named_terms(question: str) -> set[str]:
    """The stemmed words of the names in ``question`` (capitalised words after the first)."""
    return {t for name in _NAME.findall(question) for t in terms(name)}


def coverage(words: Sequence[str], idf: dict[str, float], article_terms: set[str]) -> float:
    """Share of the words' rare-word weight that an article (its ``article_terms``) holds."""
    total = sum(idf[w] for w in set(words)) or 1.0
    return sum(idf[w] for w in set(words) if w in article_terms) / total


def moves_away(
    question: str,
    leans_back: bool,
    idf: dict[str, float],
    story_terms: set[str],
    other_terms: set[str],
) -> bool:
    """Whether ``question`` names a person, place, organisation or topic that the story
    lacks and another article has, so that the other article holds clearly more of the
    question's rare-word weight. A question that leans on the conversation ("what did he
    say?") moves only for a name."""
    words = terms(question)
    if not words:
        return False
    gain = coverage(words, idf, other_terms) - coverage(words, idf, story_terms)
    if (named_terms(question) - story_terms) & other_terms:
        return gain >= NAME_MOVE_GAIN
    return not leans_back and gain >= TOPIC_MOVE_GAIN


def words_of(texts: Iterable[str]) -> set[str]:
    """Every stemmed word of ``texts``."""
    return {t for text in texts for t in terms(text)}
