"""The page end to end in a real headless Chromium (Debian's ``chromium``, driven by Playwright):
the test starts ``rag serve`` on a free port over the sample articles and stops it after.
Each step saves a screenshot under ``artifacts/screenshots/``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
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
def home(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("page") / "lib"
    assert Assistant.open(Config.from_env(home=path)).ingest(SAMPLES).ok
    # An eval of this library's settings, whose report the Evaluation tab shows.
    env = dict(os.environ, RAG_HOME=str(path))
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "eval", "--dataset", "samples"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return path


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed for the page tests: apt-get install chromium")
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
        # Gradio's own test setting: a closed tab's state is deleted after 1 s, not an hour.
        GRADIO_IS_E2E_TEST="1",
    )
    args = [sys.executable, "-m", "rag.cli", "serve", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(args, url, home.parent / "serve.log", env):
        yield url


@contextlib.contextmanager
def browser_page(url: str, before_goto: Callable[[Any], None] | None = None) -> Iterator[Any]:
    """The page at ``url`` in headless Chromium, once its question box is there."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(60_000)
        if before_goto is not None:
            before_goto(pg)
        pg.goto(url)
        pg.wait_for_selector("#question textarea")
        try:
            yield pg
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    with browser_page(server) as pg:
        yield pg


def new_conversation(page: Any) -> None:
    """Start over, and wait until the page has: starting over empties the question box, so a
    word left there says when it is done (an empty chat alone may be the one before, and a
    question typed before the reply lands would be emptied with it)."""
    page.fill("#question textarea", "(starting over)")
    page.click("#new-conversation")
    page.wait_for_function("document.querySelector('#question textarea').value === ''")
    page.wait_for_function("document.querySelectorAll(\"#chat [data-testid='bot']\").length == 0")


def ask(page: Any, question: str) -> str:
    """Type a question, send it with Enter, and return the last answer's text once it is
    complete (its sources are under it then)."""
    before = page.locator("#chat .answer").count()
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    try:
        page.wait_for_function(f"document.querySelectorAll('#chat .answer').length > {before}")
    except Exception:
        page.screenshot(path=str(SHOTS / "failed-ask.png"))
        raise
    return str(page.locator("#chat .answer").last.inner_text())


def last_sources(page: Any) -> str:
    """All the text of the last answer's sources (cards included, open or not)."""
    found = page.locator("#chat [data-testid='bot']").last.locator("details.sources")
    return str(found.text_content()) if found.count() else ""


def ask_failing(page: Any, question: str) -> str:
    """Send a question that fails; the status line's text."""
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function("document.querySelector('#status').innerText.includes('⚠️')")
    return str(page.inner_text("#status"))


def test_the_header_says_what_the_library_holds(page: Any, home: Path) -> None:
    page.wait_for_selector("#article-count")
    docs = Assistant.open(Config.from_env(home=home)).documents()
    header = page.inner_text("#header")
    assert "News Q&A" in header and "answers: extractive" in header
    assert page.inner_text("#article-count") == str(len(docs))
    dates = sorted(d.published for d in docs if d.published)
    assert f"published {dates[0]} to {dates[-1]}" in header
    latest = page.locator("#latest label")
    assert latest.count() == len(docs)
    latest.filter(has_text="US-China communications").click()
    page.wait_for_function(
        "document.querySelector('#article-view h3')?.innerText.includes('US-China')"
    )
    # The example questions come from the newest articles.
    examples = page.inner_text("#examples")
    assert all(d.title[:20] in examples for d in docs)
    page.screenshot(path=str(SHOTS / "0-header.png"))


def test_clicking_a_marker_opens_the_article_with_exactly_its_quote_marked(
    page: Any, home: Path
) -> None:
    new_conversation(page)
    answer = ask(page, "How many Chinese companies were removed from a blacklist?")
    assert "27 Chinese companies" in answer and "[1]" in answer
    # The asked-for number is in bold.
    assert page.locator("#chat .answer").last.locator("b.short").inner_text() == "27"
    assert "US-China communications" in last_sources(page)
    page.screenshot(path=str(SHOTS / "1-answer.png"))
    page.locator("#chat .answer").last.locator("a.cite", has_text="[1]").click()
    mark = page.locator("#article-view mark")
    mark.wait_for()
    expected = Assistant.open(Config.from_env(home=home)).ask(
        "How many Chinese companies were removed from a blacklist?"
    )
    assert mark.inner_text() == expected.citation(1).quote
    page.wait_for_timeout(300)
    assert mark.is_visible() and mark.bounding_box() is not None
    page.screenshot(path=str(SHOTS / "2-citation-highlighted.png"))


