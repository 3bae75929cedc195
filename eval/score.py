"""Scoring answers against known facts: per turn, then overall and by kind of turn.

- **fact recall**: share of the expected facts the answer states (case, punctuation and number
  forms normalised: "$700 billion" = "USD 700 billion", "twenty-seven" = "27");
- **citation support**: share of the facts that a cited quote *from the right article* states;
- **hit@k** and **MRR** of the gold article among the retrieved passages;
- **refusal precision and recall** on the questions the articles cannot answer;
- **rationale cited**: a citation overlaps the gold span (where the dataset has spans);
- **CoQA F1** of the short answer (``eval.answer_f1``), overall and per answer type
  (free-form, yes, no, unknown), where a turn has accepted short answers;
- **answered** share of the answerable turns (1 minus the refusals of turns that have an
  answer);
- **latency** p50 and p95.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval.answer_f1 import best_f1, short_text
from eval.dataset import Turn
from rag.answer import MARKER, Answer
from rag.grounding import reply_sentences
from rag.words import NUMBER_VALUES, TENS

_NUMBER_WORDS = {w: str(n) for w, n in NUMBER_VALUES.items()}
_TENS = {w: NUMBER_VALUES[w] for w in TENS}
_ONES = {w: n for w, n in NUMBER_VALUES.items() if n < 10}
_SYMBOLS = {"$": " usd ", "%": " percent ", "&": " and ", "€": " eur ", "£": " gbp "}
_ARTICLES = {"a", "an", "the"}


def normalize(text: str) -> str:
    """Lowercase words with numbers as digits, no punctuation, articles or markers."""
    text = unicodedata.normalize("NFKC", MARKER.sub(" ", text)).lower()
    for symbol, word in _SYMBOLS.items():
        text = text.replace(symbol, word)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 700,000 -> 700000
    text = text.replace("per cent", "percent")
    text = re.sub(r"(\w+)-(\w+)", r"\1 \2", text)  # twenty-seven, four-day
    words = re.findall(r"\d+(?:\.\d+)?|\w+", text)
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in _TENS and i + 1 < len(words) and words[i + 1] in _ONES:
            out.append(str(_TENS[w] + _ONES[words[i + 1]]))
            i += 2
            continue
        if w not in _ARTICLES:
            out.append(_NUMBER_WORDS.get(w, w))
        i += 1
    return " ".join(out)


def states(text: str, variants: Sequence[str]) -> bool:
    """Whether ``text`` states one of the variants, as whole words after normalising."""
    body = f" {normalize(text)} "
    return any(n and f" {n} " in body for n in map(normalize, variants))


def overlaps(span: Sequence[int] | None, start: int, end: int) -> bool:
    """Whether ``[start, end)`` overlaps a gold span (whose offsets may be one off)."""
    if not span:
        return False
    lo, hi = span
    return start < hi + 1 and end > lo - 1


@dataclass
class TurnResult:
    """How one answer scored."""

    item: str
    turn: int
    kind: str
    question: str
    answer: str
    standalone: str
    answerable: bool
    refused: bool
    facts: int
    stated: int
    cited: int
    #: Rank (1-based) of the first retrieved passage from a gold article; 0 when none.
    gold_rank: int
    rationale_cited: bool | None
    seconds: float
    #: Sentences of the answer, and those of them that carry no citation marker (0 for a
    #: refusal, which cites nothing by design).
    sentences: int = 0
    uncited: int = 0
    #: Facts the answer states that a quote it cites states too.
    stated_cited: int = 0
    #: CoQA's answer type of the turn, the short answer given and its F1 (None: not scored).
    answer_type: str = "free"
    short: str = ""
    f1: float | None = None

    @property
    def first(self) -> bool:
        return self.turn == 1


def score_turn(
    item: str,
    number: int,
    kind: str,
    turn: Turn,
    answer: Answer,
    seconds: float,
    is_gold: Callable[[str, str], bool],
) -> TurnResult:
    """Score one answer; ``is_gold(article_id, source)`` tells whether an article is a source."""
    said = [states(answer.text, f.variants) for f in turn.facts]
    backed = [
        any(
            states(c.quote, f.variants) and (not f.source or is_gold(c.article_id, f.source))
            for c in answer.citations
        )
        for f in turn.facts
    ]
    stated, cited = sum(said), sum(backed)
    # A fact the answer states, and a quote it cites states: some article it cites says it
    # (facts found in two articles name one of them as their source).
    # A "Yes" or "No" is settled by the quote it cites rather than stated in it.
    settled = answer.short.text if answer.short and answer.short.kind != "span" else None
    quoted = [
        any(states(c.quote, f.variants) for c in answer.citations)
        or (settled is not None and states(settled, f.variants))
        for f in turn.facts
    ]
    gold_rank = 0
    for rank, p in enumerate(answer.passages, start=1):
        if any(is_gold(p.article_id, g) for g in turn.gold):
            gold_rank = rank
            break
    rationale: bool | None = None
    if turn.span is not None:
        rationale = any(
            any(is_gold(c.article_id, g) for g in turn.gold) and overlaps(turn.span, c.start, c.end)
            for c in answer.citations
        )
    shown = [] if answer.refused else reply_sentences(answer.text)
    short = short_text(answer)
    return TurnResult(
        answer_type=turn.answer_type,
        short=short,
        f1=best_f1(turn.answers, short) if turn.answers else None,
        stated_cited=sum(s and q for s, q in zip(said, quoted, strict=True)),
        sentences=len(shown),
        uncited=sum(1 for s in shown if not MARKER.search(s)),
        item=item,
        turn=number,
        kind=kind,
        question=turn.question,
        answer=answer.text,
        standalone=answer.standalone,
        answerable=turn.answerable,
        refused=answer.refused,
        facts=len(turn.facts),
        stated=stated,
        cited=cited,
        gold_rank=gold_rank,
        rationale_cited=rationale,
        seconds=seconds,
    )


#: CoQA's answer types, each with its own F1 in the report.
ANSWER_TYPES = ("free", "yes", "no", "unknown")


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def summarize(results: Sequence[TurnResult], k: int) -> dict[str, Any]:
    """The metrics over ``results`` (``None`` where a metric has nothing to count)."""
    answerable = [r for r in results if r.answerable and r.facts]
    with_gold = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    refused = [r for r in results if r.refused]
    rationale = [r for r in results if r.rationale_cited is not None]
    seconds = [r.seconds for r in results]
    true_refusals = sum(1 for r in unanswerable if r.refused)
    scored = [(r.answer_type, r.f1) for r in results if r.f1 is not None]
    by_type = {kind: _mean([f for t, f in scored if t == kind]) for kind in ANSWER_TYPES}
    total_sentences = sum(r.sentences for r in results)
    stated_total = sum(r.stated for r in answerable)
    return {
        "turns": len(results),
        "fact_recall": _mean([r.stated / r.facts for r in answerable]),
        "all_facts_stated": _mean([float(r.stated == r.facts) for r in answerable]),
        "citation_support": _mean([r.cited / r.facts for r in answerable]),
        f"hit@{k}": _mean([float(0 < r.gold_rank <= k) for r in with_gold]),
        "mrr": _mean([1.0 / r.gold_rank if r.gold_rank else 0.0 for r in with_gold]),
        "refusal_precision": true_refusals / len(refused) if refused and unanswerable else None,
        "refusal_recall": true_refusals / len(unanswerable) if unanswerable else None,
        "answered": _mean([float(not r.refused) for r in with_gold]),
        "coqa_f1": _mean([f for _, f in scored]),
        **{f"coqa_f1_{kind}": value for kind, value in by_type.items()},
        "rationale_cited": _mean([float(bool(r.rationale_cited)) for r in rationale]),
        # Share of the facts an answer states that a quote it cites states too: 1.0 when every
        # fact shown is cited where an article says it.
        "stated_facts_cited": (
            sum(r.stated_cited for r in answerable) / stated_total if stated_total else None
        ),
        # Share of the sentences shown as answers that carry a citation (1.0 is the promise).
        "sentences_cited": (
            1.0 - sum(r.uncited for r in results) / total_sentences if total_sentences else None
        ),
        "latency_p50_ms": float(np.percentile(seconds, 50) * 1000) if seconds else None,
        "latency_p95_ms": float(np.percentile(seconds, 95) * 1000) if seconds else None,
    }


def report_groups(results: Sequence[TurnResult], k: int) -> dict[str, dict[str, Any]]:
    """Metrics overall, for first turns and for follow-up turns."""
    return {
        "all": summarize(results, k),
        "first turns": summarize([r for r in results if r.first], k),
        "follow-ups": summarize([r for r in results if not r.first], k),
    }
