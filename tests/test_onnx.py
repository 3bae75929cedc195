"""The ONNX Runtime backend of the bundled model: same tokens and (nearly) the same vectors as
torch, exported once into a cache, chosen by configuration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.config import Config
from rag.embeddings import SentenceTransformerEmbedder, make_embedder
from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def torch_model() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def texts() -> list[str]:
    from rag.sentences import sentence_spans

    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(SAMPLES.glob("*.txt")))
    return [text[a:b] for a, b in sentence_spans(text)][:60]


def test_auto_runs_the_bundled_model_in_onnx_and_others_in_torch() -> None:
    from rag.onnx_embedder import OnnxEmbedder

    default = make_embedder(Config.from_env(embed_backend="auto"))
    assert isinstance(default, OnnxEmbedder) and not default.quantized
    assert isinstance(
        make_embedder(Config.from_env(embed_backend="torch")), SentenceTransformerEmbedder
    )
    quantized = make_embedder(Config.from_env(embed_backend="onnx-int8"))
    assert isinstance(quantized, OnnxEmbedder) and quantized.quantized
    other = make_embedder(Config.from_env(embed_model="/some/other/model"))
    assert isinstance(other, SentenceTransformerEmbedder)
    # Every backend records the same model name, so libraries stay usable across them.
    assert default.name == quantized.name == SentenceTransformerEmbedder().name


def test_onnx_backends_refuse_other_models_and_unknown_backends() -> None:
    with pytest.raises(ValueError, match="runs only the bundled"):
        Config.from_env(embed_model="/some/other/model", embed_backend="onnx")
    with pytest.raises(ValueError, match=r"\(embed_backend\) must be one of"):
        Config.from_env(embed_backend="tensorrt")


def test_onnx_matches_torch_tokens_and_vectors(torch_model, texts) -> None:  # type: ignore[no-untyped-def]
    onnx = make_embedder(Config.from_env(embed_backend="onnx"))
    int8 = make_embedder(Config.from_env(embed_backend="onnx-int8"))
    long_text = " ".join(texts)
    assert onnx.token_spans(long_text) == torch_model.token_spans(long_text)
    assert onnx.max_tokens == torch_model.max_tokens
    reference = torch_model.embed(texts)
    same = onnx.embed(texts)
    assert same.shape == reference.shape
    assert np.allclose(np.linalg.norm(same, axis=1), 1.0, atol=1e-5)
    assert (same * reference).sum(axis=1).min() > 0.9999
    close = int8.embed(texts)
    cosine = (close * reference).sum(axis=1)
    assert cosine.min() > 0.95 and cosine.mean() > 0.98
    # The order of the output follows the input, whatever order the batches ran in.
    reversed_rows = onnx.embed(texts[::-1])
    assert np.allclose(reversed_rows[::-1], same, atol=1e-5)


def test_export_is_cached_and_reused(tmp_path: Path) -> None:
    from rag.embeddings import bundled_model_path
    from rag.onnx_embedder import exported_model

    model_dir = Path(bundled_model_path())
    path = exported_model(model_dir, quantized=False, cache_dir=tmp_path)
    assert path.is_file() and path.stat().st_size > 10_000_000
    stamp = path.stat().st_mtime_ns
    assert exported_model(model_dir, quantized=False, cache_dir=tmp_path) == path
    assert path.stat().st_mtime_ns == stamp
    # Nothing half-written is left beside it.
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.onnx"]
