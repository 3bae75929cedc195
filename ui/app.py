"""The Gradio page: a header that says what the library holds, the Chat tab (``chat_tab``),
the Library tab (``library_tab``) and the answer settings; served with the HTTP API beside it."""

from __future__ import annotations

import functools
import threading
from typing import Any

import gradio as gr

from ingest.feeds import Watcher
from rag.assistant import Assistant
from ui.chat_tab import ChatTab, PageSessions, chat_tab, wire_chat
from ui.eval_tab import eval_tab, shown
from ui.guard import Access, guarded
from ui.library_tab import (
    LibraryParts,
    add_articles,
    library_rows,
    library_tab,
    remove_article,
    remove_choices,
)
from ui.render import Glance, example_questions, header_html
from ui.upload import upload_limit

CSS = """
#header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 14px; }
#header .name { font-size: 1.5em; font-weight: 700; }
#header .glance { color: var(--body-text-color-subdued); }
#header .what { flex-basis: 100%; font-size: 0.9em; color: var(--body-text-color-subdued); }
#chat .answer b.short { font-weight: 700; }
#chat a.cite { font-weight: 600; text-decoration: none; cursor: pointer; }
#chat .searched, #chat .held-back { color: var(--body-text-color-subdued); font-size: 0.85em; }
#chat details.sources { margin-top: 6px; font-size: 0.9em; }
#chat details.sources summary { cursor: pointer; color: var(--body-text-color-subdued); }
#chat .card { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 6px 8px; margin: 6px 0; }
#chat .card .meta, #article-view .meta { color: var(--body-text-color-subdued); font-size: 0.85em; }
#chat .message, #article-view, #story { overflow-wrap: anywhere; }
#article-view { max-height: 520px; overflow-y: auto !important; line-height: 1.5; }
#article-view mark { background: #ffe066; color: #111; padding: 1px 0; }
.dark #article-view mark { background: #8a6d00; color: #fff; }
#story-line { font-size: 0.9em; }
#cite-bridge { display: none; }
@media (max-width: 480px) { #header .name { font-size: 1.2em; } }
"""


def build_app(
    qa: Assistant, watcher: Watcher | None = None, sessions: PageSessions | None = None
) -> gr.Blocks:
    """The page over the library that ``qa`` holds (``watcher`` follows its feeds;
    ``sessions`` counts the open conversations)."""
    watcher = watcher or Watcher(qa.store, qa.embedder, qa.config)
    tab = ChatTab(qa, sessions or PageSessions())
    modes = ["extractive", "llm"] if qa.config.llm_configured or qa.llm else ["extractive"]
    with gr.Blocks(title="News Q&A", analytics_enabled=False) as app:
        header = gr.HTML("", elem_id="header-box")
        with gr.Tab("Chat"):
            chat = chat_tab(tab.sessions)
            settings = settings_panel(qa, modes)
        with gr.Tab("Library"):
            library = library_tab(qa, watcher)
        with gr.Tab("Evaluation"):
            report, chart, _ = eval_tab(qa.config.home)
        wire_chat(tab, chat, settings)
        changed = [header, chat.examples, chat.latest, library.table, library.to_remove,
                   library.source_filter, settings[-1]]  # fmt: skip
        wire_library(qa, library, changed, settings[0])
        settings[0].change(
            lambda mode: header_html(qa.documents(), mode), settings[0], header,
            api_visibility="private",
        )  # fmt: skip

        def loaded(mode: str, *filters: Any) -> tuple[Any, ...]:
            return (*glance(qa, mode, *filters), *library.feed_state(), *shown(qa.config.home))

        app.load(
            loaded, [settings[0], *library.filters],
            [*changed, *library.feed_outputs, report, chart], api_visibility="private",
        )  # fmt: skip
    return app


def settings_panel(qa: Assistant, modes: list[str]) -> list[Any]:
    """The answer settings; returns mode, top-k, date from, date to, sources."""
    with gr.Accordion("Settings", open=False):
        mode = gr.Radio(
            modes,
            value=qa.config.answer_mode if qa.config.answer_mode in modes else "extractive",
            label="Answer mode",
            elem_id="mode",
        )
        top_k = gr.Slider(1, 20, value=qa.config.top_k, step=1, label="Passages (top-k)")
        with gr.Row():
            date_from = gr.Textbox(label="Published from (YYYY-MM-DD)", elem_id="date-from")
            date_to = gr.Textbox(label="Published to (YYYY-MM-DD)", elem_id="date-to")
        sources = gr.Dropdown([], multiselect=True, label="Only these sources")
    return [mode, top_k, date_from, date_to, sources]


