"""The Library tab: the articles (filtered by text, source and date, sorted by date), adding
files and URLs, removing an article, and the feeds and folders followed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from ingest.feeds import Watcher
from rag.assistant import Assistant
from rag.records import ArticleInfo
from ui.feeds_panel import feeds_panel
from ui.render import md_text
from ui.upload import UPLOAD_TYPES, ingest_uploads

HEADERS = ["date", "title", "source", "chunks", "id"]
NEWEST, OLDEST = "newest first", "oldest first"


def library_rows(
    docs: list[ArticleInfo],
    text: str = "",
    sources: list[str] | None = None,
    date_from: str = "",
    date_to: str = "",
    order: str = NEWEST,
) -> list[list[Any]]:
    """The table's rows: the articles that match the filters, by date."""
    words = (text or "").lower().split()
    wanted = set(sources or ())
    lo, hi = (date_from or "").strip(), (date_to or "").strip()
    kept = [
        d
        for d in docs
        if all(w in f"{d.title} {d.source} {d.url}".lower() for w in words)
        and (not wanted or d.source in wanted)
        and (not lo or (d.published and d.published[:10] >= lo))
        and (not hi or (d.published and d.published[:10] <= hi))
    ]
    kept.sort(key=lambda d: (d.published, d.title), reverse=order != OLDEST)
    return [[d.published, d.title, d.source, d.chunks, d.id] for d in kept]


@dataclass
class LibraryParts:
    table: Any
    filters: list[Any]  # text, sources, date from, date to, order
    source_filter: Any
    files: Any
    urls: Any
    add: Any
    log: Any
    to_remove: Any
    remove: Any
    feed_outputs: list[Any]
    feed_state: Any
    followed: Any


def library_tab(qa: Assistant, watcher: Watcher) -> LibraryParts:
    """The Library tab's components, inside the current Blocks."""
    with gr.Row():
        text = gr.Textbox(label="Filter", placeholder="words in title, source or url", scale=3,
                          elem_id="library-filter")  # fmt: skip
        sources = gr.Dropdown(
            [], multiselect=True, label="Source", scale=2, elem_id="library-source"
        )
        date_from = gr.Textbox(label="From (YYYY-MM-DD)", scale=1, elem_id="library-from")
        date_to = gr.Textbox(label="To (YYYY-MM-DD)", scale=1, elem_id="library-to")
        order = gr.Radio(
            [NEWEST, OLDEST], value=NEWEST, label="Date", scale=1, elem_id="library-order"
        )
    table = gr.Dataframe([], headers=HEADERS, interactive=False, elem_id="library", wrap=True)
    with gr.Row():
        files = gr.File(
            file_count="multiple", file_types=list(UPLOAD_TYPES), label="Upload articles",
            elem_id="upload",
        )  # fmt: skip
        urls = gr.Textbox(label="Or paste URLs (one a line)", lines=3, elem_id="urls")
    add = gr.Button("Add to library", variant="primary", elem_id="add")
    log = gr.Markdown("", elem_id="ingest-log")
    with gr.Row():
        to_remove = gr.Dropdown([], label="Article to remove", elem_id="remove-choice")
        remove = gr.Button("Remove", variant="stop", elem_id="remove")
    feed_outputs, feed_state, followed = feeds_panel(watcher)
    return LibraryParts(
        table, [text, sources, date_from, date_to, order], sources, files, urls, add, log,
        to_remove, remove, feed_outputs, feed_state, followed,
    )  # fmt: skip


def add_articles(
    qa: Assistant, uploaded: list[Any] | None, pasted: str, progress: Any
) -> tuple[Any, ...]:
    """Ingest the uploads and URLs; outputs: log, files, urls."""
    return ingest_uploads(qa, uploaded or [], pasted or "", progress), None, ""


def remove_article(qa: Assistant, article_id: str | None) -> str:
    if not article_id:
        return "Choose an article to remove."
    gone = qa.remove(article_id)
    return f"Removed: {md_text(gone[0].title)}" if gone else "That article was already gone."


def remove_choices(docs: list[ArticleInfo]) -> Any:
    return gr.update(choices=[(f"{d.title[:60]} ({d.id})", d.id) for d in docs], value=None)
