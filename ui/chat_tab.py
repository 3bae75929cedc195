"""The Chat tab: a conversation whose answers keep their sources under them, ``[n]`` markers
that open the quote in its article beside the chat, the story the conversation is on above the
box, and stop, retry, undo and new conversation. Each browser tab has its own ``Chat`` in a
``gr.State``, which Gradio deletes an hour after the tab closes (``PageSessions`` counts
them)."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import gradio as gr

from rag.answer import Answer
from rag.assistant import Assistant
from rag.chat import Chat
from rag.embedder import EmbeddingError
from rag.llm import LLMError
from rag.records import ArticleInfo
from rag.retrieve import Filters
from rag.store import StoreError
from ui.render import (
    answer_html,
    article_html,
    esc,
    latest_choices,
    md_text,
    parse_cite,
    story_html,
)

#: Runs when the article view changes: the marked quote scrolled into view.
SCROLL_TO_QUOTE = """() => { setTimeout(() => {
  const m = document.querySelector('#article-view mark');
  if (m) m.scrollIntoView({block: 'center'});
}, 50); }"""
#: A click on a citation link anywhere in the chat becomes the bridge's ``cite`` event.
CITE_BRIDGE = """document.addEventListener('click', (e) => {
  const a = e.target.closest('#chat a.cite');
  if (!a) return;
  e.preventDefault();
  trigger('cite', {href: a.getAttribute('href')});
});"""


class PageSessions:
    """How many conversations the page holds (one per open tab that asked something)."""

    def __init__(self) -> None:
        self._live = 0
        self._lock = threading.Lock()

    @property
    def live(self) -> int:
        return self._live

    def started(self) -> None:
        with self._lock:
            self._live += 1

    def ended(self, chat: Chat | None) -> None:
        """Gradio's ``delete_callback`` of a tab's chat state."""
        if chat is not None:
            with self._lock:
                self._live -= 1


def error_line(exc: Exception) -> str:
    """Any failure of a turn as one line under the chat."""
    said = " ".join(str(exc).split())
    if isinstance(exc, LLMError | ValueError):
        line = said
    elif isinstance(exc, StoreError) or _from_the_store(exc):
        line = f"the library's store failed: {said}"
    elif isinstance(exc, EmbeddingError):
        line = f"the embedding model failed: {said}"
    else:
        line = f"something went wrong ({type(exc).__name__}): {said}"
    return f"⚠️ {line}"


def _from_the_store(exc: Exception) -> bool:
    """Whether ``exc`` came from Chroma or its connection (a server that is down)."""
    import httpx

    return isinstance(exc, httpx.HTTPError | ConnectionError) or type(exc).__module__.startswith(
        "chromadb"
    )


def _text_of(message: dict[str, Any]) -> str:
    """The words of a chat message as the page sent it (escaped HTML, or text parts)."""
    content = message.get("content")
    if not isinstance(content, str):
        content = " ".join(
            str(part.get("text", "")) for part in content or [] if isinstance(part, dict)
        )
    return html.unescape(content)


def held_back_note(answer: Answer) -> str:
    """What LLM mode kept out of the answer: how many sentences, and those shown apart."""
    if not answer.unsupported:
        return ""
    fallback = "; the extractive answer stands in" if answer.mode == "extractive" else ""
    note = (
        f"{answer.unsupported} sentence(s) of the model's reply held back: no article "
        f"supports them{fallback}."
    )
    if answer.set_apart:
        note += " Not found in the articles: " + " / ".join(answer.set_apart)
    return note


@dataclass
class ChatParts:
    """The Chat tab's components."""

    chatbot: Any
    question: Any
    state: Any
    story: Any
    leave: Any
    status: Any
    ask: Any
    stop: Any
    retry: Any
    undo: Any
    new: Any
    examples: Any
    latest: Any
    article: Any
    bridge: Any


