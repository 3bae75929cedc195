"""The default answerer: it needs no model server. It picks the sentences of the retrieved
passages that answer the question and cites each; it states nothing that is not one of those
sentences, and says so plainly when none of them supports an answer."""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer import MARKER, REFUSAL, Citation, Draft
from rag.retrieve import Passage
from rag.support import Sentence, SupportScorer, sentences_of

#: Below this support (cosine + weighted word overlap) for the raw question and the
#: standalone one alike, no sentence answers and the question is refused.
REFUSE_BELOW = 0.42
#: The same for a follow-up: its words say little alone ("What else?"), and the chat's
#: focus already chose its articles, so it takes weaker evidence to answer.
FOLLOW_UP_REFUSE_BELOW = 0.3
#: The same for a turn that stays on the chat's story.
STORY_REFUSE_BELOW = 0.15
#: Taken from the best support of a standalone question, times the share of the question's
#: weight in words that the library never uses.
UNKNOWN_PENALTY = 0.5
#: A second sentence joins the answer when it scores this close to the best one.
SECOND_WITHIN = 0.1
#: Weight of the standalone (rewritten) question next to the question as typed.
STANDALONE_WEIGHT = 0.5
#: A sentence supports a follow-up at least this share of how well it supports its rewrite.
STANDALONE_FLOOR = 0.9
#: Bonus for a sentence that holds what the question asks for (a date for "when"...).
TYPE_BONUS = 0.12
#: Bonus by the rank of the sentence's passage: 0.1 for the first, 0.05 for the second...
RANK_BONUS = 0.1
#: Bonus for the sentences just after the one cited last: conversations move forward.
NEXT_BONUS = 0.08
NEXT_WINDOW = 400


@dataclass
class ChatContext:
    """What the answerer knows of the conversation so far."""

    #: ``(article_id, end)`` of the last sentence cited.
    last: tuple[str, int] | None = None
    #: The articles the chat is on, whole: on a follow-up that stays on its story, every
    #: sentence of them is a candidate, not only those of the retrieved passages.
    story: tuple[Passage, ...] = ()

    def remember(self, citations: Sequence[Citation]) -> None:
        if citations:
            self.last = (citations[0].article_id, citations[0].end)


_YEAR = r"\b(1[5-9]\d\d|20\d\d)s?\b"
_MONTH = (
    r"\b(January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|century|decade)\b"
)
_NUMBER = (
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|dozen|several|few)\b"
)
_EXPECT: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^\s*(when|what (year|date|time|day|month|century))\b", re.I), "date"),
    (
        re.compile(r"\bhow (many|much|old|long|far|big|large|often)\b|\bwhat percent", re.I),
        "number",
    ),
    (re.compile(r"^\s*(who|whom|whose)\b|\bwho\b", re.I), "name"),
    (re.compile(r"^\s*where\b|\bwhere\b", re.I), "name"),
]


def expected_type(question: str) -> str:
    """``date``, ``number``, ``name`` or ``""``: what kind of thing the question asks for."""
    for pattern, kind in _EXPECT:
        if pattern.search(question):
            return kind
    return ""


def holds_type(kind: str, sentence: str, question: str) -> bool:
    """Whether ``sentence`` holds something of ``kind`` that the question does not."""
    if kind == "date":
        return bool(re.search(_YEAR, sentence) or re.search(_MONTH, sentence))
    if kind == "number":
        return bool(re.search(_NUMBER, sentence, re.I))
    if kind == "name":
        asked = {w.lower() for w in re.findall(r"\w+", question)}
        # A capitalised word that is not the sentence's first and not in the question.
        words = re.findall(r"(?<=\s)[A-Z][\w-]+", sentence)
        return any(w.lower() not in asked for w in words)
    return False


