"""The HTTP API beside the page, on the same server: JSON answers with their citations, and
the library's articles. The page's login, when set, guards it too (HTTP Basic with the same
credentials)."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field

from rag.assistant import Assistant
from rag.retrieve import Filters

basic = HTTPBasic(auto_error=False)


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


def login_guard(auth: tuple[str, str] | None) -> Any:
    """A dependency that asks for the page's credentials when there is a login."""

    def check(
        credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)],
    ) -> None:
        if auth is None:
            return
        if credentials is not None:
            user_ok = secrets.compare_digest(credentials.username.encode(), auth[0].encode())
            password_ok = secrets.compare_digest(credentials.password.encode(), auth[1].encode())
            if user_ok and password_ok:
                return
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the page's login (RAG_UI_USER, RAG_UI_PASSWORD) is needed",
            headers={"WWW-Authenticate": "Basic"},
        )

    return check


def api_router(qa: Assistant, auth: tuple[str, str] | None) -> APIRouter:
    """``/api``: ask, and list the library."""
    router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(login_guard(auth))])

    @router.post("/ask", summary="Answer one question, with citations")
    def ask(body: Question) -> dict[str, Any]:
        if not qa.documents():
            raise HTTPException(status.HTTP_409_CONFLICT, "the library is empty")
        try:
            answer = qa.ask(body.question, mode=body.mode, k=body.k, filters=body.filters())
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
        return answer.to_dict()

    @router.get("/articles", summary="The articles in the library, newest first")
    def articles() -> list[dict[str, Any]]:
        return [asdict(d) for d in qa.documents()]

    return router