def chat_tab(sessions: PageSessions) -> ChatParts:
    """The Chat tab's components, inside the current Blocks."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            chatbot = gr.Chatbot(
                elem_id="chat",
                height=520,
                label="Conversation",
                render_markdown=False,  # answers are our HTML, article text escaped in it
                latex_delimiters=[],
                sanitize_html=True,
            )
            story = gr.HTML("", elem_id="story")
            leave = gr.Button("Leave this story", size="sm", visible=False, elem_id="leave-story")
            status = gr.Markdown("", elem_id="status")
            question = gr.Textbox(
                placeholder="Ask about the articles… (Enter sends)",
                show_label=False,
                elem_id="question",
                lines=1,
                max_lines=4,
            )
            with gr.Row():
                ask = gr.Button("Ask", variant="primary", elem_id="ask", min_width=80)
                stop = gr.Button("Stop", variant="stop", elem_id="stop", min_width=80)
                retry = gr.Button("Retry", elem_id="retry", min_width=80)
                undo = gr.Button("Undo", elem_id="undo", min_width=80)
                new = gr.Button("New conversation", elem_id="new-conversation", min_width=80)
            examples = gr.Dataset(
                components=[question], samples=[], label="Try", elem_id="examples"
            )
        with gr.Column(scale=2, min_width=300):
            latest = gr.Radio([], label="Latest articles", elem_id="latest")
            article = gr.HTML("", elem_id="article-view")
    bridge = gr.HTML("", js_on_load=CITE_BRIDGE, elem_id="cite-bridge")
    state = gr.State(None, delete_callback=sessions.ended)
    return ChatParts(
        chatbot, question, state, story, leave, status, ask, stop, retry, undo, new, examples,
        latest, article, bridge,
    )  # fmt: skip


class ChatTab:
    """What the Chat tab does, for one library."""

    def __init__(self, qa: Assistant, sessions: PageSessions) -> None:
        self.qa = qa
        self.sessions = sessions

    def chat_for(self, chat: Chat | None, mode: str, k: int, filters: Filters) -> Chat:
        """The tab's chat with the current settings (a new one on the first question; a new
        answerer, same conversation, when the mode changes)."""
        if chat is None:
            chat = self.qa.chat(mode=mode, k=k, filters=filters)
            self.sessions.started()
        elif chat.answerer.mode != mode:
            fresh = self.qa.chat(mode=mode, k=k, filters=filters)
            chat = replace(chat, answerer=fresh.answerer, rewrite=fresh.rewrite)
        chat.k, chat.filters = k, filters
        return chat

    def story_of(self, chat: Chat | None) -> tuple[str, Any]:
        if chat is None:
            return "", gr.update(visible=False)
        on = [(p.title, p.published) for p in chat.story_articles()]
        return story_html(on), gr.update(visible=bool(on))

    def respond(
        self,
        text: str,
        history: list[dict[str, Any]],
        chat: Chat | None,
        mode: str,
        k: float,
        date_from: str,
        date_to: str,
        sources: list[str] | None,
    ) -> Iterator[tuple[Any, ...]]:
        """Answer the question in the box, streaming; outputs: chatbot, box, state, story,
        leave button, status."""
        text, history = (text or "").strip(), list(history or [])
        if not text:
            yield history, "", chat, gr.update(), gr.update(), ""
            return
        try:
            filters = Filters(
                tuple(sources or ()), (date_from or "").strip(), (date_to or "").strip()
            )
            filters.where()  # a bad date is reported before anything runs
            if self.qa.is_empty():
                raise ValueError("The library is empty: add articles in the Library tab.")
            chat = self.chat_for(chat, mode, int(k), filters)
            asked = [*history, {"role": "user", "content": esc(text)}]
            stream, shown = chat.stream(text), ""
            for piece in stream:
                shown += piece
                yield (
                    [*asked, {"role": "assistant", "content": esc(shown)}],
                    "",
                    chat,
                    gr.update(),
                    gr.update(),
                    "",
                )
            answer = stream.answer
        except Exception as exc:  # every kind of failure is one line; the page goes on
            yield history, text, chat, gr.update(), gr.update(), md_text(error_line(exc))
            return
        reply = {"role": "assistant", "content": answer_html(answer, held_back_note(answer))}
        yield [*asked, reply], "", chat, *self.story_of(chat), ""

    def undo(self, history: list[dict[str, Any]], chat: Chat | None) -> tuple[Any, ...]:
        """Take back the last turn; its question goes back in the box. Outputs: chatbot, box,
        state, story, leave button, status."""
        turn = chat.undo() if chat is not None else None
        kept = self.matching(history, chat)
        return kept, (turn.question if turn else ""), chat, *self.story_of(chat), ""

    @staticmethod
    def matching(history: list[dict[str, Any]], chat: Chat | None) -> list[dict[str, Any]]:
        """The chat's messages that belong to finished turns (after a stop or an undo)."""
        turns = len(chat.history) if chat is not None else 0
        return list(history or [])[: 2 * turns]

    def stopped(self, history: list[dict[str, Any]], chat: Chat | None) -> tuple[Any, ...]:
        """Outputs: chatbot, box, status. The unfinished question goes back in the box."""
        kept = self.matching(history, chat)
        rest = list(history or [])[len(kept) :]
        asked = _text_of(rest[0]) if rest and rest[0].get("role") == "user" else ""
        return kept, asked, "⏹ Stopped."

    def again(self, text: str, history: list[dict[str, Any]], chat: Chat | None) -> tuple[Any, ...]:
        """Retry: the question in the box when a turn failed or was stopped (it is still
        there), else the last turn taken back and its question put in the box to be asked
        again. Outputs as ``undo``."""
        if (text or "").strip():
            return self.matching(history, chat), text, chat, gr.update(), gr.update(), ""
        return self.undo(history, chat)

    def start_over(self, chat: Chat | None) -> tuple[Any, ...]:
        if chat is not None:
            chat.reset()
        return [], "", chat, "", gr.update(visible=False), "", ""

    def leave_story(self, chat: Chat | None) -> tuple[Any, ...]:
        if chat is not None:
            chat.leave_story()
        return chat, "", gr.update(visible=False)

    def open_citation(self, evt: gr.EventData) -> Any:
        """The article of a clicked ``[n]``, its quote marked."""
        found = parse_cite(str((evt._data or {}).get("href", "")))
        if found is None:
            return gr.update()
        article_id, start, end = found
        stored = self.qa.article(article_id)
        if stored is None:
            return "<i>This article is no longer in the library.</i>"
        return article_html(stored, start, end)

    def open_article(self, article_id: str | None) -> str:
        stored = self.qa.article(article_id) if article_id else None
        return "" if stored is None else article_html(stored)

    @staticmethod
    def latest_update(docs: list[ArticleInfo]) -> Any:
        return gr.update(choices=latest_choices(docs), value=None)


