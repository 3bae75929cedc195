"""Fast tests of the conversation plumbing and the LLM client: no embedding model loaded."""

from __future__ import annotations

import pytest

from rag.answer import Answer
from rag.chat import condense, refers_back
from rag.config import Config
from rag.llm import LLM, LLMError

from .llm_server import LLMServer, Reply


def test_deterministic_rewrite_only_for_questions_that_lean_back() -> None:
    previous = Answer(question="Who did Raimondo meet in Beijing?", text="x")
    assert refers_back("What did he say about it?")
    assert refers_back("Since when?")
    assert not refers_back("How many Chinese companies were removed from a blacklist?")
    assert condense("What did she say?", [previous]) == "What did Raimondo say?"
    # Nothing to resolve: the question it follows up on goes beside it.
    assert condense("Since when?", [previous]).endswith(
        "(following: Who did Raimondo meet in Beijing?)"
    )
    standalone = "How many Chinese companies were removed from a blacklist?"
    assert condense(standalone, [previous]) == standalone


def test_llm_client_streams_condenses_and_explains_failures(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = LLMServer()
    try:
        config = Config.from_env(
            home=tmp_path, llm_base_url=server.state.url, llm_api_key="test-key", llm_retries=1
        )
        llm = LLM(config)
        server.state.replies.append(Reply("one two three four", piece=4))
        assert list(llm.stream([{"role": "user", "content": "hi"}])) == [
            "one ",
            "two ",
            "thre",
            "e fo",
            "ur",
        ]
        server.state.replies.append(Reply("Who did Gina Raimondo meet?"))
        history = [Answer(question="Who is Raimondo?", text="The US Commerce Secretary [1].")]
        assert llm.condense("Who did she meet?", history) == "Who did Gina Raimondo meet?"
        assert "User: Who is Raimondo?" in server.state.requests[-1]["messages"][1]["content"]
        # A stream that breaks before its first piece is asked again, once.
        server.state.replies += [Reply("x", cut_after=0), Reply("again")]
        assert "".join(llm.stream([{"role": "user", "content": "hi"}])) == "again"
        server.state.replies += [Reply("x", cut_after=0), Reply("x", cut_after=0)]
        with pytest.raises(LLMError, match=r"closed the stream without an answer \(2 tries\)"):
            list(llm.stream([{"role": "user", "content": "hi"}]))
        server.state.replies += [Reply(status=429), Reply(status=429)]
        with pytest.raises(LLMError, match="rate limiting"):
            llm.complete([{"role": "user", "content": "hi"}])
    finally:
        server.stop()


def test_a_two_part_question_is_answered_part_by_part() -> None:
    from rag.extractive import question_parts

    assert question_parts(
        "Who did Raimondo meet, and how many companies were taken off a blacklist?"
    ) == ["Who did Raimondo meet?", "how many companies were taken off a blacklist?"]
    # A part too short to stand alone keeps the question whole.
    whole = "On which day did Raimondo meet Wang Wentao, and where?"
    assert question_parts(whole) == [whole]
    assert question_parts("Who did Raimondo meet in Beijing?") == [
        "Who did Raimondo meet in Beijing?"
    ]
