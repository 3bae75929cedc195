"""An OpenAI-compatible endpoint beside the page (``/v1/chat/completions``, ``/v1/models``), so
that any OpenAI client or chat front end can talk to the library. The reply's text carries the
``[n]`` markers and a numbered list of sources; the structured citations and the short answer
come as extra ``citations`` and ``short`` fields (on the last chunk when streaming).

A chat front end sends the whole conversation with every request. The chat that answered it is
kept under a hash of the user turns it has heard, so the next request (the same turns and one
more) costs one turn, not a replay of all of them; a conversation the server no longer holds is
rebuilt from its last ``REPLAY`` user turns only."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, model_validator

from rag.answer import Answer
from rag.assistant import Assistant
from rag.chat import Chat
from ui.api import QUESTION_CHARS
from ui.conversations import Conversations

MODEL = "rag-news"
log = logging.getLogger(__name__)
#: The most messages one request may carry.
MOST_MESSAGES = 500
#: The longest message taken, in characters: an assistant turn holds an answer and its
#: sources (a few thousand characters); a user turn is a question.
MESSAGE_CHARS = 32_000
#: Earlier user turns asked again when the conversation is not held: the story a follow-up is
#: on is set by the last few turns.
REPLAY = 3


class Message(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: Annotated[str, Field(max_length=MESSAGE_CHARS)] | list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Message:
        if len(self.text()) > MESSAGE_CHARS:
            raise ValueError(f"a message is limited to {MESSAGE_CHARS} characters")
        return self

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class Completion(BaseModel):
    model: str = MODEL
    messages: list[Message] = Field(min_length=1, max_length=MOST_MESSAGES)
    stream: bool = False
    #: OpenAI's end-user id: conversations are kept apart per user as well as per turns.
    user: str = Field(default="", max_length=200)


def sources_text(answer: Answer) -> str:
    """The numbered list of sources that follows the answer's text."""
    if not answer.citations:
        return ""
    lines = ["", "", "Sources:"]
    for c in answer.citations:
        about = ", ".join(x for x in (c.source, c.published) if x)
        where = f" {c.url}" if c.url else ""
        lines.append(
            f"[{c.n}] {c.title}{f' ({about})' if about else ''}: \u201c{c.quote}\u201d{where}"
        )
    return "\n".join(lines)


def citations(answer: Answer) -> list[dict[str, Any]]:
    return [dict(c.__dict__) for c in answer.citations]


def short(answer: Answer) -> dict[str, Any] | None:
    """The short answer (text, citation, span), as an extra field beside the citations."""
    return dict(answer.short.__dict__) if answer.short is not None else None


def turns_key(user: str, questions: Sequence[str]) -> str:
    """The key of the chat that has heard ``questions``, in order."""
    return hashlib.sha256(json.dumps([user, *questions]).encode()).hexdigest()


class OpenAIChats:
    """The chats of the OpenAI endpoint, kept by the turns they have heard."""

    def __init__(self, qa: Assistant) -> None:
        self.qa = qa
        self.kept = Conversations()

    def questions(self, body: Completion) -> list[str]:
        """The user turns of the request; the last is the question to answer."""
        questions = [m.text().strip() for m in body.messages if m.role == "user"]
        questions = [q for q in questions if q]
        if not questions:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "no user message with text to answer")
        if len(questions[-1]) > QUESTION_CHARS:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"the question is limited to {QUESTION_CHARS} characters",
            )
        if self.qa.is_empty():
            raise HTTPException(status.HTTP_409_CONFLICT, "the library is empty")
        return questions

    def chat_for(self, user: str, earlier: Sequence[str]) -> Chat:
        """A chat that has heard the ``earlier`` user turns: the one kept after them, forked
        (a regenerated reply starts from the same point), else one rebuilt from the last few."""
        kept = self.kept.get(turns_key(user, earlier))
        if kept is not None:
            return kept.chat.fork()
        chat = self.qa.chat()
        for question in earlier[-REPLAY:]:
            chat.ask(question)
        return chat

    def keep(self, user: str, heard: Sequence[str], chat: Chat, owner: str) -> None:
        self.kept.put(turns_key(user, heard), chat, owner)


def _chunk(cid: str, created: int, delta: dict[str, Any], finish: str | None = None) -> str:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def openai_router(qa: Assistant) -> APIRouter:
    """``/v1``: the models list and chat completions (``ui.guard`` checks the login)."""
    router = APIRouter(prefix="/v1", tags=["openai"])

    @router.get("/models", summary="The one model: the library")
    def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "rag-news"}],
        }

    chats = OpenAIChats(qa)

    @router.post("/chat/completions", summary="A cited answer, as an OpenAI chat completion")
    def completions(body: Completion, request: Request) -> Any:
        questions = chats.questions(body)
        owner = request.client.host if request.client else ""
        chat = chats.chat_for(body.user, questions[:-1])
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

        def done() -> None:
            chats.keep(body.user, questions, chat, owner)

        if body.stream:
            return StreamingResponse(
                _streamed(chat, questions[-1], cid, created, done), media_type="text/event-stream"
            )
        answer = chat.ask(questions[-1])
        done()
        return {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text + sources_text(answer)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": citations(answer),
            "short": short(answer),
        }

    return router


def _streamed(
    chat: Chat, question: str, cid: str, created: int, done: Callable[[], None]
) -> Iterator[str]:
    """The answer as server-sent events; a failure mid-way ends the stream with an error
    event and ``[DONE]``, so the client is told rather than left with a cut reply."""
    yield _chunk(cid, created, {"role": "assistant", "content": ""})
    try:
        stream = chat.stream(question)
        for piece in stream:
            yield _chunk(cid, created, {"content": piece})
        answer = stream.answer
    except Exception as exc:
        log.warning("a streamed answer failed: %s", exc, exc_info=True)
        error = {"error": {"message": _reason(exc), "type": "server_error"}}
        yield f"data: {json.dumps(error)}\n\n"
        yield "data: [DONE]\n\n"
        return
    done()
    tail = sources_text(answer)
    if tail:
        yield _chunk(cid, created, {"content": tail})
    last = json.loads(_chunk(cid, created, {}, "stop")[len("data: ") :])
    last["citations"] = citations(answer)
    last["short"] = short(answer)
    yield f"data: {json.dumps(last, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


def _reason(exc: Exception) -> str:
    """One line for the client: what failed, never a traceback."""
    text = " ".join(str(exc).split())[:300]
    return f"the answer failed: {text or type(exc).__name__}"
