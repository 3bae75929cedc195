"""Settings, read from the environment (``RAG_*``) with keyword overrides."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"
DEFAULT_LLM_MODEL = "gpt-4o-mini"
ANSWER_MODES = ("extractive", "llm")
#: ``auto`` runs the bundled model in ONNX Runtime (see README, Benchmarks)
#: and any other sentence-transformers model in torch.
EMBED_BACKENDS = ("auto", "torch", "onnx", "onnx-int8")


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
    #: How the bundled model runs: ``auto``, ``torch``, ``onnx`` or ``onnx-int8``
    #: (``RAG_EMBED_BACKEND``); the ONNX ones serve the bundled model only.
    embed_backend: str = "auto"
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
    #: Fetch URLs on loopback, private and link-local addresses (``RAG_ALLOW_PRIVATE_URLS``);
    #: off, so that a pasted URL cannot reach the machine's own services or the LAN.
    allow_private_urls: bool = False
    #: Seconds between polls of each followed feed or folder (``RAG_WATCH_INTERVAL``): news
    #: sites ask readers not to poll more often than every few minutes.
    watch_interval: float = 300.0
    #: Passages retrieved for each question (``RAG_TOP_K``).
    top_k: int = 5
    #: ``extractive`` (needs no model server) or ``llm`` (``RAG_ANSWER_MODE``).
    answer_mode: str = "extractive"
    #: Base URL of an OpenAI-compatible chat endpoint (``RAG_LLM_BASE_URL``, else
    #: ``OPENAI_BASE_URL``; unset means OpenAI itself).
    llm_base_url: str | None = None
    #: A GGUF chat model file run in this process by xllamacpp (``RAG_LLM_GGUF``); it takes
    #: the place of an endpoint.
    llm_gguf: Path | None = None
    #: Chat model name (``RAG_LLM_MODEL``).
    llm_model: str = DEFAULT_LLM_MODEL
    #: API key (``OPENAI_API_KEY``); never printed.
    llm_api_key: str | None = field(default=None, repr=False)
    #: Seconds to wait for the LLM server to answer, and between streamed pieces
    #: (``RAG_LLM_TIMEOUT``).
    llm_timeout: float = 60.0
    #: Retries after a refused connection, a timeout, 429 or 5xx (``RAG_LLM_RETRIES``).
    llm_retries: int = 2
    #: What becomes of the sentences of a model's reply that no passage supports
    #: (``RAG_LLM_UNSUPPORTED``): ``drop`` them, or ``show`` them apart, after the answer, as
    #: "not found in the articles" (``Answer.set_apart``). Never shown as the answer.
    llm_unsupported: str = "drop"

    @classmethod
    def from_env(cls, **overrides: Any) -> Config:
        """Build a config from ``RAG_*`` variables, then apply keyword overrides."""
        env: dict[str, Any] = {
            "home": Path(os.environ.get("RAG_HOME", ".rag")),
            "chroma_url": os.environ.get("RAG_CHROMA_URL") or None,
            "collection": os.environ.get("RAG_COLLECTION", "articles"),
            "embed_model": os.environ.get("RAG_EMBED_MODEL", DEFAULT_EMBED_MODEL),
            "embed_backend": os.environ.get("RAG_EMBED_BACKEND", "auto").strip().lower(),
            "embed_batch": _env_number("RAG_EMBED_BATCH", 32),
            "chunk_tokens": _env_number("RAG_CHUNK_TOKENS", 96),
            "chunk_overlap": _env_number("RAG_CHUNK_OVERLAP", 24),
            "max_article_bytes": int(_env_number("RAG_MAX_ARTICLE_MB", 5.0, float) * 1_000_000),
            "fetch_timeout": _env_number("RAG_FETCH_TIMEOUT", 20.0, float),
            "allow_private_urls": os.environ.get("RAG_ALLOW_PRIVATE_URLS", "").strip().lower()
            in ("1", "true", "yes", "on"),
            "watch_interval": _env_number("RAG_WATCH_INTERVAL", 300.0, float),
            "top_k": _env_number("RAG_TOP_K", 5),
            "answer_mode": os.environ.get("RAG_ANSWER_MODE", "extractive").strip().lower(),
            "llm_base_url": os.environ.get("RAG_LLM_BASE_URL")
            or os.environ.get("OPENAI_BASE_URL")
            or None,
            "llm_gguf": Path(os.environ["RAG_LLM_GGUF"])
            if os.environ.get("RAG_LLM_GGUF")
            else None,
            "llm_model": os.environ.get("RAG_LLM_MODEL", DEFAULT_LLM_MODEL),
            "llm_api_key": os.environ.get("OPENAI_API_KEY") or None,
            "llm_timeout": _env_number("RAG_LLM_TIMEOUT", 60.0, float),
            "llm_retries": _env_number("RAG_LLM_RETRIES", 2),
            "llm_unsupported": os.environ.get("RAG_LLM_UNSUPPORTED", "drop").strip().lower(),
        }
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        env.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("home", "llm_gguf"):
            if isinstance(env[name], str):
                env[name] = Path(env[name])
        config = cls(**env)
        config.validate()
        return config

    @property
    def llm_configured(self) -> bool:
        """Whether an LLM is set: an API key, a base URL of a server, or a local GGUF file."""
        return bool(self.llm_api_key or self.llm_base_url or self.llm_gguf)

    def with_(self, **changes: Any) -> Config:
        """A copy with some fields changed (``home`` may be given as a string)."""
        if isinstance(changes.get("home"), str):
            changes["home"] = Path(changes["home"])
        return replace(self, **changes)

    def validate(self, llm_given: bool = False) -> None:
        """Raise ValueError naming the first setting that cannot work (``llm_given``: LLM
        mode has a model of the caller's, and needs no endpoint)."""
        if not 3 <= len(self.collection) <= 512:
            raise ValueError("collection name must have 3 to 512 characters")
        if self.chunk_tokens < 16:
            raise ValueError("chunk_tokens must be at least 16")
        if not 0 <= self.chunk_overlap < self.chunk_tokens:
            raise ValueError("chunk_overlap must be at least 0 and below chunk_tokens")
        if self.embed_backend not in EMBED_BACKENDS:
            raise ValueError(
                f"embedding backend must be one of {', '.join(EMBED_BACKENDS)}, "
                f"got {self.embed_backend!r}"
            )
        if self.embed_backend.startswith("onnx") and self.embed_model != DEFAULT_EMBED_MODEL:
            raise ValueError(
                f"the {self.embed_backend} backend runs only the bundled {DEFAULT_EMBED_MODEL}; "
                "use RAG_EMBED_BACKEND=torch or auto for other models"
            )
        if self.embed_batch < 1:
            raise ValueError("embed_batch must be at least 1")
        if self.max_article_bytes < 1:
            raise ValueError("max_article_bytes must be positive")
        if self.watch_interval <= 0:
            raise ValueError("watch_interval must be positive")
        if not 1 <= self.top_k <= 100:
            raise ValueError("top_k must be between 1 and 100")
        if self.answer_mode not in ANSWER_MODES:
            raise ValueError(
                f"answer mode must be one of {', '.join(ANSWER_MODES)}, got {self.answer_mode!r}"
            )
        if self.answer_mode == "llm" and not self.llm_configured and not llm_given:
            raise ValueError(
                "LLM mode needs a model: set RAG_LLM_GGUF to a local GGUF file, OPENAI_API_KEY "
                "for OpenAI, or RAG_LLM_BASE_URL for another OpenAI-compatible server"
            )
        if self.llm_gguf is not None and not self.llm_gguf.is_file():
            raise ValueError(f"no GGUF model file at {self.llm_gguf} (RAG_LLM_GGUF / --gguf)")
        if self.llm_base_url is not None and not self.llm_base_url.startswith(
            ("http://", "https://")
        ):
            raise ValueError(
                f"RAG_LLM_BASE_URL must start with http:// or https://: {self.llm_base_url}"
            )
        if self.llm_timeout <= 0 or self.llm_retries < 0:
            raise ValueError("llm_timeout must be positive and llm_retries at least 0")
        if self.llm_unsupported not in ("drop", "show"):
            raise ValueError(
                f"RAG_LLM_UNSUPPORTED must be drop or show, got {self.llm_unsupported!r}"
            )
        if self.chroma_url is not None and not self.chroma_url.startswith(("http://", "https://")):
            raise ValueError(
                f"RAG_CHROMA_URL must start with http:// or https://: {self.chroma_url}"
            )
