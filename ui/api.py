"""The HTTP API beside the page, on the same server: JSON answers with their citations, one
question or a conversation by id, and the library's articles (list, add files or URLs, remove).
The page's login, when set, guards it too (``ui.guard``): HTTP Basic with the same
credentials, or a bearer token (``RAG_API_TOKEN``), which OpenAI clients send as their API
key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from rag.assistant import Assistant
from rag.chat import Chat
from rag.embedder import EmbeddingError
from rag.ingest_report import IngestReport
from rag.llm import LLMError
from rag.records import ArticleInfo
from rag.retrieve import Filters
from rag.store import StoreError
from ui.conversations import Conversations
from ui.render import Glance
from ui.upload import UPLOAD_TYPES, Intake, upload_folder, upload_limit

#: The longest question taken, in characters.
QUESTION_CHARS = 4000


class Question(BaseModel):
    """One question on its own, with the same options as the page's settings."""

    question: str = Field(min_length=1, max_length=QUESTION_CHARS)
    k: int | None = Field(default=None, ge=1, le=100, description="passages to retrieve")
    mode: Literal["extractive", "llm"] | None = None
    sources: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=100, description="only these sources"
    )
    date_from: str = Field(default="", max_length=40, description="published on or after")
    date_to: str = Field(default="", max_length=40, description="published on or before")

    def filters(self) -> Filters:
        return Filters(tuple(self.sources), self.date_from, self.date_to)


class ChatQuestion(Question):
    """A question in a conversation: without ``conversation_id`` a new one starts (its
    ``k``, ``mode`` and filters hold for the whole conversation)."""

    conversation_id: str | None = Field(
        default=None, max_length=64, description="from an earlier answer"
    )


def bad_request(_: Request, exc: Exception) -> JSONResponse:
    """A request body that does not validate, as a 422 that names each problem without
    echoing the input back: an input that is not text (a lone surrogate) cannot be written
    into a reply, and would turn the client's mistake into a server error."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in errors]
    return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)


_T = TypeVar("_T")


def _checked(qa: Assistant, work: Callable[[], _T]) -> _T:
    """``work()``, with an empty library or a bad option as a clear 4xx, and a model or
    store that failed as a 502 or 503 that says why."""
    if qa.is_empty():
        raise HTTPException(status.HTTP_409_CONFLICT, "the library is empty")
    try:
        return work()
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except LLMError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(exc)) from exc
    except (StoreError, EmbeddingError) as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc


def api_router(qa: Assistant, page_conversations: Callable[[], int] = lambda: 0) -> APIRouter:
    """``/api``: ask, chat, the library's articles, and its status (``ui.guard`` checks the
    login before a request gets here)."""
    router = APIRouter(prefix="/api", tags=["api"])
    conversations = Conversations()
    _answer_routes(router, qa, conversations)
    _library_routes(router, qa, lambda: len(conversations), page_conversations)
    return router


def _answer_routes(router: APIRouter, qa: Assistant, conversations: Conversations) -> None:

    @router.post("/ask", summary="Answer one question, with citations")
    def ask(body: Question) -> dict[str, Any]:
        answer = _checked(
            qa, lambda: qa.ask(body.question, mode=body.mode, k=body.k, filters=body.filters())
        )
        return answer.to_dict()

    @router.post("/chat", summary="Answer a question in a conversation, with citations")
    def chat(body: ChatQuestion, request: Request) -> dict[str, Any]:
        if body.conversation_id is None:

            def new_chat() -> Chat:
                return qa.chat(mode=body.mode, k=body.k, filters=body.filters())

            owner = request.client.host if request.client else ""
            conversation = conversations.start(lambda: _checked(qa, new_chat), owner)
        else:
            found = conversations.get(body.conversation_id)
            if found is None:
                raise HTTPException(
                    status.HTTP_404_NOT_FOUND,
                    "no such conversation (they are kept for an hour after their last "
                    "question): start a new one without conversation_id",
                )
            conversation = found
        # One question at a time per conversation; a second one meanwhile is refused rather
        # than left waiting on a server thread.
        if not conversation.turn.acquire(blocking=False):
            raise HTTPException(
                status.HTTP_409_CONFLICT, "this conversation is answering another question"
            )
        try:
            answer = _checked(qa, lambda: conversation.chat.ask(body.question))
        finally:
            conversation.turn.release()
        return {"conversation_id": conversation.id, **answer.to_dict()}


def _library_routes(
    router: APIRouter,
    qa: Assistant,
    api_conversations: Callable[[], int],
    page_conversations: Callable[[], int],
) -> None:
    @router.get("/status", summary="The library at a glance, and the conversations held")
    def status_() -> dict[str, Any]:
        return {
            **asdict(Glance.of(qa.documents())),
            "answer_mode": qa.config.answer_mode,
            "api_conversations": api_conversations(),
            "page_conversations": page_conversations(),
        }

    @router.get("/articles", summary="The articles in the library, newest first")
    def articles() -> list[dict[str, Any]]:
        return [public(d) for d in qa.documents()]

    @router.post(
        "/articles",
        summary="Add articles from uploaded files and URLs",
        description=f"Files of the types {', '.join(UPLOAD_TYPES)}, each at most "
        f"{upload_limit(qa) // 1_000_000} MB; URLs are fetched as on the page (private "
        "addresses refused unless RAG_ALLOW_PRIVATE_URLS). A file or URL that fails is "
        "reported under `failed` and the rest land.",
    )
    def add(
        files: Annotated[list[UploadFile], File(description="article files")] = [],  # noqa: B006
        urls: Annotated[list[str], Form(description="article URLs (http/https)")] = [],  # noqa: B006
    ) -> dict[str, Any]:
        intake = Intake()
        folder, limit = upload_folder(qa), upload_limit(qa)
        for upload in files:
            intake.take_file(folder, upload.filename or "upload", upload.file, limit)
        intake.take_urls(urls)
        if not intake:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, "send files (field `files`) or URLs (field `urls`)"
            )
        return _report(intake.ingest(qa))

    @router.delete("/articles/{article_id}", summary="Remove an article (by id or id prefix)")
    def remove(article_id: str) -> list[dict[str, Any]]:
        gone = qa.remove(article_id)
        if not gone:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no article {article_id!r}")
        return [public(d) for d in gone]


def public(info: ArticleInfo) -> dict[str, Any]:
    """An article as API clients see it: without where the server read it from (``origin``
    and ``key`` may be paths on the server's disk)."""
    return {k: v for k, v in asdict(info).items() if k not in ("origin", "key")}


def _report(report: IngestReport) -> dict[str, Any]:
    return {
        "summary": report.summary(),
        "added": report.added,
        "replaced": report.replaced,
        "unchanged": report.unchanged,
        "failed": [{"source": str(f.source), "reason": f.reason} for f in report.failed],
        "chunks": report.chunks,
    }
