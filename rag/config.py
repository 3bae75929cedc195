"""Settings, read from the environment (``RAG_*``) with keyword overrides."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"


def _env_number(name: str, default: float, cast: Callable[[str], Any] = int) -> Any:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return cast(raw)
    except ValueError as exc:
        kind = "an integer" if cast is int else "a number"
        raise ValueError(f"{name} must be {kind}, got {raw!r}") from exc


@dataclass(frozen=True)
class Config:
    """Where the library lives and how articles are embedded and chunked.

    Every field has an environment variable; ``Config.from_env(field=value)`` overrides it.
    """

    #: Folder of the embedded Chroma store (``RAG_HOME``, default ``./.rag``).
    home: Path = field(default_factory=lambda: Path(os.environ.get("RAG_HOME", ".rag")))
    #: ``http://host:port`` of a Chroma server (``RAG_CHROMA_URL``); unset means embedded.
    chroma_url: str | None = None
    #: Name of the Chroma collection that holds the chunks (``RAG_COLLECTION``).
    collection: str = "articles"
    #: ``all-MiniLM-L6-v2`` (bundled, offline), any sentence-transformers name or path,
    #: or ``openai:<model>`` (``RAG_EMBED_MODEL``).
    embed_model: str = DEFAULT_EMBED_MODEL
    #: Texts per embedding call (``RAG_EMBED_BATCH``).
    embed_batch: int = 32
    #: Most word pieces in a chunk (``RAG_CHUNK_TOKENS``); capped by the model's input limit.
    chunk_tokens: int = 96
    #: Word pieces of trailing sentences repeated at the start of the next chunk
    #: (``RAG_CHUNK_OVERLAP``).
    chunk_overlap: int = 24
    #: Largest article text accepted, in bytes of UTF-8 (``RAG_MAX_ARTICLE_MB``, default 5).
    max_article_bytes: int = 5_000_000
    #: Seconds to wait for a URL (``RAG_FETCH_TIMEOUT``).
    fetch_timeout: float = 20.0

    @classmethod
    def from_env(cls, **overrides: Any) -> Config:
        """Build a config from ``RAG_*`` variables, then apply keyword overrides."""
        env: dict[str, Any] = {
            "home": Path(os.environ.get("RAG_HOME", ".rag")),
            "chroma_url": os.environ.get("RAG_CHROMA_URL") or None,
            "collection": os.environ.get("RAG_COLLECTION", "articles"),
            "embed_model": os.environ.get("RAG_EMBED_MODEL", DEFAULT_EMBED_MODEL),
            "embed_batch": _env_number("RAG_EMBED_BATCH", 32),
            "chunk_tokens": _env_number("RAG_CHUNK_TOKENS", 96),
            "chunk_overlap": _env_number("RAG_CHUNK_OVERLAP", 24),
            "max_article_bytes": int(_env_number("RAG_MAX_ARTICLE_MB", 5.0, float) * 1_000_000),
            "fetch_timeout": _env_number("RAG_FETCH_TIMEOUT", 20.0, float),
        }
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        env.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(env["home"], str):
            env["home"] = Path(env["home"])
        config = cls(**env)
        config.validate()
        return config

    def with_(self, **changes: Any) -> Config:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def validate(self) -> None:
        """Raise ValueError naming the first setting that cannot work."""
        if not 3 <= len(self.collection) <= 512:
            raise ValueError("collection name must have 3 to 512 characters")
        if self.chunk_tokens < 16:
            raise ValueError("chunk_tokens must be at least 16")
        if not 0 <= self.chunk_overlap < self.chunk_tokens:
            raise ValueError("chunk_overlap must be at least 0 and below chunk_tokens")
        if self.embed_batch < 1:
            raise ValueError("embed_batch must be at least 1")
        if self.max_article_bytes < 1:
            raise ValueError("max_article_bytes must be positive")
        if self.chroma_url is not None and not self.chroma_url.startswith(("http://", "https://")):
            raise ValueError(
                f"RAG_CHROMA_URL must start with http:// or https://: {self.chroma_url}"
            )