def test_every_answer_keeps_its_sources_and_the_story_is_in_view(page: Any) -> None:
    new_conversation(page)
    first = ask(page, "Which companies were removed from a blacklist ahead of Raimondo's trip?")
    assert "blacklist" in first
    second = ask(page, "How many of them were there?")
    assert "27" in second
    assert "Searched for" in page.locator("#chat .searched").last.inner_text()
    ask(page, "What did Jake Sullivan call export controls?")
    answers = page.locator("#chat [data-testid='bot']")
    assert answers.count() == 3
    first_sources = answers.first.locator("details.sources")
    assert "US-China communications" in first_sources.inner_text()
    first_sources.locator("summary").click()
    assert first_sources.locator(".card .quote").first.is_visible()
    assert "On: US-China communications" in page.inner_text("#story")
    page.screenshot(path=str(SHOTS / "3-three-turns.png"))
    page.click("#leave-story")
    page.wait_for_function("!document.querySelector('#story').innerText.includes('On:')")


def test_undo_and_retry_and_stop(page: Any) -> None:
    new_conversation(page)
    ask(page, "Who did Gina Raimondo meet in Beijing?")
    ask(page, "How many Chinese companies were removed from a blacklist?")
    page.click("#undo")
    page.wait_for_function("document.querySelectorAll('#chat .answer').length == 1")
    assert page.input_value("#question textarea") == (
        "How many Chinese companies were removed from a blacklist?"
    )
    page.fill("#question textarea", "")
    kept = page.locator("#chat .answer").last.element_handle()
    page.click("#retry")
    # Retry takes the last turn back (its message goes) and asks its question again.
    page.wait_for_function("el => !el.isConnected", arg=kept)
    page.wait_for_function("document.querySelectorAll('#chat .answer').length == 1")
    assert "Wang Wentao" in page.locator("#chat .answer").last.inner_text()
    page.click("#stop")
    page.wait_for_function("document.querySelector('#status').innerText.includes('Stopped')")
    assert page.locator("#chat .answer").count() == 1
    assert "27" in ask(page, "How many Chinese companies were removed from a blacklist?")


def test_at_phone_width_nothing_scrolls_sideways(page: Any) -> None:
    new_conversation(page)
    ask(page, "Who did Gina Raimondo meet in Beijing?")
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.wait_for_timeout(500)
        for tab in ("Chat", "Library"):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(300)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{tab}: {width}px wide"
        page.get_by_role("tab", name="Chat").click()
        page.screenshot(path=str(SHOTS / "3b-phone.png"), full_page=True)
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})


def test_dark_mode_keeps_answers_and_the_marked_quote_readable(page: Any, server: str) -> None:
    context = page.context.browser.new_context(
        viewport={"width": 1200, "height": 900}, color_scheme="dark"
    )
    dark = context.new_page()
    dark.set_default_timeout(60_000)
    dark.goto(f"{server}/?__theme=dark")
    dark.wait_for_selector("#question textarea")
    ask(dark, "How many Chinese companies were removed from a blacklist?")
    dark.locator("#chat .answer a.cite").last.click()
    dark.locator("#article-view mark").wait_for()
    colours = dark.evaluate(
        """() => { const m = getComputedStyle(document.querySelector('#article-view mark'));
          const dark = [document.body, document.documentElement]
            .some(e => e.classList.contains('dark'));
          return [dark, m.color, m.backgroundColor]; }"""
    )
    assert colours == [True, "rgb(255, 255, 255)", "rgb(138, 109, 0)"]
    dark.screenshot(path=str(SHOTS / "3c-dark.png"))
    context.close()


