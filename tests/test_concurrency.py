"""Concurrent use: 16 conversations at once, through the Python API and through the running page
over HTTP, while an ingest adds articles and replaces others with new versions.

Every loop here is bounded: each conversation asks a fixed list of questions and the writer
runs a fixed number of rounds; threads are joined with a deadline."""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from eval.bench_corpus import load_articles
from eval.dataset import load_dataset
from eval.score import states
from rag.assistant import Assistant
from rag.records import Article
from tests.conftest import COQA, ROOT, SAMPLES, free_port, running
from tests.store_checks import assert_whole

pytestmark = pytest.mark.slow

CONVERSATIONS = 16
#: Writer rounds after the first: each replaces every churned article and adds new ones.
ROUNDS = 3
#: Articles that get a new version (same URL, new text) in every round.
CHURNED = 4
#: Articles each round adds.
ADDED = 8
#: Seconds any thread may take before the test gives up on it.
DEADLINE = 600


def _coqa() -> tuple[list[Article], list[dict]]:
    corpus = COQA / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip("needs ../shared/datasets/coqa-wikipedia")
    stories = [json.loads(line) for line in (COQA / "questions.jsonl").open()]
    return load_articles(corpus), stories


def churn_url(i: int) -> str:
    return f"https://news.example/churn/{i}"


def write_round(folder: Path, coqa: list[Article], r: int) -> Path:
    """Round ``r`` of the writer: a new version of each churned article and new articles."""
    rows = [
        {
            "title": a.title,
            "text": f"{a.text}\n\nRevision {r} of this article.",
            "url": churn_url(i),
        }
        for i, a in enumerate(coqa[:CHURNED])
    ]
    fresh = coqa[CHURNED + r * ADDED : CHURNED + (r + 1) * ADDED]
    rows += [
        {"title": a.title, "text": a.text, "url": f"https://news.example/{a.key.rsplit('#', 1)[1]}"}
        for a in fresh
    ]
    path = folder / f"round-{r}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    return path


@dataclass
class Versions:
    """Every article text the library ever held in this test, by id, and when each churned
    version was superseded (the start of the ingest that replaced it)."""

    texts: dict[str, str] = field(default_factory=dict)
    churned: dict[str, int] = field(default_factory=dict)
    superseded_at: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def learn(self, path: Path) -> list[Article]:
        articles = load_articles(path)
        with self.lock:
            for a in articles:
                self.texts[a.id] = a.text
                if a.url.startswith(churn_url(0)[:-1]):
                    self.churned[a.id] = int(a.url.rsplit("/", 1)[1])
        return articles

    def supersede(self, articles: list[Article], at: float) -> None:
        """Mark the current versions of the churned articles in ``articles`` as superseded."""
        with self.lock:
            latest = {self.churned[a.id]: a.id for a in articles if a.id in self.churned}
            for aid, i in self.churned.items():
                if i in latest and aid != latest[i] and aid not in self.superseded_at:
                    self.superseded_at[aid] = at


def conversations(coqa_stories: list[dict], coqa: list[Article]) -> list[list[tuple[str, tuple]]]:
    """One fixed list of (question, accepted answers) per conversation: a conversation from
    the samples dataset, then two turns about an article that is being replaced."""
    samples = load_dataset(ROOT / "eval" / "datasets" / "samples").items
    by_story = {s["story_id"]: s for s in coqa_stories}
    out = []
    for n in range(CONVERSATIONS):
        turns = [
            (t.question, t.facts[0].variants if t.facts else ())
            for item in (samples[(n * 3) % len(samples)], samples[(n * 3 + 1) % len(samples)])
            for t in item.turns
        ]
        story = by_story[coqa[n % CHURNED].key.rsplit("#", 1)[1]]
        turns += [(t["question"], tuple(t["answers"])) for t in story["turns"][:2]]
        out.append(turns)
    return out


@dataclass
class Turned:
    conversation: int
    question: str
    accepted: tuple
    text: str
    refused: bool
    began: float
    ended: float
    #: (article id, start, end, quote) per citation.
    citations: list[tuple[str, int, int, str]]
    #: Articles cited that the library no longer had right after the answer.
    gone: list[str]


