"""How a chunk looks to LlamaIndex: each chunk row carries, beside our own keys, the metadata
that LlamaIndex's vector stores write for a ``TextNode`` (``_node_content``, ``_node_type``,
``document_id``...), made by LlamaIndex's own ``node_to_metadata_dict``. So
``ChromaVectorStore`` over the library reads each chunk as a ``TextNode`` with its text, the
article id as ``ref_doc_id``, its span in the article and the article's title, url, published
date and source, and ``ChromaVectorStore.delete(ref_doc_id=<article id>)`` finds its chunks.

llama_index is imported here only, when a chunk is written: importing it takes about 3 s."""

from __future__ import annotations

from typing import Any

from rag.records import Article, Chunk

#: Written in the chunk collection's metadata once its rows carry the LlamaIndex node fields;
#: a library without it was made by an earlier version and is upgraded on open.
LAYOUT_KEY = "layout"
LAYOUT = 2
#: The article fields a node carries as its metadata.
NODE_FIELDS = ("title", "url", "published", "source")


def text_node(article_id: str, chunk_id: str, text: str, start: int, end: int, **meta: str) -> Any:
    """A LlamaIndex ``TextNode`` for a span of a stored article."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    return TextNode(
        id_=chunk_id,
        text=text,
        start_char_idx=start,
        end_char_idx=end,
        metadata={k: meta.get(k, "") for k in NODE_FIELDS},
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=article_id)},
    )


def node_fields(
    article_id: str, chunk_id: str, text: str, start: int, end: int, **meta: str
) -> dict[str, Any]:
    """The metadata keys LlamaIndex's vector stores write for this chunk (its text left out:
    the row's document holds it)."""
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    node = text_node(article_id, chunk_id, text, start, end, **meta)
    return node_to_metadata_dict(node, remove_text=True, flat_metadata=True)


def chunk_node_fields(article: Article, chunk: Chunk) -> dict[str, Any]:
    """``node_fields`` of a chunk about to be stored."""
    meta = {k: getattr(article, k) for k in NODE_FIELDS}
    return node_fields(chunk.article_id, chunk.id, chunk.text, chunk.start, chunk.end, **meta)


def stored_node_fields(chunk_id: str, text: str, meta: dict[str, Any]) -> dict[str, Any]:
    """``node_fields`` of a chunk row stored by an earlier version (for the upgrade)."""
    fields = {k: str(meta.get(k, "")) for k in NODE_FIELDS}
    return node_fields(
        str(meta["article_id"]), chunk_id, text, int(meta["start"]), int(meta["end"]), **fields
    )


def is_ours(meta: dict[str, Any] | None) -> bool:
    """Whether a chunk row was written by our ingest (LlamaIndex may write rows of its own)."""
    return meta is not None and all(k in meta for k in ("article_id", "start", "end"))