class ExtractiveAnswerer:
    """Answers with the best supporting sentences of the passages, each cited."""

    mode = "extractive"

    def __init__(self, scorer: SupportScorer) -> None:
        self.scorer = scorer

    def rank(
        self,
        question: str,
        standalone: str,
        sentences: list[Sentence],
        context: ChatContext,
        by_rank: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(score, support)`` per sentence: support is the evidence alone, score adds the
        bonuses that order sentences of similar support."""
        texts = [s.text for s in sentences]
        support = self.scorer.support(question, texts)
        if standalone.strip() != question.strip():
            # A bare follow-up ("Since when?") says little by itself: its rewrite leads, and
            # a sentence is as well supported as the better of the two readings makes it.
            rewritten = self.scorer.support(standalone, texts)
            mixed = (support + STANDALONE_WEIGHT * rewritten) / (1 + STANDALONE_WEIGHT)
            support = np.maximum(mixed, rewritten * STANDALONE_FLOOR)
        kind = expected_type(question)
        score = support.copy()
        for i, s in enumerate(sentences):
            if kind and holds_type(kind, s.text, question):
                score[i] += TYPE_BONUS
            if by_rank:
                score[i] += RANK_BONUS / (1 + s.rank)
            if (
                context.last is not None
                and s.passage.article_id == context.last[0]
                and 0 <= s.start - context.last[1] <= NEXT_WINDOW
            ):
                score[i] += NEXT_BONUS
        return score, support

    def pick(
        self,
        question: str,
        standalone: str,
        sentences: list[Sentence],
        context: ChatContext,
        by_rank: bool = True,
    ) -> list[int]:
        """Indices of the sentences that answer, best first; none when nothing supports it."""
        if not sentences:
            return []
        # The passages of a two-part question interleave both parts' rankings: their order
        # says nothing about one part alone.
        score, support = self.rank(question, standalone, sentences, context, by_rank=by_rank)
        order = np.argsort(-score, kind="stable")
        best = int(order[0])
        evidence, floor = support[best], REFUSE_BELOW
        if context.story:
            # On the chat's story: the conversation already chose the article, so only a
            # question about something the library lacks ("... eat for dinner?") is refused.
            evidence -= UNKNOWN_PENALTY * self.scorer.unknown_share(question)
            floor = STORY_REFUSE_BELOW
        elif standalone.strip() == question.strip():
            # Only a question that stands alone: a follow-up's words may be the chat's own.
            evidence -= UNKNOWN_PENALTY * self.scorer.unknown_share(question)
        else:
            floor = FOLLOW_UP_REFUSE_BELOW
        if evidence < floor:
            return []
        chosen = [best]
        # The runner-up, unless it only repeats the best (captions often appear twice).
        top = sentences[best].text
        second = next((int(i) for i in order[1:] if sentences[i].text != top), None)
        if (
            second is not None
            and score[second] >= score[best] - SECOND_WITHIN
            and support[second] >= REFUSE_BELOW
        ):
            chosen.append(second)
        return chosen

    def answer(
        self,
        question: str,
        standalone: str,
        passages: Sequence[Passage],
        context: ChatContext | None = None,
        history: Sequence[tuple[str, str]] = (),
    ) -> Generator[str, None, Draft]:
        """Yield the answer text as it is composed; return the whole of it."""
        context = context or ChatContext()
        sentences = sentences_of([*passages, *context.story])
        asks = question_parts(question)
        chosen: list[int] = []
        if len(asks) == 1:
            chosen = self.pick(question, standalone, sentences, context)
        else:
            # A question in two parts gets the best sentence for each part.
            for part in asks:
                part_standalone = part if standalone == question else f"{part} ({standalone})"
                for i in self.pick(part, part_standalone, sentences, context, by_rank=False):
                    if sentences[i].text not in {sentences[j].text for j in chosen}:
                        chosen.append(i)
        if not chosen:
            yield REFUSAL
            return Draft(REFUSAL, [], refused=True)
        citations: list[Citation] = []
        parts: list[str] = []
        for n, i in enumerate(chosen, start=1):
            s = sentences[i]
            citations.append(citation(n, s))
            parts.append(f"{defuse_markers(s.text)} [{n}]")
            yield ("" if n == 1 else " ") + parts[-1]
        return Draft(" ".join(parts), citations)


_SECOND_QUESTION = re.compile(
    r",?\s+and\s+(?=(?:what|who|whom|whose|which|when|where|why|how)\b)", re.I
)


def question_parts(question: str) -> list[str]:
    """A two-part question ("Who did she meet, and how many ...?") split in its parts; a part
    too short to stand alone ("..., and where?") keeps the question whole."""
    parts = [p.strip(" ,?") for p in _SECOND_QUESTION.split(question)]
    if len(parts) < 2 or any(len(p.split()) < 3 for p in parts):
        return [question]
    return [p + "?" for p in parts]


def defuse_markers(text: str) -> str:
    """Article text with its own ``[n]`` turned into ``(n)``, so that a quote can never pass
    for one of the answer's citation markers."""
    return MARKER.sub(r"(\1)", text)


def citation(n: int, s: Sentence) -> Citation:
    """Citation ``[n]`` quoting sentence ``s``."""
    p = s.passage
    return Citation(
        n=n,
        article_id=p.article_id,
        title=p.title,
        source=p.source,
        url=p.url,
        published=p.published,
        quote=s.text,
        start=s.start,
        end=s.end,
        chunk_id=p.chunk_id,
    )
