"""Every kind of failure of a turn becomes one line for the page's status."""

from __future__ import annotations

import httpx
import pytest

from rag.embedder import EmbeddingError
from rag.llm import LLMError
from rag.store import StoreError
from ui.chat_tab import error_line


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (LLMError("cannot reach the LLM server at http://x (1 try)"), "cannot reach the LLM"),
        (ValueError("not a date (YYYY-MM-DD): '2023-13-45'"), "not a date"),
        (StoreError("cannot open the Chroma store\nat /lib"), "the library's store failed"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "the library's store failed"),
        (EmbeddingError("the model\nfailed to load"), "the embedding model failed"),
        (KeyError("article_id"), "something went wrong (KeyError)"),
    ],
)
def test_each_kind_of_failure_is_one_line(exc: Exception, says: str) -> None:
    line = error_line(exc)
    assert line.startswith("⚠️ ") and says in line and "\n" not in line
