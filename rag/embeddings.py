"""Text embedding models: the bundled all-MiniLM-L6-v2 by default, any sentence-transformers
model, or OpenAI embeddings. Models load lazily, on first use."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.config import DEFAULT_EMBED_MODEL, Config
from rag.embedder import Embedder, EmbeddingError, bundled_model_path, embedding_model_name

__all__ = [
    "DEFAULT_BACKEND",
    "Embedder",
    "EmbeddingError",
    "QueryVectors",
    "bundled_model_path",
    "embedding_model_name",
    "make_embedder",
]


class QueryVectors:
    """The embeddings of the latest questions: a turn embeds its question once, though its
    searches and its sentence scoring each need it (3 embeddings of one text a first turn)."""

    def __init__(self, embedder: Embedder, size: int = 64) -> None:
        self.embedder = embedder
        self._size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, text: str) -> np.ndarray:
        """The embedding of ``text`` (one vector)."""
        with self._lock:
            if text in self._cache:
                self._cache.move_to_end(text)
                return self._cache[text]
        vector = self.embedder.embed([text])[0]
        with self._lock:
            self._cache[text] = vector
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return vector

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


_LOADED: dict[str, Any] = {}
_LOAD_LOCK = threading.Lock()


def _load_sentence_transformer(path: str) -> Any:
    """One loaded copy of each model per process, shared by every library that uses it."""
    with _LOAD_LOCK:
        if path not in _LOADED:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            _LOADED[path] = SentenceTransformer(path, device="cpu")
        return _LOADED[path]


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded from a local path or the (offline) hub cache."""

    def __init__(self, model: str = DEFAULT_EMBED_MODEL, batch_size: int = 32) -> None:
        self.requested = model
        self.name = embedding_model_name(model)
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> Any:
        path = bundled_model_path() if self.requested == DEFAULT_EMBED_MODEL else self.requested
        try:
            return _load_sentence_transformer(path)
        except Exception as exc:
            raise EmbeddingError(
                f"cannot load embedding model {self.requested!r}: {exc}. The hub is offline "
                "(HF_HUB_OFFLINE=1); name a local folder or a model already in the cache."
            ) from exc

    @property
    def max_tokens(self) -> int:
        # [CLS] and [SEP] take two of the model's input positions.
        return int(self.model.max_seq_length) - 2

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        enc = self.model.tokenizer(
            text,
            add_special_tokens=False,
            return_offsets_mapping=True,
            truncation=False,
            verbose=False,
        )
        return [(int(a), int(b)) for a, b in enc["offset_mapping"]]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


_WORDISH = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class OpenAIEmbedder:
    """OpenAI (or compatible) embeddings through the ``openai`` package."""

    def __init__(self, model: str, batch_size: int = 64) -> None:
        self.model_name = model
        self.name = f"openai:{model}"
        self.batch_size = batch_size
        self._client: Any = None

    @property
    def max_tokens(self) -> int:
        # Counted in word-ish pieces, which overcount BPE tokens: a safe bound under 8,191.
        return 8000

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _WORDISH.finditer(text)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(max_retries=2, timeout=60)
        rows: list[list[float]] = []
        try:
            for i in range(0, len(texts), self.batch_size):
                resp = self._client.embeddings.create(
                    model=self.model_name, input=list(texts[i : i + self.batch_size])
                )
                rows.extend(d.embedding for d in resp.data)
        except Exception as exc:
            raise EmbeddingError(f"OpenAI embeddings failed: {exc}") from exc
        arr = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        return arr / np.maximum(norms, 1e-12)


#: What ``auto`` means for the bundled model.
DEFAULT_BACKEND = "onnx"


def make_embedder(config: Config) -> Embedder:
    """The embedder that ``config`` names (not loaded until first used)."""
    if config.embed_model.startswith("openai:"):
        return OpenAIEmbedder(config.embed_model.split(":", 1)[1], batch_size=config.embed_batch)
    backend = config.embed_backend
    if config.embed_model == DEFAULT_EMBED_MODEL and backend == "auto":
        backend = DEFAULT_BACKEND
    if backend.startswith("onnx"):
        from rag.onnx_embedder import OnnxEmbedder

        return OnnxEmbedder(quantized=backend == "onnx-int8")
    return SentenceTransformerEmbedder(config.embed_model, batch_size=config.embed_batch)
