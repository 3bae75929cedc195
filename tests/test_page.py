"""The page end to end in a real headless Chromium (Debian's ``chromium``, driven by Playwright):
the test starts ``rag serve`` on a free port over the sample articles and stops it after.
Each step saves a screenshot under ``artifacts/screenshots/``."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.assistant import Assistant
from rag.config import Config

from .conftest import ROOT, SAMPLES, free_port, running
from .feed_site import feed_site

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
HARBOUR = (
    "Harbour of Port Elling reopens\n\n"
    "The harbour of Port Elling reopened on Tuesday after a storm. Harbour master Ines Carvalho "
    "said 42 fishing boats had returned to the quay by the evening.\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed for the page tests: apt-get install chromium")
    home = tmp_path_factory.mktemp("page") / "lib"
    assert Assistant.open(Config.from_env(home=home)).ingest(SAMPLES).ok
    port = free_port()
    # An LLM endpoint where nothing listens: LLM mode is offered, and fails readably.
    env = dict(
        os.environ,
        RAG_HOME=str(home),
        GRADIO_ANALYTICS_ENABLED="False",
        RAG_LLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1",
        RAG_LLM_RETRIES="0",
        # The feeds a test serves live on 127.0.0.1.
        RAG_ALLOW_PRIVATE_URLS="1",
    )
    args = [sys.executable, "-m", "rag.cli", "serve", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(args, url, home.parent / "serve.log", env):
        yield url


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(60_000)
        pg.goto(server)
        pg.wait_for_selector("#question textarea")
        yield pg
        browser.close()


def new_conversation(page: Any) -> None:
    page.click("#new-conversation")
    page.wait_for_function("document.querySelectorAll(\"#chat [data-testid='bot']\").length == 0")


def ask(page: Any, question: str) -> str:
    """Type a question, send it, and return the last answer's text once it is complete."""
    before = page.locator("#chat [data-testid='bot']").count()
    page.fill("#question textarea", question)
    page.click("#ask")
    try:
        page.wait_for_function(
            f"document.querySelectorAll(\"#chat [data-testid='bot']\").length > {before}"
        )
    except Exception:
        page.screenshot(path=str(SHOTS / "failed-ask.png"))
        raise
    # The answer is complete when the cards beside it (or the status line) are filled.
    page.wait_for_function(
        "!document.querySelector('#ask').disabled && "
        "!document.querySelector('.progress-text, .eta-bar')"
    )
    page.wait_for_timeout(500)
    return str(page.locator("#chat [data-testid='bot']").last.inner_text())


def test_answer_with_citation_opens_the_highlighted_quote(page: Any) -> None:
    answer = ask(page, "How many Chinese companies were removed from a blacklist?")
    assert "27 Chinese companies" in answer and "[1]" in answer
    assert "US-China communications" in page.inner_text("#sources")
    page.screenshot(path=str(SHOTS / "1-answer.png"))
    page.locator("#citation-picker label").first.click()
    mark = page.locator("#article-view mark")
    mark.wait_for()
    assert "27 Chinese companies were removed from a blacklist" in mark.inner_text()
    assert mark.is_visible()
    page.screenshot(path=str(SHOTS / "2-citation-highlighted.png"))


def test_follow_up_uses_the_conversation(page: Any) -> None:
    new_conversation(page)
    ask(page, "Which companies were removed from a blacklist ahead of Raimondo's trip?")
    answer = ask(page, "How many of them were there?")
    assert "27" in answer
    assert "Searched for" in page.inner_text("#rewritten")
    page.screenshot(path=str(SHOTS / "3-follow-up.png"))