HARBOUR = (
    "The harbour of Port Elling reopened on Tuesday after a storm. Harbour master Ines Carvalho "
    "said 42 fishing boats had returned to the quay by the evening."
)


def test_an_article_being_written_or_removed_is_never_cited(assistant: Assistant) -> None:
    """The states a concurrent reader can meet mid-ingest, held still: chunks stored but the
    article not yet committed, and an article whose removal has begun."""
    from ingest.chunking import chunk_article
    from rag.store import PENDING

    qa = assistant
    assert qa.ingest(SAMPLES).ok
    article = Article(title="Harbour reopens", text=HARBOUR, origin="harbour.txt")
    chunks = chunk_article(article.id, article.text, qa.embedder, qa.config)
    vectors = qa.embedder.embed([c.text for c in chunks])
    question = "How many fishing boats returned to the harbour of Port Elling?"

    def pending() -> None:
        meta = qa.store._articles.get(ids=[article.id], include=["metadatas"])["metadatas"][0]
        qa.store._articles.update(ids=[article.id], metadatas=[dict(meta, status=PENDING)])
        qa.store._bump()

    qa.store.add_article(article, chunks, vectors)
    assert "42 fishing boats" in qa.ask(question).text  # committed: found and cited
    pending()  # as while its chunks are written, or once its removal has begun
    assert qa.store.chunks.get(where={"article_id": article.id})["ids"], "chunks still there"
    answer = qa.ask(question)
    assert article.id not in {c.article_id for c in answer.citations}
    assert article.id not in {p.article_id for p in answer.passages}
    assert "42 fishing boats" not in answer.text


def run_threads(targets: list[Callable[[], None]]) -> list[BaseException]:
    """Run every target in its own thread at once; the errors they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(targets))

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                start.wait(timeout=60)
                fn()
            except BaseException as exc:  # reported by the test, in its thread's place
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    deadline = time.monotonic() + DEADLINE
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    stuck = [t for t in threads if t.is_alive()]
    assert not stuck, f"{len(stuck)} threads still running after {DEADLINE} s"
    return errors


def check_citations(turns: list[Turned], versions: Versions) -> None:
    """No answer cites an article in part: every quote is the exact text of a whole version,
    and a cited article missing right after the answer is one that a newer version replaced
    before then (never one still being written)."""
    for t in turns:
        for aid, start, end, quote in t.citations:
            assert aid in versions.texts, f"{t.question!r} cites an unknown article {aid}"
            assert versions.texts[aid][start:end] == quote, (t.question, aid)
        for aid in t.gone:
            assert versions.superseded_at.get(aid, float("inf")) <= t.ended, (
                f"{t.question!r} cites {aid}, which was not in the library when answered "
                "and had not been replaced"
            )


def ingest_windows(marks: list[tuple[float, float]], turns: list[Turned]) -> int:
    """How many answers were given while an ingest was running."""
    return sum(any(a < t.ended and t.began < b for a, b in marks) for t in turns)


def final_ids(folder: Path, versions: Versions) -> set[str]:
    """What the library holds after every round: the samples, the latest version of each
    churned article and every added one."""
    final = {a.id for p in SAMPLES.iterdir() for a in load_articles(p)}
    for r in range(ROUNDS + 1):
        articles = load_articles(folder / f"round-{r}.jsonl")
        final |= {a.id for a in articles if a.id not in versions.churned or r == ROUNDS}
    return final


def held_at_once(turns: list[Turned]) -> int:
    """The most questions that were being answered at the same moment."""
    events = sorted([(t.began, 1) for t in turns] + [(t.ended, -1) for t in turns])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def check_turns(
    turns: list[Turned],
    scripts: list[list[tuple[str, tuple]]],
    marks: list[tuple[float, float]],
    versions: Versions,
) -> str:
    """Every question answered, citations whole, the load real; a line of figures."""
    assert len(turns) == sum(len(s) for s in scripts)
    assert all(t.text.strip() for t in turns)
    check_citations(turns, versions)
    # The load was real: answers were given while ingests ran, by many conversations at once.
    during, at_once = ingest_windows(marks, turns), held_at_once(turns)
    assert during >= CONVERSATIONS and at_once >= CONVERSATIONS // 2
    answered = [t for t in turns if t.accepted and not t.refused]
    right = [t for t in answered if states(t.text, t.accepted)]
    assert len(answered) >= 0.8 * sum(1 for t in turns if t.accepted)
    assert len(right) >= 0.7 * len(answered)
    churned = sum(aid in versions.churned for t in turns for aid, *_ in t.citations)
    return (
        f"{len(turns)} answers in {CONVERSATIONS} conversations, {at_once} at once, {during} "
        f"during ingests; {len(answered)} answered, {len(right)} with an accepted answer; "
        f"{churned} citations of articles being replaced"
    )


def library_for_the_writer(folder: Path) -> tuple[Path, Versions, list[Article], list[dict]]:
    """A library of the samples and the writer's first round; what it knows of the versions."""
    coqa, stories = _coqa()
    versions = Versions()
    for path in SAMPLES.iterdir():
        versions.learn(path)
    home = folder / "lib"
    first = write_round(folder, coqa, 0)
    versions.learn(first)
    assert Assistant.open(home=str(home)).ingest(SAMPLES, first).ok
    return home, versions, coqa, stories


