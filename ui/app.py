"""The Gradio page: a chat whose answers stream with ``[n]`` markers, the cited passages as
cards beside it (selecting one shows the article with the quote highlighted), the library
(upload, URLs, remove) and the answer settings."""

from __future__ import annotations

import html
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import gradio as gr

from ingest.feeds import Watcher
from rag.answer import Answer, Citation
from rag.assistant import Assistant
from rag.chat import Chat
from rag.llm import LLMError
from rag.retrieve import Filters
from ui.feeds_panel import feeds_panel
from ui.upload import UPLOAD_TYPES, ingest_uploads, upload_limit

EXAMPLES = [
    "Who did Gina Raimondo meet in Beijing?",
    "How many Chinese companies were removed from a blacklist?",
    "What did Jake Sullivan call export controls?",
]
CSS = """
#sources .card { border: 1px solid #ddd; border-radius: 8px; padding: 8px 10px; margin: 6px 0; }
#sources .card .n { font-weight: 700; margin-right: 6px; }
#sources .card .meta { color: #666; font-size: 0.85em; }
#article-view { max-height: 520px; overflow-y: auto; line-height: 1.5; }
#article-view mark { background: #ffe066; padding: 1px 0; }
#rewritten { color: #777; font-size: 0.85em; }
"""
SCROLL_TO_QUOTE = """() => { setTimeout(() => {
  const m = document.querySelector('#article-view mark');
  if (m) m.scrollIntoView({block: 'center'});
}, 50); }"""


def sources_html(answer: Answer | None) -> str:
    """The cited passages as cards: number, title, source, date, link, quote."""
    if answer is None or not answer.citations:
        return "<div class='empty'>Cited passages appear here.</div>"
    cards = []
    for c in answer.citations:
        meta = " · ".join(html.escape(x) for x in (c.source, c.published) if x)
        link = (
            f" · <a href='{html.escape(c.url, quote=True)}' target='_blank' rel='noopener'>link</a>"
            if c.url.startswith(("http://", "https://"))
            else ""
        )
        cards.append(
            f"<div class='card' data-n='{c.n}' data-article='{html.escape(c.article_id)}' "
            f"data-start='{c.start}' data-end='{c.end}'><span class='n'>[{c.n}]</span>"
            f"<b>{html.escape(c.title)}</b><div class='meta'>{meta}{link}</div>"
            f"<div class='quote'>“{html.escape(c.quote)}”</div></div>"
        )
    return "".join(cards)


def article_html(text: str, c: Citation) -> str:
    """The whole article, the quote marked where it stands."""
    before, quote, after = text[: c.start], text[c.start : c.end], text[c.end :]

    def paras(s: str) -> str:
        return html.escape(s).replace("\n", "<br>")

    return (
        f"<h3>{html.escape(c.title)}</h3>"
        f"<div class='body'>{paras(before)}<mark id='quote'>{paras(quote)}</mark>"
        f"{paras(after)}</div>"
    )


def picker_choices(answer: Answer | None) -> list[str]:
    return [f"[{c.n}] {c.title[:70]}" for c in answer.citations] if answer else []


class Sessions:
    """One ``Chat`` per browser session, kept on the server."""

    def __init__(self, qa: Assistant) -> None:
        self.qa = qa
        self._chats: dict[str, Chat] = {}
        self._lock = threading.Lock()

    def get(self, sid: str, mode: str, k: int, filters: Filters) -> Chat:
        with self._lock:
            chat = self._chats.get(sid)
            if chat is None or chat.answerer.mode != mode:
                old = chat
                chat = self.qa.chat(mode=mode, k=k, filters=filters)
                if old is not None:
                    chat.history, chat.story, chat.context = old.history, old.story, old.context
                self._chats[sid] = chat
            chat.k, chat.filters = k, filters
            return chat

    def reset(self, sid: str) -> None:
        with self._lock:
            self._chats.pop(sid, None)


_MARKDOWN = re.compile(r"[\\`*_{}\[\]()#+\-.!|>~]")


def as_text(text: str) -> str:
    """``text`` for a Markdown component that shows it as written: markup escaped."""
    return _MARKDOWN.sub(lambda m: "\\" + m.group(), html.escape(text))


