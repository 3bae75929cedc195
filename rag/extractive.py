"""The default answerer: it needs no model server. It picks the sentences of the retrieved
passages that answer the question and cites each; it states nothing that is not one of those
sentences, and says so plainly when none of them supports an answer."""

from __future__ import annotations

import math
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from rag import answerable, yesno
from rag.answer import MARKER, REFUSAL, Citation, Draft, Short, ShortText
from rag.choice import FEATURES, Asked, add_cosines, features, is_aside, weights
from rag.items import asks_for_recency
from rag.reader import candidates, choose, fitted, reading_of
from rag.reader import weights as span_weights
from rag.retrieve import Passage
from rag.support import LEXICAL_WEIGHT, Sentence, SupportScorer, sentences_of

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
#: A second sentence joins the answer when the fitted choice finds it at least a sixth as
#: likely as the best one to hold the answer (scores are log-odds: ln 6 apart). Measured on
#: coqa-cnn-dev follow-ups (`python -m eval.coqa`): a third / a sixth / a twelfth gave 0.622 /
#: 0.639 / 0.643 contained with 26% / 37% / 45% of answers in two sentences; a sixth keeps
#: most of the gain with answers that stay short.
SECOND_WITHIN = math.log(6)
#: Candidate sentences embedded per question: the likeliest by every feature but the cosines
#: (embedding them is most of a cold answer's time; a follow-up has its story's 20 to 30).
#: Measured with `python -m eval.coqa` against embedding all: 12 changed 2 of 506 answers on
#: coqa-cnn-dev and none of 1,372 on coqa-wikipedia, no rate moved; 8 changed 5 and 7
#: (contains answer, follow-ups, -0.2 points on both).
SHORTLIST = 12
#: Whether a lone chosen sentence is read with the best of the rest (``ExtractiveAnswerer.pick``),
#: which is then cited when the short answer is in it. Off: with the reading model refitted on
#: it (``python -m eval.fit_span_model --teacher`` after ``eval.fit_reader --recollect``), the
#: held-out CoQA F1 rose 0.440 -> 0.474 on coqa-cnn-dev and 0.489 -> 0.497 on
#: coqa-wikipedia (the best span read 0.717 -> 0.770), but first turns fell 0.373 -> 0.357,
#: the samples 0.655 -> 0.608 and the near-miss set was refused less (0.243 -> 0.191).
#: Taking the spare from the chosen sentence's own article only (``--teacher`` refit, the
#: chats recollected with this session's references): held out 0.462 on coqa-cnn-dev (first
#: turns 0.388), 0.498 on coqa-wikipedia, but yes/no 0.633 -> 0.556 and the near-miss set
#: refused 0.265 as before; with no spare for a yes/no question, refitted again: 0.438, first
#: turns 0.334, yes/no 0.567. The refits differ more than the variants do: off.
READ_SPARE = False
#: Weight of the standalone (rewritten) question next to the question as typed.
STANDALONE_WEIGHT = 0.5
#: A sentence supports a follow-up at least this share of how well it supports its rewrite.
STANDALONE_FLOOR = 0.9


@dataclass
class ChatContext:
    """What the answerer knows of the conversation so far."""

    #: ``(article_id, start, end)`` of the last sentence cited.
    last: tuple[str, int, int] | None = None

    #: The articles the chat is on, whole: on a follow-up that stays on its story, every
    #: sentence of them is a candidate, not only those of the retrieved passages.
    story: tuple[Passage, ...] = ()

    def remember(self, citations: Sequence[Citation]) -> None:
        if citations:
            self.last = (citations[0].article_id, citations[0].start, citations[0].end)


