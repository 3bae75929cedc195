"""The short answer: what a question asks for (its type, yes or no), the span the fitted reader
chooses in a sentence, yes or no from the sentence that settles it, and through a real chat:
the answer leads with it, it is a span of the cited quote at its place in the article."""

from __future__ import annotations

import numpy as np
import pytest

from rag import yesno
from rag.reader import Candidates, choose, fitted, read
from rag.spans import question_type

RAIMONDO = (
    "Beijing [China], August 28 : US Commerce Secretary Gina Raimondo who met with her Chinese "
    "counterpart Wang Wentao on Monday said the two countries agreed to set up a working group."
)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who auditioned?", "who"),
        ("And when was that?", "when"),
        ("How many sentences are there", "count"),
        ("How old is he now?", "measure"),
        ("Where is he from", "where"),
        ("Why did he leave?", "why"),
        ("For what role", "what"),
        ("Is it public or private?", "choice"),
    ],
)
def test_the_question_says_what_it_asks_for(question: str, kind: str) -> None:
    assert question_type(question) == kind


@pytest.mark.parametrize(
    ("question", "yes_no"),
    [
        ("Did he have children?", True),
        ("And was he alone in his car?", True),
        ("Is Genevieve currently in custody?", True),
        ("Is it a public or private organization?", False),
        ("Can you name one of the defendants?", False),
        ("Who did he meet?", False),
        ("Any others?", False),
    ],
)
def test_a_yes_no_question_is_told_from_others(question: str, yes_no: bool) -> None:
    assert yesno.is_yes_no(question) is yes_no


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("Who did Gina Raimondo meet in Beijing?", RAIMONDO, "counterpart Wang Wentao"),
        (
            "How many sentences are there",
            "Maurice Sendak's 1963 book has only 10 sentences, but it fills a film.",
            "10",
        ),
        (
            "When did the harbour reopen?",
            "The harbour of Zorvath reopened on Tuesday after the storm had passed.",
            "Tuesday",
        ),
    ],
)
def test_the_reader_chooses_the_asked_for_span(question: str, sentence: str, expected: str) -> None:
    found = read(question, question, [sentence])
    assert found is not None
    said = sentence[found.start : found.end]
    # The asked-for thing, with at most a few words of what it is ("her counterpart ...").
    assert expected.split()[-1] in said and len(said.split()) <= len(expected.split()) + 2, said


def test_a_short_answer_never_cuts_a_quotation_in_half() -> None:
    from rag.reader import candidates

    sentence = (
        "National Security Advisor Jake Sullivan has called export controls the “new strategic "
        "asset” for imposing “costs on adversaries” and keeping the US ahead, but China has "
        "condemned them."
    )
    question = "What did Jake Sullivan call export controls?"
    found = read(question, question, [sentence])
    assert found is not None
    # Before, the reader chose 'the “new strategic asset' (its opening mark, not its closing).
    assert sentence[found.start : found.end] == "new strategic asset"
    every = candidates(question, question, [sentence], read=False)
    spans = [sentence[a:b] for a, b in zip(every.starts, every.ends, strict=True)]
    assert "new strategic asset" in spans and "costs on adversaries" in spans
    whole = sentence.rstrip(".")
    cut = [s for s in spans if s != whole and sum(map(s.count, '“”"')) % 2]
    assert cut == []


def test_the_reader_prefers_a_span_that_holds_the_likely_ones() -> None:
    """Minimum Bayes risk: three one-word spans of equal score inside one phrase lose to the
    phrase that holds them all, which scores less but overlaps each."""
    x = np.array([[1.0], [1.0], [1.0], [0.5]])
    found = Candidates(
        sentence=np.zeros(4, np.int64),
        starts=np.array([0, 6, 12, 0]),
        ends=np.array([5, 11, 17, 17]),
        x=x,
        lo=np.array([0, 1, 2, 0]),
        hi=np.array([1, 2, 3, 3]),
    )
    assert choose(found, np.array([1.0])) == 3


