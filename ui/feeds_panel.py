"""The Library tab's feeds: follow a feed (polled at once, then by the server's watcher), see
each subscription's last poll and last error, stop following one. The page follows web feeds
only: a folder on the server is followed from the command line (``rag watch FOLDER``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from ingest.feeds import Watcher
from ingest.subscriptions import when
from ui.render import md_text
from ui.upload import WEB_ONLY

HEADERS = ["feed or folder", "title", "last poll", "last error", "articles", "entries seen"]


def feed_rows(watcher: Watcher) -> list[list[Any]]:
    return [
        [s.ref, s.title, when(s.last_poll), s.last_error, s.articles, len(s.seen)]
        for s in watcher.subscriptions.all()
    ]


def feeds_panel(watcher: Watcher) -> tuple[list[Any], Callable[[], tuple[Any, ...]], Any]:
    """The feed controls, inside the current Blocks. Returns the components that show the
    subscriptions, the function that gives their current values (for the page's load), and
    the event of following one (its poll may add articles: the page chains its refresh)."""
    gr.Markdown("### Feeds followed")
    table = gr.Dataframe(
        feed_rows(watcher), headers=HEADERS, interactive=False, elem_id="feeds", wrap=True
    )
    with gr.Row():
        ref = gr.Textbox(
            label="Follow an RSS/Atom feed (http or https URL)", scale=3, elem_id="feed-url"
        )
        follow = gr.Button("Follow", elem_id="follow", scale=1)
    with gr.Row():
        chosen = gr.Dropdown(
            [s.ref for s in watcher.subscriptions.all()], label="Feed", elem_id="feed-choice"
        )
        forget = gr.Button("Stop following", variant="stop", elem_id="unfollow")
    log = gr.Markdown("", elem_id="feed-log")

    def choices() -> Any:
        return gr.update(choices=[s.ref for s in watcher.subscriptions.all()], value=None)

    def follow_now(text: str) -> tuple[Any, ...]:
        text = (text or "").strip()
        if not text:
            return ("Give a feed URL.", gr.update(), gr.update())
        if not text.lower().startswith(("http://", "https://")):
            return (f"{WEB_ONLY} (folders are followed with `rag watch FOLDER`)",
                    gr.update(), gr.update())  # fmt: skip
        try:
            sub = watcher.follow(text)
        except ValueError as exc:
            return (md_text(str(exc)), gr.update(), gr.update())
        result = watcher.poll(sub)
        note = f"Following {sub.kind} {md_text(sub.ref)}; polled now: "
        lines = result.line().split("\n", 1)
        said = lines[0].split(": ", 1)[1] + ("\n" + lines[1] if len(lines) > 1 else "")
        return (note + md_text(said).replace("\n", "  \n"), feed_rows(watcher), choices())

    def unfollow(ref_: str | None) -> tuple[Any, ...]:
        if not ref_:
            return "Choose a feed.", gr.update(), gr.update()
        gone = watcher.unfollow(ref_)
        msg = (
            f"No longer following {md_text(ref_)}; its articles stay." if gone else "Not followed."
        )
        return msg, feed_rows(watcher), choices()

    followed = follow.click(follow_now, ref, [log, table, chosen], api_visibility="private")
    forget.click(unfollow, chosen, [log, table, chosen], api_visibility="private")
    return [table, chosen], lambda: (feed_rows(watcher), choices()), followed