def held_back_note(answer: Answer) -> str:
    """What LLM mode kept out of the answer: how many sentences, and those shown apart."""
    if not answer.unsupported:
        return ""
    fallback = "; the extractive answer stands in" if answer.mode == "extractive" else ""
    lines = [
        f"{answer.unsupported} sentence(s) of the model's reply held back: no article "
        f"supports them{fallback}."
    ]
    if answer.set_apart:
        lines.append("Not found in the articles:")
        # The model's words are shown as text, never as markup (HTML or Markdown).
        lines += ["- " + as_text(s) for s in answer.set_apart]
    return "\n".join(lines)


def library_rows(qa: Assistant) -> list[list[Any]]:
    return [[d.title, d.source, d.published, d.chunks, d.id] for d in qa.documents()]


def build_app(qa: Assistant, watcher: Watcher | None = None) -> gr.Blocks:
    """The page over the library that ``qa`` holds (``watcher`` follows its feeds)."""
    watcher = watcher or Watcher(qa.store, qa.embedder, qa.config)
    sessions = Sessions(qa)
    modes = ["extractive", "llm"] if qa.config.llm_configured else ["extractive"]

    def refreshed() -> tuple[Any, ...]:
        docs = qa.documents()
        return (
            library_rows(qa),
            gr.update(choices=[(f"{d.title[:60]} ({d.id})", d.id) for d in docs], value=None),
            gr.update(choices=sorted({d.source for d in docs if d.source})),
        )

    with gr.Blocks(title="News Q&A") as app:
        sid = gr.State("")
        last = gr.State(None)
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(elem_id="chat", height=480, label="Conversation")
                    rewritten = gr.Markdown("", elem_id="rewritten")
                    status = gr.Markdown("", elem_id="status")
                    question = gr.Textbox(
                        placeholder="Ask about the articles…", show_label=False, elem_id="question"
                    )
                    with gr.Row():
                        send = gr.Button("Ask", variant="primary", elem_id="ask")
                        new = gr.Button("New conversation", elem_id="new-conversation")
                    gr.Examples(EXAMPLES, inputs=question, label="Try")
                with gr.Column(scale=2):
                    sources = gr.HTML(sources_html(None), elem_id="sources")
                    picker = gr.Radio([], label="Open a cited passage", elem_id="citation-picker")
                    article = gr.HTML("", elem_id="article-view")
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
                source_filter = gr.Dropdown(
                    sorted({d.source for d in qa.documents() if d.source}),
                    multiselect=True,
                    label="Only these sources",
                )
        with gr.Tab("Library"):
            table = gr.Dataframe(
                library_rows(qa),
                headers=["title", "source", "date", "chunks", "id"],
                interactive=False,
                elem_id="library",
            )
            with gr.Row():
                files = gr.File(
                    file_count="multiple",
                    file_types=list(UPLOAD_TYPES),
                    label="Upload articles",
                    elem_id="upload",
                )
                urls = gr.Textbox(label="Or paste URLs (one a line)", lines=3, elem_id="urls")
            add = gr.Button("Add to library", variant="primary", elem_id="add")
            ingest_log = gr.Markdown("", elem_id="ingest-log")
            with gr.Row():
                to_remove = gr.Dropdown(
                    [(f"{d.title[:60]} ({d.id})", d.id) for d in qa.documents()],
                    label="Article to remove",
                    elem_id="remove-choice",
                )
                remove = gr.Button("Remove", variant="stop", elem_id="remove")
            feed_outputs, feed_state = feeds_panel(
                watcher, [table, to_remove, source_filter], refreshed
            )

        def respond(
            text: str,
            history: list[dict[str, Any]],
            session: str,
            mode_value: str,
            k: float,
            d_from: str,
            d_to: str,
            only: list[str] | None,
        ) -> Iterator[tuple[Any, ...]]:
            session = session or uuid.uuid4().hex
            history = list(history or [])
            text = (text or "").strip()
            if not text:
                yield history, "", session, gr.update(), gr.update(), gr.update(), "", None
                return
            if not qa.documents():
                msg = "The library is empty: add articles in the Library tab."
                yield history, "", session, gr.update(), gr.update(), "", f"⚠️ {msg}", None
                return
            try:
                filters = Filters(tuple(only or ()), (d_from or "").strip(), (d_to or "").strip())
                filters.where()  # a bad date is reported before anything runs
                chat = sessions.get(session, mode_value, int(k), filters)
                history += [{"role": "user", "content": text}, {"role": "assistant", "content": ""}]
                stream = chat.stream(text)
                shown = ""
                for piece in stream:
                    shown += piece
                    history[-1] = {"role": "assistant", "content": shown}
                    yield history, "", session, gr.update(), gr.update(), gr.update(), "", None
                answer = stream.answer
            except (LLMError, ValueError) as exc:
                if history and history[-1]["role"] == "assistant" and not history[-1]["content"]:
                    history = history[:-2]
                yield (
                    history,
                    text,
                    session,
                    gr.update(),
                    gr.update(),
                    gr.update(),
                    f"⚠️ {exc}",
                    None,
                )
                return
            history[-1] = {"role": "assistant", "content": answer.text}
            note = held_back_note(answer)
            if answer.rewritten:
                note = f"Searched for: *{answer.standalone}*\n\n{note}".strip()
            choices = picker_choices(answer)
            yield (
                history,
                "",
                session,
                sources_html(answer),
                gr.update(choices=choices, value=None),
                note,
                "",
                answer,
            )

        inputs = [question, chatbot, sid, mode, top_k, date_from, date_to, source_filter]
        outputs = [chatbot, question, sid, sources, picker, rewritten, status, last]
        send.click(respond, inputs, outputs, api_name="ask")
        question.submit(respond, inputs, outputs, api_visibility="private")

        def show(choice: str | None, answer: Answer | None) -> str:
            if not choice or answer is None:
                return ""
            n = int(choice.split("]", 1)[0].lstrip("["))
            c = answer.citation(n)
            stored = qa.article(c.article_id)
            if stored is None:
                return "<i>This article is no longer in the library.</i>"
            return article_html(stored.text, c)

        picker.change(show, [picker, last], article, api_visibility="private").then(
            None, js=SCROLL_TO_QUOTE
        )

        def start_over(session: str) -> tuple[Any, ...]:
            sessions.reset(session)
            return [], sources_html(None), gr.update(choices=[], value=None), "", "", "", None

        new.click(
            start_over,
            sid,
            [chatbot, sources, picker, article, rewritten, status, last],
            api_visibility="private",
        )

        def add_articles(
            uploaded: list[Any] | None,
            pasted: str,
            progress: gr.Progress = gr.Progress(),  # noqa: B008  (Gradio's own idiom)
        ) -> tuple[Any, ...]:
            log = ingest_uploads(qa, uploaded or [], pasted or "", progress)
            return (log, None, "", *refreshed())

        add.click(
            add_articles,
            [files, urls],
            [ingest_log, files, urls, table, to_remove, source_filter],
            api_visibility="private",
        )

        def remove_article(article_id: str | None) -> tuple[Any, ...]:
            if not article_id:
                return ("Choose an article to remove.", *refreshed())
            gone = qa.remove(article_id)
            msg = f"Removed: {gone[0].title}" if gone else "That article was already gone."
            return (msg, *refreshed())

        remove.click(
            remove_article,
            to_remove,
            [ingest_log, table, to_remove, source_filter],
            api_visibility="private",
        )

        def loaded() -> tuple[Any, ...]:
            return (*refreshed(), *feed_state())

        app.load(
            loaded, None, [table, to_remove, source_filter, *feed_outputs], api_visibility="private"
        )
    return app