class ExtractiveAnswerer:
    """Answers with the best supporting sentences of the passages, each cited."""

    mode = "extractive"

    def __init__(
        self,
        scorer: SupportScorer,
        choice_weights: np.ndarray | None = None,
        judge_answerable: bool = True,
        shortlist: int = SHORTLIST,
    ) -> None:
        self.scorer = scorer
        #: Weights of the sentence choice; None for the committed fit (``rag.choice``).
        self.choice_weights = choice_weights
        #: Refuse when the cited sentences do not answer (``rag.answerable``); off only to
        #: collect what that judgement is fitted on.
        self.judge_answerable = judge_answerable
        #: Candidates embedded per question (``SHORTLIST``); 0 for all of them.
        self.shortlist = shortlist
        #: The sentences the last answer's short answer was read from, and what the answerer
        #: had of their article (for fitting the reader on what it reads: ``eval.fit_reader``).
        self.last_read: list[str] = []
        self.last_seen = ""

    def rank(
        self,
        question: str,
        standalone: str,
        sentences: list[Sentence],
        context: ChatContext,
        by_rank: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(score, support)`` per sentence: support is the evidence alone; score is the
        fitted choice of the answering sentence (``rag.choice``), which adds where the
        sentence sits, what it holds and what kind of line it is."""
        asked = Asked(question, standalone, context.last)
        x = features(asked, sentences, self.scorer, cosine=False)
        if not by_rank:
            x[:, FEATURES.index("retrieved_rank")] = 0.0
        w = weights() if self.choice_weights is None else self.choice_weights
        # Only the likeliest candidates by everything else are embedded (``SHORTLIST``).
        keep = np.arange(len(sentences))
        if 0 < self.shortlist < len(sentences):
            keep = np.sort(np.argsort(-(x @ w), kind="stable")[: self.shortlist])
        kept = x[keep]
        add_cosines(kept, asked, [sentences[i].text for i in keep], self.scorer)
        x[keep] = kept
        # The features already hold cosine and word overlap for both readings of the
        # question: support is made from them rather than embedding the question again.
        support = x[:, 0] + LEXICAL_WEIGHT * x[:, 1]
        if standalone.strip() != question.strip():
            # A bare follow-up ("Since when?") says little by itself: its rewrite leads, and
            # a sentence is as well supported as the better of the two readings makes it.
            rewritten = x[:, 2] + LEXICAL_WEIGHT * x[:, 3]
            mixed = (support + STANDALONE_WEIGHT * rewritten) / (1 + STANDALONE_WEIGHT)
            support = np.maximum(mixed, rewritten * STANDALONE_FLOOR)
        score = x @ w
        if len(keep) < len(sentences):
            # The others are out of the running, as evidence too.
            out = np.ones(len(sentences), dtype=bool)
            out[keep] = False
            score[out] = -np.inf
            support[out] = -np.inf
        return score, support

    def pick(
        self,
        question: str,
        standalone: str,
        sentences: list[Sentence],
        context: ChatContext,
        by_rank: bool = True,
    ) -> tuple[list[int], int | None]:
        """Indices of the sentences that answer, best first (none when nothing supports it),
        and the best of the rest: the *spare*, read beside a lone chosen sentence where
        ``READ_SPARE``."""
        if not sentences:
            return [], None
        # The passages of a two-part question interleave both parts' rankings: their order
        # says nothing about one part alone.
        score, support = self.rank(question, standalone, sentences, context, by_rank=by_rank)
        order = np.argsort(-score, kind="stable")
        best = int(order[0])
        # Whether any candidate supports an answer, whichever the choice prefers.
        evidence, floor = float(support.max()), REFUSE_BELOW
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
            return [], None
        chosen = [best]
        # The runner-up, unless it only repeats the best (captions often appear twice) or is
        # a caption or headline itself.
        top = sentences[best].text
        second = next(
            (
                int(i)
                for i in order[1:]
                if sentences[i].text != top and not is_aside(sentences[i].text)
            ),
            None,
        )
        if (
            second is not None
            and score[second] >= score[best] - SECOND_WITHIN
            and support[second] >= REFUSE_BELOW
        ):
            return [best, second], None
        return chosen, second

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
        self.last_read, self.last_seen = [], ""
        sentences = sentences_of([*passages, *context.story])
        asks = question_asks(question, standalone)
        chosen: list[int] = []
        spare: int | None = None
        if len(asks) == 1:
            chosen, spare = self.pick(question, standalone, sentences, context)
        else:
            # A question in two parts gets the best sentence for each part.
            for part, part_standalone in asks:
                for i in self.pick(part, part_standalone, sentences, context, by_rank=False)[0]:
                    if sentences[i].text not in {sentences[j].text for j in chosen}:
                        chosen.append(i)
        if not chosen:
            yield REFUSAL
            return Draft(REFUSAL, [], refused=True)
        citations = [citation(n, sentences[i]) for n, i in enumerate(chosen, start=1)]
        seen = cited_text(citations, [*passages, *context.story])
        # A question in two parts was judged part by part by the choice of its sentences.
        judge = self.judge_answerable and len(asks) == 1
        extra = sentences[spare] if READ_SPARE and spare is not None else None
        if extra is not None:
            citations.append(citation(len(citations) + 1, extra))
        short = short_answer(question, standalone, citations, seen, judge)
        self.last_read, self.last_seen = [c.quote for c in citations], seen
        if extra is not None and (short is None or short.n != len(citations)):
            citations.pop()  # read, but the answer is not in it: not cited
        if short is None:
            yield REFUSAL
            return Draft(REFUSAL, [], refused=True)
        if short.n != 1:
            # The sentence that holds the short answer is cited first (measured on
            # coqa-cnn-dev: CoQA F1 0.407 against 0.398 with the order of the choice).
            order = [short.n - 1, *(i for i in range(len(citations)) if i != short.n - 1)]
            citations = [replace(citations[i], n=n) for n, i in enumerate(order, start=1)]
            short = replace(short, n=1)
        lead = ""
        if asks_for_recency(question) and citations[0].published:
            # "The latest": the answer says how recent it is.
            lead = f"As of {citations[0].published[:10]}: "
        parts = [f"{defuse_markers(c.quote)} [{c.n}]" for c in citations]
        pieces = [lead, ShortText(defuse_markers(short.text)), ": " + parts[0]]
        pieces += [" " + p for p in parts[1:]]
        for piece in pieces:
            if piece:
                yield piece
        return Draft("".join(pieces), citations, short=short)


def cited_text(citations: Sequence[Citation], passages: Sequence[Passage]) -> str:
    """What the answerer has of the article cited first: its passages (the whole article when
    the chat is on its story)."""
    if not citations:
        return ""
    first = citations[0].article_id
    return "\n".join(dict.fromkeys(p.text for p in passages if p.article_id == first))


def short_answer(
    question: str,
    standalone: str,
    citations: list[Citation],
    article: str = "",
    judge: bool = True,
) -> Short | None:
    """What a person would answer from the cited quotes: "Yes" or "No" settled by the first,
    or the span the reader chooses; None when the quotes do not answer the question at all
    (``rag.answerable``; ``article``: what the answerer has of the first quote's article)."""
    quotes = [c.quote for c in citations]
    # One pass of the reading model serves the span, yes or no, and answerability.
    reading = reading_of(question, standalone, quotes)
    found = candidates(question, standalone, quotes, reading)
    asks_yes_no = yesno.is_yes_no(question)
    span_w = span_weights()
    if judge:
        answer_w, fit = fitted("answerable", answerable.FEATURES)
        row = answerable.features(
            question, standalone, quotes, article, found, span_w, asks_yes_no, reading
        )
        if not answerable.answers(row, answer_w, float(fit["threshold"])):
            return None
    first = citations[0]
    if asks_yes_no or not len(found):
        yes_no_w, _ = fitted("yes_no", yesno.FEATURES)
        yes = yesno.says_yes(question, standalone, first.quote, yes_no_w, reading)
        return Short(
            "Yes" if yes else "No", first.n, first.start, first.end, "yes" if yes else "no"
        )
    i = choose(found, span_w)
    cited = citations[int(found.sentence[i])]
    a, b = int(found.starts[i]), int(found.ends[i])
    return Short(cited.quote[a:b], cited.n, cited.start + a, cited.start + b)


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


def question_asks(question: str, standalone: str) -> list[tuple[str, str]]:
    """Each part of ``question`` with the reading it is asked in (a follow-up's part with
    the whole rewrite beside it); the question itself when it has one part."""
    parts = question_parts(question)
    if len(parts) == 1:
        return [(question, standalone)]
    return [(p, p if standalone == question else f"{p} ({standalone})") for p in parts]


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
