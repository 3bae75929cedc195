"""An article written to attack the page: its title, source, url, text and the sentence an
answer quotes carry HTML, Markdown links and ``javascript:`` URLs. Everywhere the page shows it
(the answer, its sources, the article view, the story line, the header's latest list, the
Library table) it shows as literal text: no element is made from it, no request leaves for its
images, nothing of it runs."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from rag.assistant import Assistant
from rag.config import Config

from .conftest import SAMPLES, free_port, running
from .test_page import SHOTS, ask, browser_page

pytestmark = pytest.mark.slow

PIXEL = "http://127.0.0.1:9/pixel"
TITLE = (
    f"<img src='{PIXEL}-title.png' onerror='window.pwned=1'> Marrow Bay "
    "[lighthouse](javascript:window.pwned=2) **relit**"
)
SOURCE = "<b onmouseover='window.pwned=3'>Bay</b> [Times](javascript:alert(1))"
SENTENCE = (
    f"The Marrow Bay lighthouse was relit on Thursday <img src='{PIXEL}-text.png' "
    "onerror='window.pwned=5'> by keeper [Ada Quill](javascript:window.pwned=6) and "
    "<script>window.pwned=7</script> **forty** volunteers."
)
HOSTILE = {
    "title": TITLE,
    "source": SOURCE,
    "url": "javascript:window.pwned=4",
    "published": "2024-05-02",
    "text": f"{SENTENCE}\n\nThe light had been dark for twelve years, the council said.\n",
}


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Iterator[Any]:
    home = tmp_path_factory.mktemp("hostile-page") / "lib"
    feed = home.parent / "hostile.jsonl"
    feed.write_text(json.dumps(HOSTILE) + "\n", "utf-8")
    assert Assistant.open(Config.from_env(home=home)).ingest(SAMPLES, feed).ok
    port = free_port()
    env = dict(os.environ, RAG_HOME=str(home), GRADIO_ANALYTICS_ENABLED="False")
    args = [sys.executable, "-m", "rag.cli", "serve", "--no-watch", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"

    def watch(pg: Any) -> None:
        pg.requested, pg.dialogs = [], []
        pg.on("request", lambda r: pg.requested.append(r.url))
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))

    with running(args, url, home.parent / "serve.log", env), browser_page(url, watch) as pg:
        pg.wait_for_selector("#article-count")
        yield pg


#: Elements made from the article in those places, and javascript: links anywhere.
MADE = """(where) => {
  const css = where.map(w => `${w} img, ${w} script, ${w} b[onmouseover]`).join(',');
  const made = [...document.querySelectorAll(css)];
  const links = [...document.querySelectorAll('a')]
    .filter(a => /^\\s*javascript:/i.test(a.getAttribute('href') || ''));
  return made.length + links.length;
}"""
PLACES = ["#chat", "#article-view", "#story", "#header-box", "#latest", "#library"]


def assert_nothing_made_or_run(page: Any) -> None:
    assert page.evaluate(MADE, PLACES) == 0
    assert page.evaluate("window.pwned === undefined")
    assert page.dialogs == []
    assert not [u for u in page.requested if "pixel" in u]


def test_the_hostile_article_shows_as_text_in_the_answer_sources_and_story(page: Any) -> None:
    answer = ask(page, "Who relit the Marrow Bay lighthouse on Thursday?")
    assert "<img src=" in answer and "[Ada Quill](javascript:" in answer
    assert "<script>" in answer and "**forty**" in answer
    sources = page.locator("#chat details.sources").last
    sources.locator("summary").click()
    shown = sources.inner_text()
    assert "<img src=" in shown and "**relit**" in shown and "[Times](javascript:" in shown
    assert "On: <img src=" in page.inner_text("#story")
    page.screenshot(path=str(SHOTS / "11-hostile-answer.png"))
    assert_nothing_made_or_run(page)


def test_the_hostile_article_shows_as_text_in_its_view_the_header_and_the_library(
    page: Any,
) -> None:
    page.locator("#chat a.cite").last.click()
    mark = page.locator("#article-view mark")
    mark.wait_for()
    assert "<img src=" in mark.inner_text() and "[Ada Quill](javascript:" in mark.inner_text()
    assert "**relit**" in page.inner_text("#article-view h3")
    assert "<img src=" in page.inner_text("#latest")
    page.screenshot(path=str(SHOTS / "12-hostile-article.png"))
    page.get_by_role("tab", name="Library").click()
    page.wait_for_function("document.querySelector('#library').innerText.includes('Marrow')")
    assert "<img src=" in page.inner_text("#library")
    page.screenshot(path=str(SHOTS / "13-hostile-library.png"))
    page.get_by_role("tab", name="Chat").click()
    assert_nothing_made_or_run(page)
