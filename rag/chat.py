"""A conversation: it keeps its history, rewrites a follow-up into a standalone question, keeps
its focus on the articles it has cited (a follow-up moves away only when the evidence says so),
and hands the passages to the answerer."""

from __future__ import annotations

import re
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from rag.answer import Answer, Draft
from rag.extractive import ChatContext, question_parts
from rag.retrieve import Filters, Passage, Retriever

if TYPE_CHECKING:
    from collections.abc import Sequence

#: A follow-up stays on the articles of the conversation unless an article outside them is
#: this much more similar to the question than the best passage inside them.
MOVE_AWAY_MARGIN = 0.25

_REFERS_BACK = re.compile(
    r"\b(he|she|him|her|his|hers|it|its|they|them|their|theirs|this|that|these|those|"
    r"there|then|such|the same|the other|else|also|too|either)\b",
    re.I,
)
_OPENS_FOLLOW_UP = re.compile(r"^\s*(and|but|so|or|what about|how about|why|why not)\b", re.I)


def refers_back(question: str) -> bool:
    """Whether a question leans on what came before (pronouns, "and ...", a bare fragment)."""
    words = re.findall(r"\w+", question)
    return len(words) <= 4 or bool(
        _REFERS_BACK.search(question) or _OPENS_FOLLOW_UP.search(question)
    )


def condense(question: str, history: Sequence[Answer]) -> str:
    """The deterministic rewrite of a follow-up: the question, then what it follows up on."""
    if not history or not refers_back(question):
        return question
    previous = history[-1].question.strip()
    return f"{question.strip()} (following: {previous})"


class Answerer(Protocol):
    mode: str

    def answer(
        self,
        question: str,
        standalone: str,
        passages: Sequence[Passage],
        context: ChatContext | None = None,
        history: Sequence[tuple[str, str]] = (),
    ) -> Generator[str, None, Draft]: ...


class Rewriter(Protocol):
    def __call__(self, question: str, history: Sequence[Answer]) -> str: ...


class AnswerStream:
    """The pieces of an answer as they come; ``.answer`` is the whole once they are done.

    >>> stream = chat.stream("Who did Raimondo meet?")
    >>> for piece in stream: print(piece, end="")
    >>> stream.answer.citations
    """

    def __init__(self, pieces: Generator[str, None, Answer]) -> None:
        self._pieces = pieces
        self._answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        if self._answer is None:
            self._answer = yield from self._pieces

    @property
    def answer(self) -> Answer:
        """The finished answer (reads the rest of the stream first if need be)."""
        for _ in self:
            pass
        assert self._answer is not None
        return self._answer


@dataclass
class Chat:
    """One conversation over the library. Use ``Assistant.chat()`` to start one."""

    retriever: Retriever
    answerer: Answerer
    rewrite: Rewriter = condense
    k: int = 5
    filters: Filters = field(default_factory=Filters)
    history: list[Answer] = field(default_factory=list)
    context: ChatContext = field(default_factory=ChatContext)
    #: Articles the conversation is about: those cited in its latest answer.
    focus: tuple[str, ...] = ()

    def ask(self, question: str) -> Answer:
        """Answer ``question`` in the light of the conversation so far."""
        return self.stream(question).answer

    def stream(self, question: str) -> AnswerStream:
        """Answer ``question``, yielding the text as it comes (see ``AnswerStream``)."""
        return AnswerStream(self._turn(question))

    def reset(self) -> None:
        """Start over: forget the history and the focus."""
        self.history.clear()
        self.context = ChatContext()
        self.focus = ()

    def retrieve(self, standalone: str) -> list[Passage]:
        """Passages for the standalone question; a two-part question gets passages for each
        part in turn, so that both parts can be answered."""
        asks = question_parts(standalone)
        if len(asks) == 1:
            return self._retrieve(standalone)
        ranked = [self._retrieve(a) for a in asks]
        merged: dict[str, Passage] = {}
        for rank in range(self.k):
            for found in ranked:
                if rank < len(found) and len(merged) < self.k:
                    merged.setdefault(found[rank].chunk_id, found[rank])
        return list(merged.values())

    def _retrieve(self, standalone: str) -> list[Passage]:
        """Passages for one question, kept on the chat's focus unless the evidence for
        another article is clearly stronger."""
        found = self.retriever.search(standalone, self.k, self.filters)
        if not self.focus:
            return found
        inside = self.retriever.search(
            standalone, self.k, replace(self.filters, article_ids=self.focus)
        )
        if not inside:
            return found
        best_inside = max((p.similarity or 0.0) for p in inside)
        outside = [p for p in found if p.article_id not in self.focus]
        if outside and (outside[0].similarity or 0.0) > best_inside + MOVE_AWAY_MARGIN:
            return found
        # The focus first, then the best of the rest, so the answer can still move away.
        keep = max(1, self.k - 2)
        merged = inside[:keep]
        merged += [p for p in found if p.chunk_id not in {m.chunk_id for m in merged}]
        return merged[: self.k]

    def _turn(self, question: str) -> Generator[str, None, Answer]:
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        timings: dict[str, float] = {}
        began = time.perf_counter()
        standalone = self.rewrite(question, self.history) if self.history else question
        timings["rewrite"] = time.perf_counter() - began
        began = time.perf_counter()
        passages = self.retrieve(standalone)
        timings["retrieve"] = time.perf_counter() - began
        began = time.perf_counter()
        history = [(a.question, a.text) for a in self.history]
        draft = yield from self.answerer.answer(
            question, standalone, passages, self.context, history
        )
        timings["answer"] = time.perf_counter() - began
        answer = Answer(
            question=question,
            text=draft.text,
            citations=draft.citations,
            standalone=standalone,
            refused=draft.refused,
            mode=self.answerer.mode,
            passages=passages,
            dropped_markers=draft.dropped_markers,
            timings=timings,
        )
        # Only a finished turn joins the history: a failed one leaves the chat as it was.
        self.history.append(answer)
        self.context.remember(answer.citations)
        if answer.citations:
            self.focus = tuple(dict.fromkeys(c.article_id for c in answer.citations))
        return answer
