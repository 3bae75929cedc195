"""LlamaIndex components over the library (``Assistant.as_retriever``, ``as_query_engine``,
``as_chat_engine``): our hybrid retrieval as a ``BaseRetriever``, our cited answers as a query
engine and a chat engine whose ``source_nodes`` are the citations, each an exact quote with
its span in the article. Imported only when one of them is asked for (llama_index takes about
3 s to import)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.response.schema import RESPONSE_TYPE, Response, StreamingResponse
from llama_index.core.chat_engine.types import (
    AgentChatResponse,
    BaseChatEngine,
    StreamingAgentChatResponse,
)
from llama_index.core.llms import ChatMessage, ChatResponse, MessageRole
from llama_index.core.schema import NodeWithScore, QueryBundle
from pydantic import PrivateAttr

from rag.answer import Answer, Citation
from rag.chat import AnswerStream, Chat
from rag.embedder import Embedder
from rag.nodes import text_node
from rag.retrieve import Filters, Passage, Retriever


def passage_node(passage: Passage) -> NodeWithScore:
    """A retrieved chunk as LlamaIndex's node: its text, span and article."""
    p = passage
    node = text_node(
        p.article_id, p.chunk_id, p.text, p.start, p.end,
        title=p.title, url=p.url, published=p.published, source=p.source,
    )  # fmt: skip
    return NodeWithScore(node=node, score=p.score)


def citation_node(citation: Citation) -> NodeWithScore:
    """An answer's citation ``[n]`` as a node: the exact quote, its span in the article, and
    ``n`` in the metadata as ``citation``."""
    c = citation
    node = text_node(
        c.article_id, f"{c.article_id}:{c.start}-{c.end}", c.quote, c.start, c.end,
        title=c.title, url=c.url, published=c.published, source=c.source,
    )  # fmt: skip
    node.metadata["citation"] = c.n
    return NodeWithScore(node=node, score=None)


def source_nodes(answer: Answer) -> list[NodeWithScore]:
    return [citation_node(c) for c in answer.citations]


def _about(answer: Answer) -> dict[str, Any]:
    return {"mode": answer.mode, "refused": answer.refused, "standalone": answer.standalone}


class LibraryEmbedding(BaseEmbedding):
    """The library's own embedding model as a LlamaIndex embedding, so that a
    ``VectorStoreIndex`` over ``as_vector_store()`` embeds questions as the chunks were."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder) -> None:
        super().__init__(model_name=embedder.name)
        self._embedder = embedder

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, v)) for v in self._embedder.embed(texts)]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)


class LibraryRetriever(BaseRetriever):
    """Our hybrid retrieval (dense plus BM25, complete articles only) as a LlamaIndex
    retriever: ``NodeWithScore``s whose span is the chunk's place in its article."""

    def __init__(self, retriever: Retriever, k: int, filters: Filters | None = None) -> None:
        super().__init__()
        self.retriever = retriever
        self.k = k
        self.filters = filters or Filters()

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        found = self.retriever.search(query_bundle.query_str, self.k, self.filters)
        return [passage_node(p) for p in found]


class CitedQueryEngine(BaseQueryEngine):
    """Each query answered on its own, as ``Assistant.ask`` answers it: the response is the
    answer text with its ``[n]`` markers, ``source_nodes`` its citations. With ``streaming``,
    a ``StreamingResponse`` whose ``source_nodes`` fill in when the stream ends."""

    def __init__(self, new_chat: Callable[[], Chat], streaming: bool = False) -> None:
        super().__init__(callback_manager=None)
        self.new_chat = new_chat
        self.streaming = streaming

    def _query(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        chat = self.new_chat()
        if not self.streaming:
            answer = chat.ask(query_bundle.query_str)
            return Response(answer.text, source_nodes(answer), _about(answer))
        response = StreamingResponse(response_gen=_nothing())
        response.response_gen = _pieces(chat.stream(query_bundle.query_str), response)
        return response

    async def _aquery(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        return await asyncio.to_thread(self._query, query_bundle)

    def _get_prompt_modules(self) -> dict[str, Any]:
        return {}  # the prompts are ours, not LlamaIndex templates


def _nothing() -> Generator[str, None, None]:
    yield from ()


def _pieces(stream: AnswerStream, response: Any) -> Generator[str, None, None]:
    """The stream's pieces; once it ends, the response gets its citations and metadata."""
    yield from stream
    response.source_nodes.extend(source_nodes(stream.answer))
    response.metadata = _about(stream.answer)


class CitedChatEngine(BaseChatEngine):
    """One conversation with the library (``Assistant.chat``) as a LlamaIndex chat engine:
    follow-ups keep to the story, responses carry ``[n]`` markers, ``source_nodes`` are the
    citations. A ``chat_history`` passed in starts the conversation over from its user turns."""

    def __init__(self, new_chat: Callable[[], Chat]) -> None:
        self.new_chat = new_chat
        self.conversation = new_chat()

    def reset(self) -> None:
        self.conversation = self.new_chat()

    @property
    def chat_history(self) -> list[ChatMessage]:
        messages = []
        for turn in self.conversation.history:
            messages.append(ChatMessage(role=MessageRole.USER, content=turn.question))
            messages.append(ChatMessage(role=MessageRole.ASSISTANT, content=turn.text))
        return messages

    def _adopt(self, chat_history: Sequence[ChatMessage] | None) -> None:
        if chat_history is None:
            return
        if [m.content for m in chat_history] == [m.content for m in self.chat_history]:
            return  # the conversation has it already: nothing to ask again
        self.reset()
        for message in chat_history:
            text = (message.content or "").strip()
            if message.role == MessageRole.USER and text:
                self.conversation.ask(text)  # the earlier turns set the story

    def chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> AgentChatResponse:
        self._adopt(chat_history)
        answer = self.conversation.ask(message)
        return AgentChatResponse(
            answer.text, source_nodes=source_nodes(answer), metadata=_about(answer)
        )

    def stream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> StreamingAgentChatResponse:
        self._adopt(chat_history)
        response = StreamingAgentChatResponse(is_writing_to_memory=False)
        response.chat_stream = _chat_responses(self.conversation.stream(message), response)
        return response

    async def achat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> AgentChatResponse:
        return await asyncio.to_thread(self.chat, message, chat_history)

    async def astream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> StreamingAgentChatResponse:
        response = await asyncio.to_thread(self.stream_chat, message, chat_history)
        assert response.chat_stream is not None
        response.achat_stream = _in_thread(response.chat_stream)
        return response


def _chat_responses(stream: AnswerStream, response: Any) -> Generator[ChatResponse, None, None]:
    text = ""
    for piece in stream:
        text += piece
        yield ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece
        )
    response.source_nodes.extend(source_nodes(stream.answer))
    response.metadata = _about(stream.answer)


async def _in_thread(
    pieces: Generator[ChatResponse, None, None],
) -> AsyncGenerator[ChatResponse, None]:
    """A blocking generator read piece by piece in a worker thread."""
    done = object()
    while True:
        item = await asyncio.to_thread(next, pieces, done)
        if item is done:
            return
        yield item  # type: ignore[misc]
