"""The page's HTML: article text is escaped wherever it goes, ``[n]`` markers link to their
quotes, the short answer is bold, and only web addresses become links."""

from __future__ import annotations

from html.parser import HTMLParser

from rag.answer import Answer, Citation, Short
from rag.records import Article
from ui.render import answer_html, article_html, md_text, parse_cite

EVIL = "<img src=x onerror=alert(1)> [a](javascript:alert(2)) **b**"


class Tags(HTMLParser):
    """The elements an HTML string makes, with their attributes."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.made: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.made.append((tag, dict(attrs)))


def citation(n: int = 1, **changes: str) -> Citation:
    fields = dict(
        article_id="ab12", title=EVIL, source=EVIL, url="javascript:alert(3)",
        published="2024-05-02", quote=f"Keeper Ada relit it. {EVIL}",
    )  # fmt: skip
    fields.update(changes)
    return Citation(n=n, start=10, end=40, **fields)  # type: ignore[arg-type]


def test_article_text_in_an_answer_makes_no_element_and_no_link() -> None:
    answer = Answer("Who?", f"Ada {EVIL} relit it [1]. Also [7].", [citation()])
    made = Tags(answer_html(answer)).made
    tags = {tag for tag, _ in made}
    assert "img" not in tags and "script" not in tags
    hrefs = [a.get("href") for tag, a in made if tag == "a"]
    assert hrefs == ["#cite/ab12/10/40", "#cite/ab12/10/40"]  # the marker and its card
    assert not any("onerror" in a for _, a in made)
    assert "&lt;img src=x onerror=alert(1)&gt;" in answer_html(answer)
    assert "[7]" in answer_html(answer)  # a marker naming no citation stays text


def test_a_web_url_becomes_a_link_and_the_short_answer_is_bold() -> None:
    c = citation(url="https://example.org/story")
    answer = Answer(
        "Who?", "Ada Lovelace: she relit it [1].", [c], short=Short("Ada Lovelace", 1, 0, 12)
    )
    html = answer_html(answer)
    assert "<b class='short'>Ada Lovelace</b>: she relit it" in html
    assert "href='https://example.org/story'" in html


def test_the_article_view_marks_exactly_the_span() -> None:
    article = Article(title=EVIL, text="First <b>one</b>.\nSecond one here.", origin="x")
    html = article_html(article, 18, 34)
    assert "<mark id='quote'>Second one here.</mark>" in html
    assert "&lt;b&gt;one&lt;/b&gt;" in html and "<img" not in html
    assert parse_cite("#cite/ab12/10/40") == ("ab12", 10, 40)
    assert parse_cite("javascript:alert(1)") is None


def test_markdown_text_is_shown_as_written() -> None:
    shown = md_text("**x** [y](javascript:z) <b>&")
    assert shown == "\\*\\*x\\*\\* \\[y\\]\\(javascript:z\\) &lt;b&gt;&amp;"
