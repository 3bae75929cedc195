"""The HTTP API beside the page, on the same server: JSON answers with their citations, one
question or a conversation by id, and the library's articles (list, add files or URLs, remove).
The page's login, when set, guards it too: HTTP Basic with the same credentials, or a bearer
token (``RAG_API_TOKEN``), which OpenAI clients send as their API key."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile, status
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from pydantic import BaseModel, Field

from rag.assistant import Assistant
from rag.chat import Chat
from rag.embedder import EmbeddingError
from rag.ingest_report import IngestReport, LoadError
from rag.llm import LLMError
from rag.retrieve import Filters
from rag.store import StoreError
from ui.conversations import Conversations
from ui.render import Glance
from ui.upload import UPLOAD_TYPES, safe_name, upload_folder, upload_limit

basic = HTTPBasic(auto_error=False)
bearer = HTTPBearer(auto_error=False)
#: Bytes read at a time from an upload (its size is checked as it is read).
READ = 1 << 20


@dataclass(frozen=True)
class Access:
    """Who may use the API: the page's login and an API token; open when neither is set."""

    login: tuple[str, str] | None = None
    token: str | None = None

    @property
    def open(self) -> bool:
        return self.login is None and not self.token


class Question(BaseModel):
    """One question on its own, with the same options as the page's settings."""

    question: str = Field(min_length=1, max_length=4000)
    k: int | None = Field(default=None, ge=1, le=100, description="passages to retrieve")
    mode: Literal["extractive", "llm"] | None = None
    sources: list[str] = Field(default_factory=list, description="only these sources")
    date_from: str = Field(default="", description="published on or after, YYYY-MM-DD")
    date_to: str = Field(default="", description="published on or before, YYYY-MM-DD")

    def filters(self) -> Filters:
        return Filters(tuple(self.sources), self.date_from, self.date_to)


class ChatQuestion(Question):
    """A question in a conversation: without ``conversation_id`` a new one starts (its
    ``k``, ``mode`` and filters hold for the whole conversation)."""

    conversation_id: str | None = Field(default=None, description="from an earlier answer")


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def login_guard(access: Access) -> Any:
    """A dependency that asks for the page's credentials or the API token when either is set."""

    def check(
        credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)],
        token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        if access.open:
            return
        if access.login is not None and credentials is not None:
            user, password = access.login
            if _same(credentials.username, user) & _same(credentials.password, password):
                return
        if access.token and token is not None and _same(token.credentials, access.token):
            return
        needed = [
            *(["the page's login (RAG_UI_USER, RAG_UI_PASSWORD)"] if access.login else []),
            *(["the API token (RAG_API_TOKEN) as a bearer token"] if access.token else []),
        ]
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"{' or '.join(needed)} is needed",
            headers={"WWW-Authenticate": "Basic" if access.login else "Bearer"},
        )

    return check


_T = TypeVar("_T")


def _checked(qa: Assistant, work: Callable[[], _T]) -> _T:
    """``work()``, with an empty library or a bad option as a clear 4xx, and a model or
    store that failed as a 502 or 503 that says why."""
    if qa.is_empty():
        raise HTTPException(status.HTTP_409_CONFLICT, "the library is empty")
    try:
        return work()
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
    except LLMError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(exc)) from exc
    except (StoreError, EmbeddingError) as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc


def api_router(
    qa: Assistant, access: Access, page_conversations: Callable[[], int] = lambda: 0
) -> APIRouter:
    """``/api``: ask, chat, the library's articles, and its status."""
    router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(login_guard(access))])
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
    def chat(body: ChatQuestion) -> dict[str, Any]:
        if body.conversation_id is None:

            def new_chat() -> Chat:
                return qa.chat(mode=body.mode, k=body.k, filters=body.filters())

            conversation = conversations.start(lambda: _checked(qa, new_chat))
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
        return [asdict(d) for d in qa.documents()]

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
        urls: Annotated[list[str], Form(description="article URLs")] = [],  # noqa: B006
    ) -> dict[str, Any]:
        wanted = [u.strip() for u in urls if u.strip()]
        if not files and not wanted:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, "send files (field `files`) or URLs (field `urls`)"
            )
        saved, refused = _save_uploads(qa, files)
        report = qa.ingest(*saved, *wanted) if saved or wanted else IngestReport()
        report.failed[:0] = refused
        return _report(report)

    @router.delete("/articles/{article_id}", summary="Remove an article (by id or id prefix)")
    def remove(article_id: str) -> list[dict[str, Any]]:
        gone = qa.remove(article_id)
        if not gone:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no article {article_id!r}")
        return [asdict(d) for d in gone]


def _save_uploads(qa: Assistant, files: list[UploadFile]) -> tuple[list[Path], list[LoadError]]:
    """The uploads of an accepted type and size, copied into the library's upload folder;
    the others refused, each with its reason."""
    folder, limit = upload_folder(qa), upload_limit(qa)
    saved: list[Path] = []
    refused: list[LoadError] = []
    for upload in files:
        name = upload.filename or "upload"
        if Path(name).suffix.lower() not in UPLOAD_TYPES:
            refused.append(
                LoadError(name, f"not a file type the library takes ({', '.join(UPLOAD_TYPES)})")
            )
            continue
        target = folder / safe_name(name)
        # Written aside, then moved into place whole: an upload refused or cut short never
        # replaces the file of an earlier one.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False) as out:
            size = 0
            while piece := upload.file.read(READ):
                size += len(piece)
                if size > limit:
                    break
                out.write(piece)
        if size > limit:
            Path(out.name).unlink(missing_ok=True)
            refused.append(LoadError(name, f"larger than {limit // 1_000_000} MB"))
            continue
        os.replace(out.name, target)
        saved.append(target)
    return saved, refused


def _report(report: IngestReport) -> dict[str, Any]:
    return {
        "summary": report.summary(),
        "added": report.added,
        "replaced": report.replaced,
        "unchanged": report.unchanged,
        "failed": [{"source": str(f.source), "reason": f.reason} for f in report.failed],
        "chunks": report.chunks,
    }
