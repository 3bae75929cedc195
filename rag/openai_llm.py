"""The LlamaIndex LLM that LLM mode builds from the settings of today (``RAG_LLM_BASE_URL``,
``RAG_LLM_MODEL``, ``OPENAI_API_KEY``, ``RAG_LLM_TIMEOUT``, ``RAG_LLM_RETRIES``)."""

from __future__ import annotations

from typing import Any

from llama_index.llms.openai_like import OpenAILike
from pydantic import Field

from rag.config import Config

#: What the default model may take in. LlamaIndex uses it only to fit prompts of its own
#: engines; ours (five chunks of 96 tokens, the instructions, three turns) is under 2,000.
CONTEXT_WINDOW = 8192


class BoundedOpenAI(OpenAILike):
    """``OpenAILike`` whose retries are the OpenAI client's alone. LlamaIndex would retry each
    call again on top of the client's own retries (with waits of up to 20 s): with 2 retries
    that is up to 9 requests and a minute, not 3."""

    client_retries: int = Field(default=2, ge=0, description="retries of the OpenAI client")

    def _get_credential_kwargs(self, is_async: bool = False) -> dict[str, Any]:
        return {**super()._get_credential_kwargs(is_async), "max_retries": self.client_retries}


def openai_compatible(config: Config) -> BoundedOpenAI:
    """The default LLM: the configured OpenAI-compatible chat endpoint."""
    return BoundedOpenAI(
        model=config.llm_model,
        api_base=config.llm_base_url or "https://api.openai.com/v1",
        # Local servers take any key, but the client insists on one.
        api_key=config.llm_api_key or "no-key",
        timeout=config.llm_timeout,
        max_retries=0,  # LlamaIndex's own retry loop off: see BoundedOpenAI
        client_retries=config.llm_retries,
        is_chat_model=True,
        context_window=CONTEXT_WINDOW,
    )
