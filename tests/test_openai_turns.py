"""The OpenAI endpoint costs one turn per request: a chat front end sends the whole
conversation each time, and the chat that answered the earlier turns is kept, so none of them
is asked again; a stream that fails ends with an error event and ``[DONE]``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rag.chat import Chat
from rag.store import StoreError
from ui.openai_api import REPLAY, openai_router

from .conftest import SAMPLES

pytestmark = pytest.mark.slow

QUESTIONS = [
    "Which companies were removed from a blacklist?",
    "How many of them were there?",
    "Who did Gina Raimondo meet in Beijing?",
    "What did he say about trade?",
]


@pytest.fixture
def client(assistant: Any) -> Iterator[TestClient]:
    assert assistant.ingest(SAMPLES).ok
    app = FastAPI()
    app.include_router(openai_router(assistant))
    with TestClient(app) as c:
        yield c


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every question a chat answers, in order (the real chat answers them)."""
    questions: list[str] = []
    turn = Chat._turn

    def counted(self: Chat, question: str) -> Any:
        questions.append(question)
        return turn(self, question)

    monkeypatch.setattr(Chat, "_turn", counted)
    return questions


def _messages(turns: list[str], replies: list[str]) -> list[dict[str, str]]:
    out = []
    for n, question in enumerate(turns):
        out.append({"role": "user", "content": question})
        if n < len(replies):
            out.append({"role": "assistant", "content": replies[n]})
    return out


def test_each_request_asks_only_its_own_question(client: TestClient, asked: list[str]) -> None:
    replies: list[str] = []
    for n in range(len(QUESTIONS)):
        body = {"messages": _messages(QUESTIONS[: n + 1], replies), "stream": n % 2 == 1}
        got = client.post("/v1/chat/completions", json=body)
        assert got.status_code == 200, got.text
        replies.append(got.text)
        assert asked == QUESTIONS[: n + 1], "an earlier turn was asked again"
    # A regenerated last reply starts from the same point: still one question.
    again = {"messages": _messages(QUESTIONS, replies[:-1])}
    assert client.post("/v1/chat/completions", json=again).status_code == 200
    assert asked == [*QUESTIONS, QUESTIONS[-1]]


def test_a_conversation_not_held_is_rebuilt_from_its_last_turns(
    client: TestClient, asked: list[str]
) -> None:
    history = [f"What did Raimondo say about topic {n}?" for n in range(20)]
    body = {"messages": _messages([*history, QUESTIONS[0]], ["..."] * 20)}
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    assert asked == [*history[-REPLAY:], QUESTIONS[0]]


def test_a_failing_stream_ends_with_an_error_and_done(
    client: TestClient, assistant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("the library's store is unreachable")

    monkeypatch.setattr(assistant.retriever, "search", broken)
    body = {"messages": [{"role": "user", "content": QUESTIONS[0]}], "stream": True}
    got = client.post("/v1/chat/completions", json=body)
    events = [line[len("data: ") :] for line in got.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])["error"]
    assert "unreachable" in error["message"] and "Traceback" not in got.text