def wire_chat(tab: ChatTab, parts: ChatParts, settings: list[Any]) -> None:
    """The Chat tab's events; ``settings`` are the mode, top-k, date range and sources."""
    p = parts
    turn_outputs = [p.chatbot, p.question, p.state, p.story, p.leave, p.status]
    inputs = [p.question, p.chatbot, p.state, *settings]
    asked = p.ask.click(tab.respond, inputs, turn_outputs, api_name="ask")
    sent = p.question.submit(tab.respond, inputs, turn_outputs, api_visibility="private")
    retried = p.retry.click(
        tab.again, [p.question, p.chatbot, p.state], turn_outputs, api_visibility="private"
    )
    asked_again = retried.then(tab.respond, inputs, turn_outputs, api_visibility="private")
    p.stop.click(
        tab.stopped, [p.chatbot, p.state], [p.chatbot, p.question, p.status],
        cancels=[asked, sent, asked_again], api_visibility="private",
    )  # fmt: skip
    p.undo.click(tab.undo, [p.chatbot, p.state], turn_outputs, api_visibility="private")
    p.new.click(tab.start_over, p.state, [*turn_outputs, p.article], api_visibility="private")
    # The chat's own clear button starts over too, so the conversation and its view agree.
    p.chatbot.clear(tab.start_over, p.state, [*turn_outputs, p.article], api_visibility="private")
    p.leave.click(tab.leave_story, p.state, [p.state, p.story, p.leave], api_visibility="private")
    p.bridge.cite(tab.open_citation, None, p.article, api_visibility="private").then(
        None, js=SCROLL_TO_QUOTE
    )
    p.latest.change(tab.open_article, p.latest, p.article, api_visibility="private")
    p.examples.click(lambda s: s[0], p.examples, p.question, api_visibility="private")
