"""A conversation: it keeps its history, rewrites a follow-up into a standalone question, keeps
to the story it is on (see ``rag.story``) and hands the passages to the answerer."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from rag.answer import Answer, Draft
from rag.extractive import ChatContext, question_parts
from rag.references import refers_back, resolve, still_leans_back
from rag.retrieve import Filters, Passage, Retriever
from rag.story import Story, moves_away, words_of
from rag.terms import terms

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rag.records import Article


def condense(question: str, history: Sequence[Answer]) -> str:
    """The deterministic rewrite of a follow-up: its pronouns resolved to the names they point
    at; where something is left unresolved, the question it follows up on goes beside it."""
    if not history or not refers_back(question):
        return question
    resolved = resolve(question, history)
    if resolved and not still_leans_back(resolved):
        return resolved
    previous = history[-1].question.strip()
    return f"{(resolved or question).strip()} (following: {previous})"


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
    #: The articles the conversation is about (``story.articles``).
    story: Story = field(default_factory=Story)
    #: The articles this turn is answered from (empty: the whole library).
    _focus: tuple[str, ...] = ()
    _articles: dict[str, Passage | None] = field(default_factory=dict)
    _words: dict[str, set[str]] = field(default_factory=dict)
    #: This turn's search of the whole library (question, passages), reused where the turn
    #: would search the same again.
    _searched: tuple[str, list[Passage]] | None = None
    #: The story and context before each turn of ``history``, for ``undo``.
    _before: list[tuple[Story, ChatContext]] = field(default_factory=list)

    def ask(self, question: str) -> Answer:
        """Answer ``question`` in the light of the conversation so far."""
        return self.stream(question).answer

    def stream(self, question: str) -> AnswerStream:
        """Answer ``question``, yielding the text as it comes (see ``AnswerStream``)."""
        return AnswerStream(self._turn(question))

    def reset(self) -> None:
        """Start over: forget the history and the focus."""
        self.history.clear()
        self._before.clear()
        self.context = ChatContext()
        self.story.clear()

    def undo(self) -> Answer | None:
        """Take back the last turn: the chat is as it was before it was asked."""
        if not self.history:
            return None
        self.story, self.context = self._before.pop()
        return self.history.pop()

    def fork(self) -> Chat:
        """A copy that goes on by itself from this point: its turns change neither chat."""
        return replace(
            self,
            history=list(self.history),
            context=replace(self.context),
            story=self.story.copy(),
            _before=list(self._before),
            _articles=dict(self._articles),
            _words=dict(self._words),
        )

    def leave_story(self) -> None:
        """Stop keeping to the story: the next question is answered from the whole library
        (the history stays, so a follow-up can still refer back)."""
        self.story = Story()

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
        """Passages for one question: from the story while the chat stays on it."""
        focus = self._focus
        if not focus:
            return self._search_library(standalone)
        found = self.retriever.search(standalone, self.k, replace(self.filters, article_ids=focus))
        # The story's leading article first: it is what the conversation is about.
        found.sort(key=lambda p: focus.index(p.article_id))
        return found or self._search_library(standalone)

    def _search_library(self, question: str) -> list[Passage]:
        """The whole library's best passages for ``question``: a first question is searched
        once, not again for its answer (16 ms a turn at 100,000 chunks)."""
        if self._searched is not None and self._searched[0] == question:
            return list(self._searched[1])
        found = self.retriever.search(question, self.k, self.filters)
        self._searched = (question, list(found))
        return found

    def _stays_on_story(self, question: str, story: Story) -> bool:
        """Whether this turn is answered from ``story`` (which hears the question's search):
        unless the question names something the story lacks and the best other article
        found for it has."""
        found = self._search_library(question)
        story.hear(found)
        rival = story.rival()
        if rival is not None:
            # The questions keep finding another article: the story was taken wrongly.
            story.switch(rival)
            return True
        focus = story.articles
        if not focus:
            return False
        other = next((p.article_id for p in found if p.article_id not in focus), None)
        if other is None:
            return True
        idf = self.retriever.keyword.idf(terms(question))
        story_terms = set().union(*(self._terms(a) for a in focus))
        leans_back = refers_back(question)
        return not moves_away(question, leans_back, idf, story_terms, self._terms(other))

    def _widened(self, question: str, story: Story) -> tuple[str, ...]:
        """The story's focus, and an article the conversation cited before but drifted from
        when the question asks about what only that one has: on a story of two articles, "And
        how many companies?" where the leading article never mentions a company. Not one the
        chat moved away from: on coqa-cnn-dev that was a wrong first story, and widening to it
        cited another article in 2 more follow-ups of 468 (``python -m eval.coqa``)."""
        focus = story.articles
        words = set(terms(question))
        if not focus or not words or words & set().union(*(self._terms(a) for a in focus)):
            return focus
        remembered = sorted(
            (a for a in story.weights if a not in focus and a not in story.left),
            key=lambda a: story.weights[a],
        )
        for article_id in reversed(remembered):
            if words <= self._terms(article_id):
                return (*focus, article_id)
        return focus

    def _terms(self, article_id: str) -> set[str]:
        """The stemmed words of an article (computed once per article and chat)."""
        if article_id not in self._words:
            passages = self._story_passages([article_id])
            self._words[article_id] = words_of(p.text for p in passages)
        return self._words[article_id]

    def story_articles(self) -> list[Passage]:
        """The articles the chat is on, whole (title, date, text), the main one first."""
        return self._story_passages(self.story.articles)

    def _story_passages(self, focus: Sequence[str]) -> list[Passage]:
        """The focused articles whole, as passages (fetched once per article and chat)."""
        out = []
        for article_id in focus:
            if article_id not in self._articles:
                article = self.retriever.store.article(article_id)
                self._articles[article_id] = None if article is None else whole(article_id, article)
            passage = self._articles[article_id]
            if passage is not None:
                out.append(passage)
        return out

    def _turn(self, question: str) -> Generator[str, None, Answer]:
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        timings: dict[str, float] = {}
        began = time.perf_counter()
        standalone = self.rewrite(question, self.history) if self.history else question
        timings["rewrite"] = time.perf_counter() - began
        began = time.perf_counter()
        # A search is reused within its turn only: the library may change between turns.
        self._searched = None
        # The turn works on a copy: a turn that fails leaves the chat's story as it was.
        story = self.story.copy()
        on_story = self._stays_on_story(question, story)
        self._focus = self._widened(question, story) if on_story else ()
        passages = self.retrieve(standalone)
        self._searched = None
        self.context.story = tuple(self._story_passages(self._focus))
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
            mode=draft.mode or self.answerer.mode,
            passages=passages,
            dropped_markers=draft.dropped_markers,
            unsupported=draft.unsupported,
            set_apart=draft.set_apart,
            timings=timings,
            short=draft.short,
        )
        if not answer.refused:
            story.follow(answer.citations, moved=not on_story)
        answer = replace(answer, story=story.articles)
        # Only a finished turn joins the history: a failed one leaves the chat as it was.
        self._before.append((self.story, replace(self.context)))
        self.history.append(answer)
        self.context.remember(answer.citations)
        self.story = story
        return answer


def whole(article_id: str, article: Article) -> Passage:
    """An article as one passage, so that every sentence of it can be a candidate."""
    return Passage(
        chunk_id="",
        article_id=article_id,
        text=article.text,
        start=0,
        end=len(article.text),
        title=article.title,
        url=article.url,
        source=article.source,
        published=article.published,
        score=0.0,
        dense_rank=None,
        keyword_rank=None,
    )
