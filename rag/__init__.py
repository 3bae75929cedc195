"""Conversational Q&A over news articles: the public Python API."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# Offline and quiet by default: nothing in the default path may phone home or reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

if TYPE_CHECKING:
    from rag.assistant import Assistant
    from rag.config import Config
    from rag.records import Article, ArticleInfo

__all__ = ["Article", "ArticleInfo", "Assistant", "Config"]


def __getattr__(name: str) -> Any:
    # Lazy so that `import rag` (and the CLI's fast paths) stay cheap.
    if name == "Assistant":
        from rag.assistant import Assistant

        return Assistant
    if name == "Config":
        from rag.config import Config

        return Config
    if name in ("Article", "ArticleInfo"):
        from rag import records

        return getattr(records, name)
    raise AttributeError(name)