def test_sixteen_conversations_through_the_api_while_an_ingest_replaces_articles(
    tmp_path: Path, embedder: object
) -> None:
    home, versions, coqa, stories = library_for_the_writer(tmp_path)
    qa = Assistant.open(home=str(home))
    scripts = conversations(stories, coqa)

    turns: list[Turned] = []
    marks: list[tuple[float, float]] = []

    def converse(n: int) -> Callable[[], None]:
        def run() -> None:
            chat = qa.chat()
            for question, accepted in scripts[n]:
                began = time.monotonic()
                answer = chat.ask(question)
                ended = time.monotonic()
                cited = [(c.article_id, c.start, c.end, c.quote) for c in answer.citations]
                gone = []
                for aid, start, end, quote in cited:
                    stored = qa.article(aid)
                    if stored is None:
                        gone.append(aid)
                    else:
                        assert stored.text[start:end] == quote
                turns.append(
                    Turned(
                        n,
                        question,
                        accepted,
                        answer.text,
                        answer.refused,
                        began,
                        ended,
                        cited,
                        gone,
                    )
                )

        return run

    def write() -> None:
        for r in range(1, ROUNDS + 1):
            path = write_round(tmp_path, coqa, r)
            articles = versions.learn(path)
            began = time.monotonic()
            versions.supersede(articles, began)
            report = qa.ingest(path)
            marks.append((began, time.monotonic()))
            assert report.ok and len(report.replaced) == CHURNED, report.summary()
            assert len(report.added) == ADDED

    errors = run_threads([converse(n) for n in range(CONVERSATIONS)] + [write])
    assert not errors, errors

    summary = check_turns(turns, scripts, marks, versions)
    assert_whole(qa.store, final_ids(tmp_path, versions))
    print(
        f"API: {summary}; {sum(len(t.gone) for t in turns)} cited articles replaced by the time "
        "they were checked"
    )


#: A source card under an answer: its citation link's target, then its quote.
CARD = re.compile(
    r"href='#cite/([0-9a-f]+)/(\d+)/(\d+)'>\[\d+\]</a>.*?<div class='quote'>“(.*?)”</div>",
    re.S,
)
ANSWER = re.compile(r"<div class='answer'>(.*?)</div>", re.S)


