"""Every loader on small files the tests write, and every kind of bad input."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from ingest.loaders import LoadError, Source, expand, load
from ingest.loaders.base import parse_date, title_from_text
from rag.records import Article

from .conftest import SAMPLES, free_port

LIMIT = 5_000_000

HTML = """<!DOCTYPE html><html><head>
<title>Harbour reopens after storm | Coastal Times</title>
<meta property="og:title" content="Harbour reopens after storm">
<meta property="og:site_name" content="Coastal Times">
<meta property="article:published_time" content="2024-03-05T08:00:00Z">
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article><h1>Harbour reopens after storm</h1>
<p>The harbour of Port Elling reopened on Tuesday after a storm closed it for three days,
the port authority said in a statement.</p>
<p>Harbour master Ines Carvalho said that 42 fishing boats had returned to their moorings and
that the damaged north pier would be repaired by the end of April.</p>
<p>Ferry services to the islands will resume on Thursday, according to the operator.</p>
</article>
<footer>Copyright Coastal Times. All rights reserved. Subscribe to our newsletter.</footer>
</body></html>"""


def load_one(
    path: Path | str, limit: int = LIMIT, allow_private: bool = True
) -> Article | LoadError:
    # The tests' web server listens on 127.0.0.1, which ingest refuses unless allowed.
    items = list(load(Source(str(path)), limit, timeout=5, allow_private=allow_private))
    assert len(items) == 1, items
    return items[0]


def article(path: Path | str, limit: int = LIMIT) -> Article:
    got = load_one(path, limit)
    assert isinstance(got, Article), got
    return got


def error(path: Path | str, limit: int = LIMIT) -> LoadError:
    got = load_one(path, limit)
    assert isinstance(got, LoadError), got
    return got


def test_sample_txt_format_gives_date_and_dateline_text() -> None:
    a = article(SAMPLES / "000_1f9bcd90020cac5f.txt")
    assert a.published == "2023-08-28"
    assert a.text.startswith("Beijing [China], August 28 : US Commerce Secretary Gina Raimondo")
    assert "date 2023" not in a.text
    assert a.title.startswith("Beijing [China], August 28")
    assert a.key == str((SAMPLES / "000_1f9bcd90020cac5f.txt").resolve())


def test_txt_headline_becomes_title() -> None:
    a = article(SAMPLES / "004_fe72f5ab7fd95617.txt")
    assert a.title == "US-China communications brighten over trade"
    assert a.published == ""
    assert a.text.startswith("US-China communications brighten over trade\n")


def test_markdown_front_matter(tmp_path: Path) -> None:
    p = tmp_path / "story.md"
    p.write_text(
        "---\ntitle: Bridge opens\ndate: 2024-02-01\nsource: City Herald\n"
        "url: https://example.org/bridge\n---\n# Bridge opens\n\nThe new bridge opened today.\n",
        encoding="utf-8",
    )
    a = article(p)
    assert (a.title, a.published, a.source, a.url) == (
        "Bridge opens",
        "2024-02-01",
        "City Herald",
        "https://example.org/bridge",
    )
    assert a.text == "# Bridge opens\n\nThe new bridge opened today."
    assert a.identity == "https://example.org/bridge"


def test_markdown_heading_is_title_without_front_matter(tmp_path: Path) -> None:
    p = tmp_path / "plain.md"
    p.write_text("# Rates held steady\nThe central bank kept rates at 4%.\n", encoding="utf-8")
    assert article(p).title == "Rates held steady"


def test_html_main_text_title_date_and_site(tmp_path: Path) -> None:
    p = tmp_path / "page.html"
    p.write_text(HTML, encoding="utf-8")
    a = article(p)
    assert a.title == "Harbour reopens after storm"
    assert a.published == "2024-03-05"
    assert a.source == "Coastal Times"
    assert "42 fishing boats" in a.text and "Ferry services" in a.text
    assert "Subscribe to our newsletter" not in a.text
    assert "Sport" not in a.text


def test_pdf_text_and_title(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Wind farm approved")
    pdf.set_creation_date(__import__("datetime").datetime(2024, 6, 2))
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "Regulators approved the Dunmore offshore wind farm on Monday.")
    pdf.add_page()
    pdf.multi_cell(0, 8, "It will power 300,000 homes from 2027.")
    p = tmp_path / "report.pdf"
    pdf.output(str(p))
    a = article(p)
    assert a.title == "Wind farm approved"
    assert a.published == "2024-06-02"
    assert "Dunmore offshore wind farm" in a.text and "300,000 homes" in a.text


def test_jsonl_accepts_news_dataset_field_names(tmp_path: Path) -> None:
    rows = [
        {
            "title": "A",
            "text": "Alpha text.",
            "url": "https://n.example/a",
            "published_at": "2024-01-02T10:00:00Z",
            "source": "Wire",
        },
        {
            "headline": "B",
            "body": "Bravo text.",
            "date": "Tue, 09 Jan 2024 10:00:00 GMT",
            "source": {"id": "x", "name": "NewsAPI Outlet"},
        },
        {"content": "Charlie text is here. Second sentence.", "id": "c-3", "publisher": "Pub"},
    ]
    p = tmp_path / "feed.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    got = list(load(Source(str(p)), LIMIT, 5))
    assert all(isinstance(g, Article) for g in got)
    a, b, c = got
    assert (a.title, a.url, a.published, a.source, a.identity) == (
        "A",
        "https://n.example/a",
        "2024-01-02",
        "Wire",
        "https://n.example/a",
    )
    assert (b.title, b.text, b.published, b.source) == (
        "B",
        "Bravo text.",
        "2024-01-09",
        "NewsAPI Outlet",
    )
    assert c.title == "Charlie text is here." and c.source == "Pub"
    assert c.identity == f"{p.resolve()}#c-3"
    assert b.origin == f"{p}:2"


def test_jsonl_bad_lines_are_reported_and_the_rest_loads(tmp_path: Path) -> None:
    p = tmp_path / "mixed.jsonl"
    big = "x " * 600
    p.write_text(
        "\n".join(
            [
                json.dumps({"title": "ok1", "text": "First good article."}),
                "{not json",
                json.dumps({"title": "no text"}),
                json.dumps({"title": "huge", "text": big}),
                json.dumps(["a", "list"]),
                json.dumps({"title": "ok2", "text": "Second good article."}),
            ]
        ),
        encoding="utf-8",
    )
    got = list(load(Source(str(p)), 1000, 5))
    good = [g.title for g in got if isinstance(g, Article)]
    bad = {g.source: g.reason for g in got if isinstance(g, LoadError)}
    assert good == ["ok1", "ok2"]
    assert "not valid JSON" in bad[f"{p}:2"]
    assert "no article text" in bad[f"{p}:3"]
    assert "over the 0.0 MB limit" in bad[f"{p}:4"] or "limit" in bad[f"{p}:4"]
    assert "not a JSON object" in bad[f"{p}:5"]


def test_large_jsonl_streams_in_bounded_memory(tmp_path: Path) -> None:
    p = tmp_path / "big.jsonl"
    body = "Sentence about the markets. " * 70  # about 2 KB an article
    with p.open("w", encoding="utf-8") as f:
        for i in range(20_000):
            f.write(json.dumps({"id": i, "title": f"T{i}", "text": f"{i} {body}"}) + "\n")
    size = p.stat().st_size
    assert size > 35_000_000
    tracemalloc.start()
    count = 0
    for item in load(Source(str(p)), LIMIT, 5):
        assert isinstance(item, Article)
        count += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 20_000
    assert peak < size / 20, f"peak {peak} bytes while reading a {size} byte file"


def test_folder_is_walked_recursively_skipping_hidden(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / "a" / "one.txt").write_text("One.", encoding="utf-8")
    (tmp_path / "a" / "b" / "two.md").write_text("Two.", encoding="utf-8")
    (tmp_path / ".git" / "config.txt").write_text("x", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("x", encoding="utf-8")
    got = list(expand([tmp_path]))
    assert {Path(s.ref).name for s in got if isinstance(s, Source)} == {"one.txt", "two.md"}
    assert len(got) == 2
    assert all(isinstance(s, Source) and s.in_folder for s in got)


def test_url_is_fetched_and_parsed_as_html(web_root: tuple[str, Path]) -> None:
    base, root = web_root
    (root / "story.html").write_text(HTML, encoding="utf-8")
    a = article(f"{base}/story.html")
    assert a.url == f"{base}/story.html" and a.identity == a.url
    assert a.title == "Harbour reopens after storm"
    assert "42 fishing boats" in a.text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\n ", "no text"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("latin1.txt", "Caf\u00e9 au lait".encode("latin-1"), "not UTF-8 text (byte 0xe9"),
        ("broken.html", b"<html><<<>>></bo dy>< p", "no article text found"),
        ("notes.docx", b"PK\x03\x04", "unsupported file type '.docx'"),
        ("README", b"hello", "unsupported file type without an extension"),
        ("fake.pdf", b"this is not a pdf", "not a readable PDF"),
        ("empty.jsonl", b"", "empty file"),
    ],
)
def test_bad_files_get_one_clear_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    err = error(p)
    assert err.source == str(p)
    assert reason in err.reason
    assert "\n" not in str(err)


def test_article_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "long.txt"
    p.write_text("Word. " * 400, encoding="utf-8")
    err = error(p, limit=1000)
    assert "too large" in err.reason and "RAG_MAX_ARTICLE_MB" in err.reason


def test_missing_path_and_unreachable_url_are_reported() -> None:
    missing = list(expand(["/no/such/file.txt", "ftp://example.org/x"]))
    assert [type(m) for m in missing] == [LoadError, LoadError]
    assert "no such file" in missing[0].reason  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{free_port()}/story.html"
    err = error(url)
    assert err.source == url and "unreachable" in err.reason


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/story.html",
        "http://localhost:{port}/story.html",
        "http://[::1]:{port}/story.html",
        "http://10.1.2.3/story.html",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:{port}/story.html",
    ],
)
def test_private_and_loopback_urls_are_refused_unless_allowed(
    web_root: tuple[str, Path], url: str
) -> None:
    base, root = web_root
    (root / "story.html").write_text(HTML, encoding="utf-8")
    url = url.format(port=base.rsplit(":", 1)[1])
    err = load_one(url, allow_private=False)
    assert isinstance(err, LoadError), err
    assert "refused" in err.reason and "RAG_ALLOW_PRIVATE_URLS" in err.reason
    if "127.0.0.1" in url or "localhost" in url:
        assert isinstance(load_one(url, allow_private=True), Article)


def test_private_url_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.config import Config

    assert Config.from_env().allow_private_urls is False
    monkeypatch.setenv("RAG_ALLOW_PRIVATE_URLS", "1")
    assert Config.from_env().allow_private_urls is True


def test_http_error_status_is_reported(web_root: tuple[str, Path]) -> None:
    base, _ = web_root
    err = error(f"{base}/missing.html")
    assert "HTTP 404" in err.reason


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2023-08-28", "2023-08-28"),
        ("2023-08-28T22:10:00Z", "2023-08-28"),
        ("Mon, 28 Aug 2023 10:00:00 GMT", "2023-08-28"),
        ("August 28, 2023", "2023-08-28"),
        (1693180800, "2023-08-28"),
        ("not a date", ""),
        (None, ""),
    ],
)
def test_parse_date_forms(raw: object, iso: str) -> None:
    assert parse_date(raw) == iso


def test_title_from_first_sentence_is_shortened() -> None:
    text = "The " + "very " * 40 + "long opening sentence ends here. Next one."
    title = title_from_text(text)
    assert len(title) <= 101 and title.endswith("…") and title.startswith("The very")


def test_the_private_address_guard_checks_the_address_it_connects_to(
    web_root: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a resolver that answers a public address to the first lookup and the
    machine's own address to the next must not lead the fetch to the machine itself."""
    import socket

    base, root = web_root
    (root / "internal.html").write_text("<html><body><p>Internal admin page.</p></body></html>")
    port = int(base.rsplit(":", 1)[1])
    real = socket.getaddrinfo
    answers = iter(["93.184.215.14"])  # a public address; then loopback for good

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return real(host, *args, **kwargs)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    [got] = list(load(Source(f"http://rebind.test:{port}/internal.html"), 10_000, 1.0))
    assert isinstance(got, LoadError), got
    assert "Internal admin page" not in str(got)
