"""The Library tab's feeds: follow a feed or folder (polled at once, then by the server's
watcher), see each subscription's last poll and last error, stop following one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from ingest.feeds import Watcher
from ingest.subscriptions import when

HEADERS = ["feed or folder", "title", "last poll", "last error", "articles", "entries seen"]


def feed_rows(watcher: Watcher) -> list[list[Any]]:
    return [
        [s.ref, s.title, when(s.last_poll), s.last_error, s.articles, len(s.seen)]
        for s in watcher.subscriptions.all()
    ]


def feeds_panel(
    watcher: Watcher, library_outputs: list[Any], refreshed: Callable[[], tuple[Any, ...]]
) -> tuple[list[Any], Callable[[], tuple[Any, ...]]]:
    """The feed controls, inside the current Blocks; ``refreshed`` gives the new values of
    ``library_outputs`` after a poll added articles. Returns the components that show the
    subscriptions and the function that gives their current values (for the page's load)."""
    gr.Markdown("### Feeds and folders followed")
    table = gr.Dataframe(
        feed_rows(watcher), headers=HEADERS, interactive=False, elem_id="feeds", wrap=True
    )
    with gr.Row():
        ref = gr.Textbox(
            label="Follow an RSS/Atom feed URL or a folder", scale=3, elem_id="feed-url"
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
            return ("Give a feed URL or a folder.", gr.update(), gr.update(), *refreshed())
        try:
            sub = watcher.follow(text)
        except ValueError as exc:
            return (str(exc), gr.update(), gr.update(), *refreshed())
        result = watcher.poll(sub)
        note = f"Following {sub.kind} `{sub.ref}`; polled now: "
        lines = result.line().split("\n", 1)
        return (
            note + lines[0].split(": ", 1)[1] + ("\n" + lines[1] if len(lines) > 1 else ""),
            feed_rows(watcher),
            choices(),
            *refreshed(),
        )

    def unfollow(ref_: str | None) -> tuple[Any, ...]:
        if not ref_:
            return "Choose a feed.", gr.update(), gr.update()
        gone = watcher.unfollow(ref_)
        msg = f"No longer following `{ref_}`; its articles stay." if gone else "Not followed."
        return msg, feed_rows(watcher), choices()

    follow.click(
        follow_now,
        ref,
        [log, table, chosen, *library_outputs],
        api_visibility="private",
    )
    forget.click(unfollow, chosen, [log, table, chosen], api_visibility="private")
    return [table, chosen], lambda: (feed_rows(watcher), choices())