def message_text(message: dict) -> str:
    """The content of a chat message as the Gradio client returns it (the page's HTML)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def answer_text(content: str) -> str:
    """The answer's words in a chat message's HTML, without its sources."""
    found = ANSWER.search(content)
    return html.unescape(re.sub(r"<[^>]+>", "", found[1] if found else content))


@contextlib.contextmanager
def serve(home: Path, log: Path) -> Iterator[str]:
    """``rag serve`` over the library at ``home``, on a free port of 127.0.0.1."""
    port = free_port()
    env = dict(os.environ, RAG_HOME=str(home), GRADIO_ANALYTICS_ENABLED="False")
    args = [sys.executable, "-m", "rag.cli", "serve", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(args, url, log, env):
        yield url


def test_sixteen_conversations_through_the_page_while_it_ingests_uploads(
    tmp_path: Path, embedder: object
) -> None:
    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    from tests.test_page import CHROMIUM

    home, versions, coqa, stories = library_for_the_writer(tmp_path)
    scripts = conversations(stories, coqa)
    turns: list[Turned] = []
    marks: list[tuple[float, float]] = []
    problems: list[str] = []

    # The conversations start once the first upload is on its way: a browser that is slow to
    # start (a fresh machine) must not let them all finish before any ingest runs.
    uploading = threading.Event()

    def converse(n: int, url: str) -> Callable[[], None]:
        def run() -> None:
            client = Client(url, verbose=False)  # its own session: its own conversation
            history: list = []
            uploading.wait(timeout=300)
            for question, accepted in scripts[n]:
                began = time.monotonic()
                out = client.predict(
                    question, history, "extractive", 5, "", "", [], api_name="/ask"
                )
                ended = time.monotonic()
                history, _, _, status = out  # chatbot, box, story line, status
                if status:
                    problems.append(f"{question!r}: {status}")
                content = message_text(history[-1]) if history else ""
                text = answer_text(content)
                cited = [
                    (aid, int(a), int(b), html.unescape(q))
                    for aid, a, b, q in CARD.findall(content)
                ]
                refused = not cited
                turns.append(Turned(n, question, accepted, text, refused, began, ended, cited, []))

        return run

    def upload_rounds(url: str) -> None:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page()
            page.set_default_timeout(120_000)
            page.goto(url)
            page.get_by_role("tab", name="Library").click()
            for r in range(1, ROUNDS + 1):
                path = write_round(tmp_path, coqa, r)
                articles = versions.learn(path)
                page.set_input_files("#upload input[type=file]", str(path))
                page.wait_for_function(
                    f"document.querySelector('#upload').innerText.includes('round-{r}')"
                )
                before = page.inner_text("#ingest-log")
                began = time.monotonic()
                versions.supersede(articles, began)
                page.click("#add")
                uploading.set()
                # Done when the log holds a new report and nothing else (no progress bar).
                page.wait_for_function(
                    "prev => { const t = document.querySelector('#ingest-log').innerText.trim();"
                    " return t !== prev.trim()"
                    " && /^\\d+ added, [^\\n]* chunks in [^\\n]*$/.test(t); }",
                    arg=before,
                )
                marks.append((began, time.monotonic()))
                log = page.inner_text("#ingest-log")
                assert f"{ADDED} added" in log and f"{CHURNED} replaced" in log, log
            browser.close()

    with serve(home, tmp_path / "serve.log") as url:
        errors = run_threads(
            [converse(n, url) for n in range(CONVERSATIONS)] + [lambda: upload_rounds(url)]
        )
    assert not errors, errors
    assert not problems, problems
    # The server is stopped: the library it leaves is whole.
    assert_whole(Assistant.open(home=str(home)).store, final_ids(tmp_path, versions))
    print(f"page: {check_turns(turns, scripts, marks, versions)}")


def test_sixteen_threads_loading_the_language_data_at_once_all_succeed() -> None:
    """In a fresh process, where nothing of nltk is loaded yet: the first sentence split and
    the first keyword terms, 16 threads at once."""
    script = textwrap.dedent(
        """
        import threading
        from rag.sentences import sentence_spans
        from rag.terms import terms

        barrier, errors, results = threading.Barrier(16), [], []

        def work(n):
            try:
                barrier.wait()
                if n % 2:  # the two load different parts of nltk first
                    results.append((sentence_spans("One. Two."), terms("Supported")))
                else:
                    results.append((terms("Supported"), sentence_spans("One. Two.")))
            except BaseException as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        print(len(results), errors)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "16 []", done.stdout
