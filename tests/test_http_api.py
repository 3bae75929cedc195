"""The HTTP API of a running `rag serve` over the sample articles, through the `openai` client
and `httpx`: cited answers, streaming as server-sent events, a follow-up read in the light of
the earlier turn, the models list, and clear 4xx answers to bad requests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.assistant import Assistant
from rag.config import Config

from .conftest import SAMPLES, free_port, running

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[tuple[str, Path]]:  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("api") / "lib"
    assert Assistant.open(Config.from_env(home=home)).ingest(SAMPLES).ok
    port = free_port()
    env = dict(
        os.environ, RAG_HOME=str(home), GRADIO_ANALYTICS_ENABLED="False", RAG_ALLOW_PRIVATE_URLS="1"
    )
    args = [sys.executable, "-m", "rag.cli", "serve", "--no-watch", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(args, url, home.parent / "serve.log", env):
        yield url, home


def test_the_openai_client_gets_a_cited_answer(server: tuple[str, Path]) -> None:
    from openai import OpenAI

    url, home = server
    client = OpenAI(base_url=f"{url}/v1", api_key="unused")
    assert [m.id for m in client.models.list().data] == ["rag-news"]
    done = client.chat.completions.create(
        model="rag-news",
        messages=[{"role": "user", "content": "Who did Gina Raimondo meet in Beijing?"}],
    )
    text = done.choices[0].message.content or ""
    assert "Wang Wentao" in text and "[1]" in text and "\nSources:\n[1] " in text
    cited = done.model_extra["citations"]  # type: ignore[index]
    article = Assistant.open(Config.from_env(home=home)).article(cited[0]["article_id"])
    assert article is not None
    assert article.text[cited[0]["start"] : cited[0]["end"]] == cited[0]["quote"]
    assert cited[0]["quote"] in text


def test_streaming_comes_as_server_sent_events_with_the_citations_last(
    server: tuple[str, Path],
) -> None:
    from openai import OpenAI

    url, _ = server
    client = OpenAI(base_url=f"{url}/v1", api_key="unused")
    chunks = list(
        client.chat.completions.create(
            model="rag-news",
            messages=[{"role": "user", "content": "How many Chinese companies were removed?"}],
            stream=True,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "27" in text and "Sources:" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"]  # type: ignore[index]
    with httpx.stream(
        "POST",
        f"{url}/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "Who is Wang Wentao?"}], "stream": True},
        timeout=60,
    ) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in raw.iter_lines() if line]
    assert lines[-1] == "data: [DONE]" and all(line.startswith("data: ") for line in lines)


def test_a_follow_up_is_read_in_the_light_of_the_earlier_turns(server: tuple[str, Path]) -> None:
    url, _ = server
    messages = [
        {"role": "user", "content": "Which companies were removed from a blacklist?"},
        {"role": "assistant", "content": "..."},
        {"role": "user", "content": "How many of them were there?"},
    ]
    got = httpx.post(f"{url}/v1/chat/completions", json={"messages": messages}, timeout=60)
    assert got.status_code == 200, got.text
    assert "27" in got.json()["choices"][0]["message"]["content"]


def test_bad_requests_get_a_clear_4xx(server: tuple[str, Path]) -> None:
    url, _ = server
    empty = httpx.post(f"{url}/v1/chat/completions", json={"messages": []}, timeout=30)
    assert empty.status_code == 422
    no_user = httpx.post(
        f"{url}/v1/chat/completions",
        json={"messages": [{"role": "system", "content": "be brief"}]},
        timeout=30,
    )
    assert no_user.status_code == 400 and "user message" in no_user.json()["detail"]
    not_json = httpx.post(f"{url}/v1/chat/completions", content=b"{", timeout=30)
    assert not_json.status_code == 422
    # The schema is served; no /docs page, which would load its scripts from a CDN.
    assert "/api/ask" in httpx.get(f"{url}/openapi.json", timeout=30).json()["paths"]


def test_a_conversation_by_id_follows_up_and_unknown_ids_get_404(
    server: tuple[str, Path],
) -> None:
    url, home = server
    first = httpx.post(
        f"{url}/api/chat",
        json={"question": "Which companies were removed from a blacklist?"},
        timeout=60,
    )
    assert first.status_code == 200, first.text
    conversation = first.json()["conversation_id"]
    follow = httpx.post(
        f"{url}/api/chat",
        json={"conversation_id": conversation, "question": "How many of them were there?"},
        timeout=60,
    ).json()
    assert follow["conversation_id"] == conversation and "27" in follow["text"]
    assert follow["standalone"] != "How many of them were there?"
    c = follow["citations"][0]
    article = Assistant.open(Config.from_env(home=home)).article(c["article_id"])
    assert article is not None and article.text[c["start"] : c["end"]] == c["quote"]
    assert {"title", "published", "url", "source"} <= set(c)
    # The same follow-up in a new conversation has nothing to follow.
    alone = httpx.post(f"{url}/api/chat", json={"question": "How many of them were there?"})
    assert alone.json()["conversation_id"] != conversation
    unknown = httpx.post(
        f"{url}/api/chat", json={"conversation_id": "nope", "question": "Why?"}, timeout=30
    )
    assert unknown.status_code == 404 and "conversation" in unknown.json()["detail"]
    assert httpx.post(f"{url}/api/chat", json={"question": ""}, timeout=30).status_code == 422


def test_articles_are_added_by_file_and_url_and_removed_by_id(
    server: tuple[str, Path], web_root: tuple[str, Path]
) -> None:
    url, _ = server
    site, folder = web_root
    (folder / "storm.html").write_text(
        "<html><head><title>Storm shuts Port Elling</title></head><body><article>"
        "<p>The storm shut the port of Port Elling on Monday, harbour master Ines Carvalho "
        "said. Forty-two fishing boats stayed in the harbour.</p></article></body></html>",
        "utf-8",
    )
    note = "Bridge repairs\n\nThe Kessel bridge reopens on 3 March after repairs, the city said.\n"
    before = len(httpx.get(f"{url}/api/articles", timeout=30).json())
    missing = httpx.post(f"{url}/api/articles", timeout=30)
    assert missing.status_code == 400 and "files" in missing.json()["detail"]
    # The server refuses private addresses; this one is allowed only through the test's env.
    added = httpx.post(
        f"{url}/api/articles",
        files=[("files", ("bridge.txt", note.encode(), "text/plain"))],
        data={"urls": [f"{site}/storm.html", f"{site}/missing.html"]},
        timeout=120,
    )
    assert added.status_code == 200, added.text
    report = added.json()
    assert len(report["added"]) == 2 and [Path(f["source"]).name for f in report["failed"]] == [
        "missing.html"
    ]
    assert len(httpx.get(f"{url}/api/articles", timeout=30).json()) == before + 2
    question = {"question": "How many fishing boats stayed in the harbour of Port Elling?"}
    answer = httpx.post(f"{url}/api/ask", json=question, timeout=60).json()
    storm = answer["citations"][0]["article_id"]
    assert "Forty-two" in answer["text"] and storm in report["added"]
    gone = httpx.delete(f"{url}/api/articles/{storm}", timeout=30)
    assert gone.status_code == 200 and gone.json()[0]["id"] == storm
    after = httpx.post(f"{url}/api/ask", json=question, timeout=60).json()
    assert storm not in {c["article_id"] for c in after["citations"]}
    assert httpx.delete(f"{url}/api/articles/{storm}", timeout=30).status_code == 404
    for article_id in report["added"]:
        httpx.delete(f"{url}/api/articles/{article_id}", timeout=30)