def test_upload_answer_then_remove(page: Any, tmp_path: Path) -> None:
    upload = tmp_path / "harbour.txt"
    upload.write_text(HARBOUR, "utf-8")
    page.get_by_role("tab", name="Library").click()
    page.set_input_files("#upload input[type=file]", str(upload))
    # The upload is done when the file component lists the file.
    page.wait_for_function("document.querySelector('#upload').innerText.includes('harbour.txt')")
    page.click("#add")
    page.wait_for_function("document.querySelector('#ingest-log').innerText.includes('added')")
    assert "1 added" in page.inner_text("#ingest-log")
    page.wait_for_function("document.querySelector('#library').innerText.includes('Port Elling')")
    page.screenshot(path=str(SHOTS / "4-uploaded.png"))

    # A file that cannot be read is reported in the page, which keeps working.
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    page.set_input_files("#upload input[type=file]", str(empty))
    page.wait_for_function("document.querySelector('#upload').innerText.includes('empty.txt')")
    page.click("#add")
    page.wait_for_function("document.querySelector('#ingest-log').innerText.includes('1 failed')")
    assert "empty.txt" in page.inner_text("#ingest-log")
    page.screenshot(path=str(SHOTS / "4b-failed-upload.png"))

    page.get_by_role("tab", name="Chat").click()
    new_conversation(page)
    answer = ask(page, "How many fishing boats returned to the harbour of Port Elling?")
    assert "42 fishing boats" in answer
    assert "Harbour of Port Elling reopens" in page.inner_text("#sources")
    page.screenshot(path=str(SHOTS / "5-answer-from-upload.png"))

    page.get_by_role("tab", name="Library").click()
    page.click("#remove-choice input")
    page.get_by_role("option", name="Harbour of Port Elling").first.click()
    page.click("#remove")
    page.wait_for_function("document.querySelector('#ingest-log').innerText.includes('Removed')")
    page.wait_for_function("!document.querySelector('#library').innerText.includes('Port Elling')")
    page.screenshot(path=str(SHOTS / "6-removed.png"))

    page.get_by_role("tab", name="Chat").click()
    new_conversation(page)
    answer = ask(page, "How many fishing boats returned to the harbour of Port Elling?")
    assert "42 fishing boats" not in answer
    assert "Port Elling" not in page.inner_text("#sources")
    page.screenshot(path=str(SHOTS / "7-gone-from-answers.png"))


def test_llm_down_shows_a_message_and_the_page_keeps_working(page: Any) -> None:
    new_conversation(page)
    page.get_by_text("Settings").click()
    page.locator("#mode label", has_text="llm").click()
    page.fill("#question textarea", "Who did Gina Raimondo meet in Beijing?")
    page.click("#ask")
    page.wait_for_function("document.querySelector('#status').innerText.includes('LLM server')")
    assert "cannot reach the LLM server" in page.inner_text("#status")
    page.screenshot(path=str(SHOTS / "8-llm-down.png"))
    page.locator("#mode label", has_text="extractive").click()
    assert "Wang Wentao" in ask(page, "Who did Gina Raimondo meet in Beijing?")
    assert page.inner_text("#status").strip() == ""


def test_empty_library_says_so(page: Any) -> None:
    page.get_by_role("tab", name="Library").click()
    for _ in range(2):
        page.click("#remove-choice input")
        option = page.get_by_role("option").first
        title = option.inner_text().rsplit(" (", 1)[0][:30]
        option.click()
        page.click("#remove")
        page.wait_for_function(
            "t => document.querySelector('#ingest-log').innerText.includes('Removed: ' + t)",
            arg=title,
        )
    page.wait_for_function("!document.querySelector('#library').innerText.includes('US-China')")
    assert "Raimondo" not in page.inner_text("#library")
    page.get_by_role("tab", name="Chat").click()
    new_conversation(page)
    page.fill("#question textarea", "Who did Gina Raimondo meet in Beijing?")
    page.click("#ask")
    page.wait_for_function("document.querySelector('#status').innerText.includes('empty')")
    assert "library is empty" in page.inner_text("#status")
    page.screenshot(path=str(SHOTS / "9-empty-library.png"))


def test_follow_a_feed_from_the_library_tab(page: Any) -> None:
    with feed_site() as site:
        ferry = site.story(
            "/news/ferry",
            "Lund ferry resumes sailing",
            "Tue, 01 Dec 2026 07:00:00 GMT",
            "The Lund ferry resumed sailing on Monday after repairs, the operator Kai Berg said.",
        )
        url = site.feed("/rss", "Harbour Gazette", [ferry])
        page.get_by_role("tab", name="Library").click()
        page.fill("#feed-url textarea", url)
        page.click("#follow")
        page.wait_for_function(
            "document.querySelector('#feed-log').innerText.includes('Following feed')"
        )
        assert "1 added" in page.inner_text("#feed-log")
        page.wait_for_function(
            "document.querySelector('#library').innerText.includes('Lund ferry')"
        )
        feeds = page.inner_text("#feeds")
        assert url in feeds and "Harbour Gazette" in feeds
        page.screenshot(path=str(SHOTS / "9-feed-followed.png"))
        assert site.fetched("/news/ferry") == 1

    page.get_by_role("tab", name="Chat").click()
    new_conversation(page)
    answer = ask(page, "Who operates the Lund ferry?")
    assert "Kai Berg" in answer
    assert "Harbour Gazette" in page.inner_text("#sources")