@pytest.mark.parametrize(
    ("question", "sentence", "yes"),
    [
        (
            "Did he have children?",
            "Schur and his wife, Marian, who died more than a year ago, did not have any children.",
            False,
        ),
        (
            "Does the US know where Gadhafi is?",
            "The United States does not know where ousted Libyan leader Moammar Gadhafi is.",
            False,
        ),
        (
            "Is Genevieve currently in custody?",
            "Genevieve Kelley is in custody and will face justice for these charges.",
            True,
        ),
    ],
)
def test_yes_or_no_follows_the_settling_sentence(question: str, sentence: str, yes: bool) -> None:
    w, _ = fitted("yes_no", yesno.FEATURES)
    assert yesno.says_yes(question, question, sentence, w) is yes


HARBOUR = (
    "Zorvath harbour reopens\n\n"
    "The harbour of Zorvath reopened on Tuesday after a week of storms. Harbour master Ilse "
    "Brandqvist said 41 ships had waited offshore. Schur, the port's owner, did not attend.\n"
)


@pytest.fixture
def harbour(assistant, tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "harbour.txt"
    path.write_text(HARBOUR, "utf-8")
    assert assistant.ingest(path).ok
    return assistant


@pytest.mark.slow
def test_the_answer_leads_with_the_short_answer_from_the_sentence_that_holds_it(harbour) -> None:  # type: ignore[no-untyped-def]
    answer = harbour.ask("Who is the harbour master of Zorvath?")
    short = answer.short
    assert short is not None and short.text == "Ilse Brandqvist", answer.text
    first = answer.citations[0]
    assert short.n == first.n == 1 and "Harbour master" in first.quote
    article = harbour.article(first.article_id)
    assert article.text[short.start : short.end] == short.text
    assert answer.text.startswith(f"{short.text}: {first.quote} [1]")


@pytest.mark.slow
def test_a_yes_no_question_gets_yes_or_no_with_the_sentence_that_settles_it(harbour) -> None:  # type: ignore[no-untyped-def]
    chat = harbour.chat()
    chat.ask("Who owns the port of Zorvath?")
    answer = chat.ask("Did Schur attend the reopening?")
    assert answer.short is not None and answer.short.kind == "no", answer.text
    assert answer.text.startswith("No: ") and "did not attend" in answer.citations[0].quote
    assert (answer.short.start, answer.short.end) == (
        answer.citations[0].start,
        answer.citations[0].end,
    )


@pytest.mark.slow
def test_a_refusal_has_no_short_answer(harbour) -> None:  # type: ignore[no-untyped-def]
    answer = harbour.ask("What is the capital of Australia?")
    assert answer.refused and answer.short is None and answer.to_dict()["short"] is None


@pytest.mark.slow
def test_a_lone_chosen_sentence_can_be_read_beside_the_next_best_cited_when_it_answers(
    harbour, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from rag import extractive
    from rag.answer import drain
    from rag.choice import FEATURES

    # A choice that ranks sentences by length alone picks the opening sentence, well ahead
    # of the harbour master's (more than ``SECOND_WITHIN``), so it is chosen alone.
    w = np.zeros(len(FEATURES))
    w[FEATURES.index("words")] = 60.0
    answerer = extractive.ExtractiveAnswerer(harbour.scorer, choice_weights=w)
    monkeypatch.setattr(extractive, "READ_SPARE", True)
    question = "Who is the harbour master of Zorvath?"
    passages = harbour.retriever.search(question, harbour.config.top_k)
    draft = drain(answerer.answer(question, question, passages))
    assert draft.short is not None and draft.short.text == "Ilse Brandqvist", draft.text
    quotes = [c.quote for c in draft.citations]
    assert [c.n for c in draft.citations] == [1, 2] and draft.short.n == 1
    assert "Harbour master" in quotes[0] and quotes[1].startswith("The harbour of Zorvath")

    monkeypatch.setattr(extractive, "READ_SPARE", False)
    alone = drain(answerer.answer(question, question, passages))
    assert [c.quote for c in alone.citations] == quotes[1:]
    assert alone.short is not None and "Brandqvist" not in alone.short.text
