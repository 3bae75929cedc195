"""The OpenAI endpoint's cost per request against the length of the conversation it carries
(``rag bench``): a chat front end sends every earlier turn with each question, so a request
with 200 earlier turns must cost about what one with a single earlier turn does. Measured
against a real ``rag serve`` over the dataset's library, through HTTP:

- *held*: one conversation asked turn by turn, as a front end does (the server keeps the chat
  that heard the earlier turns);
- *not held*: a conversation the server has never seen (another end-user id: it replays the
  last few turns only).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Earlier turns at which a request is timed.
EARLIER = (1, 50, 200)


def openai_turns(spec: dict[str, Any]) -> dict[str, Any]:
    """Seconds per request with ``EARLIER`` earlier turns, held and not held."""
    import httpx

    from eval.dataset import load_dataset

    data = load_dataset(Path(spec["dataset"]))
    pool = [t.question for item in data.items for t in item.turns]
    questions = list(itertools.islice(itertools.cycle(pool), max(EARLIER) + 1))
    with tempfile.TemporaryDirectory() as home, _serving(Path(home), data.corpus) as url:

        def timed(turns: list[str], user: str) -> float:
            messages: list[dict[str, str]] = []
            for q in turns[:-1]:
                messages += [{"role": "user", "content": q}, {"role": "assistant", "content": "."}]
            messages.append({"role": "user", "content": turns[-1]})
            began = time.perf_counter()
            got = httpx.post(
                f"{url}/v1/chat/completions",
                json={"messages": messages, "user": user},
                timeout=120,
            )
            seconds = time.perf_counter() - began
            if got.status_code != 200:
                raise RuntimeError(f"/v1 answered {got.status_code}: {got.text[:200]}")
            return seconds

        held: dict[str, float] = {}
        for n in range(len(questions)):
            seconds = timed(questions[: n + 1], "front-end")
            if n in EARLIER:
                held[str(n)] = seconds
        not_held = {str(n): timed(questions[: n + 1], f"new-{n}") for n in EARLIER}
    return {"held_s": held, "not_held_s": not_held}


@contextlib.contextmanager
def _serving(home: Path, corpus: Path) -> Iterator[str]:
    """``rag serve`` over a library of ``corpus``, until the block ends; yields its URL."""
    import httpx

    from rag.assistant import Assistant
    from rag.config import Config

    Assistant.open(Config.from_env(home=home, chroma_url=None)).ingest(corpus)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, RAG_HOME=str(home), RAG_CHROMA_URL="", GRADIO_ANALYTICS_ENABLED="False")
    args = [sys.executable, "-m", "rag.cli", "serve", "--no-watch", "--port", str(port)]
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("rag serve did not start for the OpenAI bench")
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def openai_markdown(row: dict[str, Any]) -> list[str]:
    """The table of ``openai_turns``."""
    if not row:
        return []
    lines = [
        "",
        "**OpenAI endpoint** (seconds per request with n earlier turns in the request)",
        "",
        "| earlier turns | " + " | ".join(str(n) for n in EARLIER) + " |",
        "| --- |" + " ---: |" * len(EARLIER),
    ]
    for label, key in (("held (a front end's conversation)", "held_s"), ("not held", "not_held_s")):
        cells = " | ".join(f"{row[key][str(n)]:.2f}" for n in EARLIER)
        lines.append(f"| {label} | {cells} |")
    return lines
