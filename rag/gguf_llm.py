"""A GGUF chat model run inside this process by ``xllamacpp`` (prebuilt llama.cpp: nothing to
compile, no server to start), as a LlamaIndex ``LLM``, so that LLM mode's gate, streaming,
stop and fallback work on it as on any other (``RAG_LLM_GGUF`` or ``--gguf PATH``).

The model is loaded once per process and file; a request streams through llama.cpp's own
server loop, whose callback hands each piece to the caller's thread, and stops the model when
the caller stops reading."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms.custom import CustomLLM
from pydantic import Field, PrivateAttr

#: Tokens of context: the prompt (under 1,000 tokens) and the reply.
CONTEXT = 4096
_LOADED: dict[str, Any] = {}
_LOAD_LOCK = threading.Lock()
#: What a finished request puts on its queue after its last piece.
_DONE = object()


class GGUFLoadError(RuntimeError):
    """The GGUF file could not be loaded."""


def load(path: Path, threads: int | None = None) -> Any:
    """The xllamacpp server of the model at ``path`` (loaded once per process)."""
    key = str(Path(path).resolve())
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        if not Path(path).is_file():
            raise GGUFLoadError(f"no GGUF model file at {path}")
        try:
            import xllamacpp
        except ImportError:
            raise GGUFLoadError(
                "RAG_LLM_GGUF needs xllamacpp: pip install xllamacpp (a prebuilt wheel)"
            ) from None
        params = xllamacpp.CommonParams()
        params.model.path = key
        params.n_ctx = CONTEXT
        params.verbosity = -1  # llama.cpp's log lines are not the user's
        cores = threads or os.cpu_count() or 1
        params.cpuparams.n_threads = cores
        params.cpuparams_batch.n_threads = cores
        try:
            _LOADED[key] = xllamacpp.Server(params)
        except Exception as exc:
            raise GGUFLoadError(f"cannot load the GGUF model at {path}: {exc}") from None
        return _LOADED[key]


class GGUFModel(CustomLLM):
    """A local GGUF chat model (its own chat template), in-process."""

    path: str
    max_tokens: int = 160
    temperature: float = 0.0
    stop: list[str] = Field(default_factory=list)
    _server: Any = PrivateAttr(default=None)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=CONTEXT,
            num_output=self.max_tokens,
            is_chat_model=True,
            model_name=Path(self.path).name,
        )

    def _loaded(self) -> Any:
        if self._server is None:
            self._server = load(Path(self.path))
        return self._server

    def _request(self, messages: Sequence[ChatMessage], stream: bool) -> dict[str, Any]:
        request: dict[str, Any] = {
            "messages": [{"role": m.role.value, "content": str(m.content or "")} for m in messages],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": stream,
            # The fixed part of a prompt comes first, so the next question reuses its cache.
            "cache_prompt": True,
        }
        if self.stop:
            request["stop"] = list(self.stop)
        return request

    def _pieces(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        """The reply's text pieces as the model writes them; closing the iterator stops it."""
        server = self._loaded()
        pieces: queue.Queue[Any] = queue.Queue()
        stopped = threading.Event()

        def take(chunk: Any) -> bool:
            if isinstance(chunk, dict) and "error" in chunk:
                pieces.put(GGUFLoadError(str(chunk["error"].get("message", chunk["error"]))))
                return True
            for choice in chunk.get("choices", []) if isinstance(chunk, dict) else []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    pieces.put(text)
            return stopped.is_set()  # True stops the model

        def run() -> None:
            try:
                server.handle_chat_completions(self._request(messages, True), take)
            except Exception as exc:
                pieces.put(exc)
            finally:
                pieces.put(_DONE)

        threading.Thread(target=run, name="gguf", daemon=True).start()
        try:
            while (piece := pieces.get()) is not _DONE:
                if isinstance(piece, Exception):
                    raise piece
                yield piece
        finally:
            stopped.set()

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        text = "".join(self._pieces(messages))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        def gen() -> ChatResponseGen:
            text = ""
            for piece in self._pieces(messages):
                text += piece
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece
                )

        return gen()

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        text = "".join(self._pieces([ChatMessage(role=MessageRole.USER, content=prompt)]))
        return CompletionResponse(text=text)

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            text = ""
            for piece in self._pieces([ChatMessage(role=MessageRole.USER, content=prompt)]):
                text += piece
                yield CompletionResponse(text=text, delta=piece)

        return gen()
