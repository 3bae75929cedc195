"""Conversational Q&A over news articles: the public Python API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.answer import Answer, Citation
    from rag.assistant import Assistant
    from rag.chat import Chat
    from rag.config import Config
    from rag.ingest_report import IngestReport, LoadError
    from rag.records import Article, ArticleInfo
    from rag.retrieve import Filters

#: Where each public name lives; imported on first use so that `import rag` (and the CLI's fast
#: paths) stay cheap.
_PUBLIC = {
    "Answer": "rag.answer",
    "Article": "rag.records",
    "ArticleInfo": "rag.records",
    "Assistant": "rag.assistant",
    "Chat": "rag.chat",
    "Citation": "rag.answer",
    "Config": "rag.config",
    "Filters": "rag.retrieve",
    "IngestReport": "rag.ingest_report",
    "LoadError": "rag.ingest_report",
}
__all__ = [
    "Answer",
    "Article",
    "ArticleInfo",
    "Assistant",
    "Chat",
    "Citation",
    "Config",
    "Filters",
    "IngestReport",
    "LoadError",
]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
