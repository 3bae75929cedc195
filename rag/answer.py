"""What a question gets back: the answer text with ``[n]`` markers and the citations they name."""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from typing import Any

from rag.retrieve import Passage


@dataclass(frozen=True)
class Citation:
    """The source behind marker ``[n]``: an exact quote and where it sits in the article.

    ``assistant.article(article_id).text[start:end] == quote`` always holds, so a page can
    highlight the quote in its article and a test can check it.
    """

    #: The number in the answer's ``[n]`` marker.
    n: int
    article_id: str
    title: str
    source: str
    url: str
    #: ISO date ``YYYY-MM-DD``, or ``""`` when the article has none.
    published: str
    #: The sentence (or part of one) of the article that supports the answer.
    quote: str
    #: Character span of ``quote`` in the stored article text.
    start: int
    end: int
    #: The retrieved chunk the quote was taken from.
    chunk_id: str = ""


@dataclass(frozen=True)
class Short:
    """What a person would answer, as the answer states it first: a span of citation ``n``'s
    quote (a name, a number, a date, a phrase), or "Yes"/"No" settled by that quote.

    For a span, ``assistant.article(...).text[start:end] == text``; for yes or no, ``start``
    and ``end`` are the settling quote's span."""

    text: str
    #: The citation whose quote holds it (or settles it).
    n: int
    #: Character span in the stored article text.
    start: int
    end: int
    #: ``span``, ``yes`` or ``no``.
    kind: str = "span"


class ShortText(str):
    """The short answer as a piece of a streamed answer, so that a terminal or a page can set
    it apart (it is a ``str``: everything else takes it as text)."""


@dataclass(frozen=True)
class Answer:
    """An answer to one question (or one turn of a chat)."""

    #: The question as it was asked.
    question: str
    #: The answer, with ``[n]`` markers that name ``citations``.
    text: str
    #: Every citation the text's markers name, in the order of their numbers.
    citations: list[Citation] = field(default_factory=list)
    #: The standalone question retrieval used: a follow-up rewritten from the chat history,
    #: or the question itself.
    standalone: str = ""
    #: True when the articles do not answer the question and the text says so.
    refused: bool = False
    #: ``extractive`` or ``llm``.
    mode: str = "extractive"
    #: The passages retrieved for the question, best first (the LLM saw them numbered 1..n).
    passages: list[Passage] = field(default_factory=list)
    #: Markers in the LLM's reply removed from ``text``: they named no passage, or a passage
    #: that does not support the sentence they end.
    dropped_markers: int = 0
    #: Sentences of the LLM's reply that no passage supports: never part of ``text``.
    unsupported: int = 0
    #: Those sentences, when the config says to show them apart ("not found in the articles").
    set_apart: tuple[str, ...] = ()
    #: Seconds spent on each step: ``rewrite``, ``retrieve``, ``answer``.
    timings: dict[str, float] = field(default_factory=dict)
    #: Ids of the articles the conversation is on after this turn, the main one first.
    story: tuple[str, ...] = ()
    #: The short answer the text leads with; None when there is none (a refusal, or an
    #: answer written by a model).
    short: Short | None = None

    @property
    def rewritten(self) -> bool:
        """Whether retrieval used a question other than the one typed."""
        return self.standalone.strip() != self.question.strip()

    def to_dict(self) -> dict[str, Any]:
        """The answer as JSON-ready data (the passages by id, title and score)."""
        payload = asdict(self)
        payload["passages"] = [
            {"chunk_id": p.chunk_id, "article_id": p.article_id, "title": p.title, "score": p.score}
            for p in self.passages
        ]
        return payload

    def citation(self, n: int) -> Citation:
        """The citation behind marker ``[n]``."""
        for c in self.citations:
            if c.n == n:
                return c
        raise KeyError(f"no citation [{n}] in this answer")


@dataclass(frozen=True)
class Draft:
    """What an answerer hands back once its text has streamed."""

    text: str
    citations: list[Citation]
    refused: bool = False
    dropped_markers: int = 0
    short: Short | None = None
    unsupported: int = 0
    set_apart: tuple[str, ...] = ()
    #: The mode that wrote the text, when not the answerer's own: ``extractive`` when an LLM's
    #: reply held nothing supported and the extractive answer stands in for it.
    mode: str = ""


def drain(answer: Generator[str, None, Draft]) -> Draft:
    """The draft an answerer returns, its streamed pieces unused."""
    while True:
        try:
            next(answer)
        except StopIteration as done:
            return done.value


#: A citation marker: ``[3]``, or several numbers in one ``[1, 2]``.
MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


def strip_markers(text: str) -> str:
    """``text`` without its citation markers."""
    return MARKER.sub("", text)


#: What an answer says when the articles do not support one.
REFUSAL = "The articles in the library do not answer this question."
