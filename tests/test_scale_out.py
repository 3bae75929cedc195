"""Scale-out on real parts: a `chroma run` server holds the library, two `rag serve`
processes (each with a home of its own, as on two machines) answer over HTTP, and one feed
worker (`rag watch`) writes. A new article is answerable on both servers, and once removed it
is never cited by either again. (How fast is measured by `rag bench --live`; these tests wait
up to ``BOUND`` seconds for the behaviour itself.)"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.assistant import Assistant
from rag.config import Config

from .conftest import SAMPLES, free_port, running
from .feed_site import feed_site
from .test_live_library import BOUND, rag, within

pytestmark = pytest.mark.slow

COLLECTION = "scale-out"
QUESTION = "Who reopened the Vasby lighthouse?"


@pytest.fixture
def servers(tmp_path: Path, chroma_server: str, embedder) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    config = Config.from_env(home=tmp_path / "seed", chroma_url=chroma_server).with_(
        collection=COLLECTION
    )
    assert Assistant.open(config).ingest(SAMPLES).ok
    urls = []
    with contextlib.ExitStack() as stack:
        for i in range(2):
            port = free_port()
            env = dict(
                os.environ,
                RAG_HOME=str(tmp_path / f"serve-{i}"),
                RAG_CHROMA_URL=chroma_server,
                RAG_COLLECTION=COLLECTION,
            )
            args = [sys.executable, "-m", "rag.cli", "serve", "--no-watch", "--port", str(port)]
            url = f"http://127.0.0.1:{port}"
            stack.enter_context(running(args, url, tmp_path / f"serve-{i}.log", env))
            urls.append(url)
        yield urls


def cited_ids(server: str) -> set[str]:
    got = httpx.post(f"{server}/api/ask", json={"question": QUESTION}, timeout=60)
    assert got.status_code == 200, got.text
    return {c["article_id"] for c in got.json()["citations"]}


def test_two_servers_and_one_feed_worker_on_a_chroma_server(
    tmp_path: Path, chroma_server: str, servers: list[str]
) -> None:
    settings = {"RAG_CHROMA_URL": chroma_server, "RAG_COLLECTION": COLLECTION}
    worker_home = tmp_path / "worker"
    with feed_site() as site:
        lighthouse = site.story(
            "/news/lighthouse",
            "Vasby lighthouse relit",
            "Wed, 02 Dec 2026 06:00:00 GMT",
            "The Vasby lighthouse was reopened on Sunday by the coast guard officer Maja Lind.",
            "It had been dark for eleven years.",
        )
        feed = site.feed("/rss", "Coast News", [lighthouse])
        for server in servers:
            assert all("Vasby" not in c for c in cited_ids(server))
        done = rag(worker_home, "watch", feed, "--once", RAG_ALLOW_PRIVATE_URLS="1", **settings)
        assert done.returncode == 0, done.stderr
        assert f"{feed}: 1 added" in done.stderr

    listing = httpx.get(f"{servers[0]}/api/articles", timeout=30).json()
    (new,) = [a["id"] for a in listing if a["title"] == "Vasby lighthouse relit"]
    for server in servers:
        assert within(BOUND, lambda s=server: new in cited_ids(s)) is not None, server
    got = httpx.post(f"{servers[1]}/api/ask", json={"question": QUESTION}, timeout=60).json()
    assert "Maja Lind" in got["text"]
    assert got["citations"][0]["source"] == "Coast News"

    done = rag(worker_home, "docs", "remove", new, **settings)
    assert done.returncode == 0, done.stderr
    for server in servers:
        assert within(BOUND, lambda s=server: new not in cited_ids(s)) is not None, server
    for _ in range(3):  # never again, on either
        for server in servers:
            assert new not in cited_ids(server)