def glance(qa: Assistant, mode: str, *filters: Any) -> tuple[Any, ...]:
    """Everything on the page that shows the library, as it is now: header, example questions,
    latest articles, the Library table (with its filters), the remove choices, and the two
    source pickers."""
    docs = qa.documents()
    sources = Glance.of(docs).sources
    return (
        header_html(docs, mode),
        gr.update(samples=[[q] for q in example_questions(docs)]),
        ChatTab.latest_update(docs),
        library_rows(docs, *filters),
        remove_choices(docs),
        gr.update(choices=sources),
        gr.update(choices=sources),
    )


def wire_library(qa: Assistant, lib: LibraryParts, changed: list[Any], mode: Any) -> None:
    """The Library tab's events; after each change, everything in ``changed`` is refreshed."""
    now = [mode, *lib.filters]
    refresh = functools.partial(glance, qa)

    for control in lib.filters:
        control.change(
            lambda *f: library_rows(qa.documents(), *f), lib.filters, lib.table,
            api_visibility="private",
        )  # fmt: skip

    def add(
        uploaded: list[Any] | None,
        pasted: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008  (Gradio's own idiom)
    ) -> tuple[Any, ...]:
        return add_articles(qa, uploaded, pasted, progress)

    lib.add.click(
        add, [lib.files, lib.urls], [lib.log, lib.files, lib.urls], api_visibility="private"
    ).then(refresh, now, changed, api_visibility="private")
    lib.remove.click(
        lambda chosen: remove_article(qa, chosen), lib.to_remove, lib.log,
        api_visibility="private",
    ).then(refresh, now, changed, api_visibility="private")  # fmt: skip
    lib.followed.then(refresh, now, changed, api_visibility="private")


def launch(
    qa: Assistant,
    host: str,
    port: int,
    access: Access,
    watch: bool = True,
    cors_origins: tuple[str, ...] = (),
) -> None:
    """Serve the page until interrupted; with ``watch``, follow the library's feeds too.
    ``access`` is the page's login and the API token; ``cors_origins`` the other sites whose
    pages may call the API."""
    watcher = Watcher(qa.store, qa.embedder, qa.config)
    stop = threading.Event()
    if watch:
        threading.Thread(target=watcher.run, args=(stop,), name="feeds", daemon=True).start()
    sessions = PageSessions()
    app = build_app(qa, watcher, sessions)
    try:
        _serve(app, qa, host, port, access, cors_origins, sessions)
    finally:
        stop.set()


def _serve(
    app: gr.Blocks,
    qa: Assistant,
    host: str,
    port: int,
    access: Access,
    cors_origins: tuple[str, ...],
    sessions: PageSessions,
) -> None:
    """The page and the HTTP API on one server, behind ``ui.guard``. No ``/docs`` page: it
    would load its scripts from a CDN; the OpenAPI schema is at ``/openapi.json``."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.middleware.cors import CORSMiddleware

    from ui.api import api_router, bad_request
    from ui.openai_api import openai_router

    server = FastAPI(title="News Q&A", docs_url=None, redoc_url=None)
    # With Starlette's CORS on the parent app, Gradio adds none of its own (which echoed any
    # origin, with credentials, to a server reached by a host name).
    server.add_middleware(
        CORSMiddleware,
        allow_origins=list(cors_origins),
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["authorization", "content-type"],
    )
    server.add_exception_handler(RequestValidationError, bad_request)
    server.include_router(api_router(qa, lambda: sessions.live))
    server.include_router(openai_router(qa))
    app.queue(default_concurrency_limit=16)
    server = gr.mount_gradio_app(
        server,
        app,
        path="/",
        auth=access.login,
        css=CSS,
        show_error=False,
        max_file_size=upload_limit(qa),
        footer_links=[],
    )
    uvicorn.run(
        guarded(server, access, upload_limit(qa), cors_origins),
        host=host,
        port=port,
        log_level="warning",
    )
