"""An OpenAI-compatible endpoint beside the page (``/v1/chat/completions``, ``/v1/models``), so
that any OpenAI client or chat front end can talk to the library. The reply's text carries the
``[n]`` markers and a numbered list of sources; the structured citations come as an extra
``citations`` field (on the last chunk when streaming)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from rag.answer import Answer
from rag.assistant import Assistant
from rag.chat import Chat
from ui.api import Access, login_guard

MODEL = "rag-news"


class Message(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class Completion(BaseModel):
    model: str = MODEL
    messages: list[Message] = Field(min_length=1)
    stream: bool = False


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


def _conversation(qa: Assistant, body: Completion) -> tuple[Chat, str]:
    """A chat that has heard the earlier user turns, and the question to answer now."""
    questions = [m.text().strip() for m in body.messages if m.role == "user" and m.text().strip()]
    if not questions:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "no user message with text to answer")
    if qa.is_empty():
        raise HTTPException(status.HTTP_409_CONFLICT, "the library is empty")
    chat = qa.chat()
    for earlier in questions[:-1]:  # the earlier turns set the story the follow-up is on
        chat.ask(earlier)
    return chat, questions[-1]


def _chunk(cid: str, created: int, delta: dict[str, Any], finish: str | None = None) -> str:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def openai_router(qa: Assistant, access: Access) -> APIRouter:
    """``/v1``: the models list and chat completions."""
    router = APIRouter(prefix="/v1", tags=["openai"], dependencies=[Depends(login_guard(access))])

    @router.get("/models", summary="The one model: the library")
    def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "rag-news"}],
        }

    @router.post("/chat/completions", summary="A cited answer, as an OpenAI chat completion")
    def completions(body: Completion) -> Any:
        chat, question = _conversation(qa, body)
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if body.stream:
            return StreamingResponse(
                _streamed(chat, question, cid, created), media_type="text/event-stream"
            )
        answer = chat.ask(question)
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
        }

    return router


def _streamed(chat: Chat, question: str, cid: str, created: int) -> Iterator[str]:
    yield _chunk(cid, created, {"role": "assistant", "content": ""})
    stream = chat.stream(question)
    for piece in stream:
        yield _chunk(cid, created, {"content": piece})
    answer = stream.answer
    tail = sources_text(answer)
    if tail:
        yield _chunk(cid, created, {"content": tail})
    last = json.loads(_chunk(cid, created, {}, "stop")[len("data: ") :])
    last["citations"] = citations(answer)
    yield f"data: {json.dumps(last, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"