def test_a_closed_tab_frees_its_conversation(page: Any, server: str) -> None:
    def live() -> int:
        return int(httpx.get(f"{server}/api/status", timeout=30).json()["page_conversations"])

    # Tabs that earlier tests closed may still be on their way out: wait until it settles.
    before, settled = live(), time.monotonic()
    while time.monotonic() - settled < 3:
        time.sleep(0.5)
        if live() != before:
            before, settled = live(), time.monotonic()
    context = page.context.browser.new_context()
    other = context.new_page()
    other.set_default_timeout(60_000)
    other.goto(server)
    other.wait_for_selector("#question textarea")
    ask(other, "Who did Gina Raimondo meet in Beijing?")
    assert live() == before + 1
    other.close()
    context.close()
    deadline = time.monotonic() + 30
    while live() != before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert live() == before


def test_the_library_table_filters_and_sorts(page: Any) -> None:
    page.get_by_role("tab", name="Library").click()
    table = "#library"
    page.wait_for_function(f"document.querySelector('{table}').innerText.includes('US-China')")
    page.fill("#library-filter textarea", "communications trade")
    page.wait_for_function(f"!document.querySelector('{table}').innerText.includes('Beijing [')")
    assert "US-China communications" in page.inner_text(table)
    page.fill("#library-filter textarea", "")
    page.fill("#library-from textarea", "2023-08-01")
    page.press("#library-from textarea", "Enter")
    page.wait_for_function(f"!document.querySelector('{table}').innerText.includes('US-China')")
    assert "Beijing [China]" in page.inner_text(table)
    page.fill("#library-from textarea", "")
    page.press("#library-from textarea", "Enter")
    page.wait_for_function(f"document.querySelector('{table}').innerText.includes('US-China')")
    # Newest first: the dated article, then the undated one; oldest first turns it round.
    order = "t => { const s = document.querySelector('#library').innerText; "
    order += "return (s.indexOf('Beijing [China]') < s.indexOf('US-China communications')) == t; }"
    page.wait_for_function(order, arg=True)
    page.locator("#library-order label", has_text="oldest first").click()
    page.wait_for_function(order, arg=False)
    page.screenshot(path=str(SHOTS / "4a-library-filtered.png"))
    page.locator("#library-order label", has_text="newest first").click()
    page.get_by_role("tab", name="Chat").click()


def test_the_evaluation_tab_shows_the_last_eval_report(page: Any, home: Path) -> None:
    results = json.loads((home / "eval" / "samples-extractive" / "results.json").read_text())
    page.get_by_role("tab", name="Evaluation").click()
    report = page.locator("#eval-report")
    report.wait_for()
    page.wait_for_function("document.querySelector('#eval-report').innerText.includes('fact')")
    text = report.inner_text()
    recall = results["metrics"]["all"]["fact_recall"]
    assert "samples" in text and f"{recall:.3f}" in text
    image = page.locator("#eval-chart img")
    image.wait_for()
    assert page.evaluate("document.querySelector('#eval-chart img').naturalWidth") > 100
    page.screenshot(path=str(SHOTS / "14-evaluation.png"))
    page.get_by_role("tab", name="Chat").click()


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
    assert "Harbour of Port Elling reopens" in last_sources(page)
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
    assert "Port Elling" not in last_sources(page)
    page.screenshot(path=str(SHOTS / "7-gone-from-answers.png"))


def test_llm_down_shows_a_message_and_the_page_keeps_working(page: Any) -> None:
    new_conversation(page)
    page.get_by_text("Settings").click()
    page.locator("#mode label", has_text="llm").click()
    page.fill("#question textarea", "Who did Gina Raimondo meet in Beijing?")
    page.click("#ask")
    page.wait_for_function("document.querySelector('#status').innerText.includes('LLM server')")
    assert "cannot reach the LLM server" in page.inner_text("#status")
    # Nothing is lost: the question is back in the box.
    assert page.input_value("#question textarea") == "Who did Gina Raimondo meet in Beijing?"
    page.screenshot(path=str(SHOTS / "8-llm-down.png"))
    page.locator("#mode label", has_text="extractive").click()
    # Retry asks the failed question again (it is still in the box), nothing else.
    page.click("#retry")
    page.wait_for_function("document.querySelectorAll('#chat .answer').length == 1")
    assert "Wang Wentao" in page.locator("#chat .answer").last.inner_text()
    assert page.locator("#chat [data-testid='user']").count() == 1
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
    assert "Harbour Gazette" in last_sources(page)