def launch(
    qa: Assistant,
    host: str,
    port: int,
    auth: tuple[str, str] | None,
    watch: bool = True,
    api_token: str | None = None,
) -> None:
    """Serve the page until interrupted; with ``watch``, follow the library's feeds too.
    ``auth`` is the page's login; it and ``api_token`` guard the HTTP API."""
    watcher = Watcher(qa.store, qa.embedder, qa.config)
    stop = threading.Event()
    if watch:
        threading.Thread(target=watcher.run, args=(stop,), name="feeds", daemon=True).start()
    app = build_app(qa, watcher)
    try:
        _serve(app, qa, host, port, auth, api_token)
    finally:
        stop.set()


def _serve(
    app: gr.Blocks, qa: Assistant, host: str, port: int, auth: Any, api_token: str | None
) -> None:
    """The page and the HTTP API (``/api``, docs at ``/docs``) on one server."""
    import uvicorn
    from fastapi import FastAPI

    from ui.api import Access, api_router
    from ui.openai_api import openai_router

    server = FastAPI(title="News Q&A", docs_url="/docs", redoc_url=None)
    access = Access(auth, api_token)
    server.include_router(api_router(qa, access))
    server.include_router(openai_router(qa, access))
    app.queue(default_concurrency_limit=16)
    server = gr.mount_gradio_app(
        server,
        app,
        path="/",
        auth=auth,
        css=CSS,
        show_error=False,
        max_file_size=upload_limit(qa),
        footer_links=[],
    )
    uvicorn.run(server, host=host, port=port, log_level="warning")
