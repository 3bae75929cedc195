"""The page's HTML, made from answers and articles. Article text (titles, sources, quotes, the
words of an answer) is always escaped, so it shows as text: markup in an article never becomes
an element, a link or a request. Only the tags made here are tags."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer import Answer, Citation
from rag.records import Article, ArticleInfo

MARKER = re.compile(r"\[(\d+)\]")
#: What Markdown reads as markup (``&`` and ``;`` stay: they belong to the HTML escapes).
_MARKDOWN = re.compile(r"[\\`*_{}\[\]()#+\-.!|>~<]")
#: A citation link's target: ``#cite/<article id>/<start>/<end>`` (the sanitizer of Gradio's
#: chat drops ``data-*`` attributes, so the link's own address carries it).
CITE = re.compile(r"#cite/([0-9a-f]+)/(\d+)/(\d+)$")
LATEST = 5


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def md_text(text: str) -> str:
    """``text`` for a Markdown component that shows it as written: markup escaped."""
    return _MARKDOWN.sub(lambda m: "\\" + m.group(), html.escape(text, quote=False))


def cite_href(c: Citation) -> str:
    return f"#cite/{c.article_id}/{c.start}/{c.end}"


def parse_cite(href: str) -> tuple[str, int, int] | None:
    """``(article id, start, end)`` of a citation link's target."""
    found = CITE.search(href or "")
    return (found[1], int(found[2]), int(found[3])) if found else None


def _about(source: str, published: str) -> str:
    return " · ".join(esc(x) for x in (source, published) if x)


def _link(url: str) -> str:
    # Only web addresses become links: a javascript: or data: URL stays text.
    if not url.startswith(("http://", "https://")):
        return ""
    return f" · <a href='{esc(url)}' target='_blank' rel='noopener noreferrer'>link</a>"


def _text_with_links(text: str, answer: Answer) -> str:
    """The answer's text escaped, its ``[n]`` markers links to their quotes, the short answer
    in bold."""
    cited = {c.n: c for c in answer.citations}
    short = answer.short.text if answer.short is not None else ""
    out, at = [], 0
    for m in MARKER.finditer(text):
        part = text[at : m.start()]
        out.append(_bold(part, short))
        if short and short in part:
            short = ""  # bold once, where it first stands
        c = cited.get(int(m[1]))
        if c is None:
            out.append(esc(m[0]))
        else:
            title = esc(f"{c.title}: {c.quote}"[:300])
            out.append(f"<a class='cite' href='{cite_href(c)}' title='{title}'>[{c.n}]</a>")
        at = m.end()
    out.append(_bold(text[at:], short))
    return "".join(out)


def _bold(part: str, item: str) -> str:
    if not item or item not in part:
        return esc(part)
    before, _, after = part.partition(item)
    return f"{esc(before)}<b class='short'>{esc(item)}</b>{esc(after)}"


def sources_html(citations: Sequence[Citation]) -> str:
    """The citations as collapsible cards: number, title, source, date, link, quote."""
    if not citations:
        return ""
    titles = " · ".join(f"[{c.n}] {esc(c.title[:60])}" for c in citations)
    cards = "".join(
        f"<div class='card' id='src-{c.n}'><a class='cite n' href='{cite_href(c)}'>[{c.n}]</a> "
        f"<b>{esc(c.title)}</b><div class='meta'>{_about(c.source, c.published)}{_link(c.url)}"
        f"</div><div class='quote'>“{esc(c.quote)}”</div></div>"
        for c in citations
    )
    return f"<details class='sources'><summary>Sources: {titles}</summary>{cards}</details>"


def answer_html(answer: Answer, held_back: str = "") -> str:
    """One answer as the chat shows it: text with linked markers, then its sources."""
    parts = [f"<div class='answer'>{_text_with_links(answer.text, answer)}</div>"]
    if answer.rewritten:
        parts.append(f"<div class='searched'>Searched for: {esc(answer.standalone)}</div>")
    if held_back:
        parts.append(f"<div class='held-back'>{esc(held_back)}</div>")
    parts.append(sources_html(answer.citations))
    # No newlines between tags: the chat shows its messages with white-space: pre-line.
    return "".join(parts)


def article_html(article: Article, start: int = 0, end: int = 0) -> str:
    """A whole article; the span ``start:end`` (a citation's quote) marked where it stands."""
    text = article.text
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))

    def paras(s: str) -> str:
        return esc(s).replace("\n", "<br>")

    body = paras(text)
    if end > start:
        body = (
            f"{paras(text[:start])}<mark id='quote'>{paras(text[start:end])}</mark>"
            f"{paras(text[end:])}"
        )
    meta = _about(article.source, article.published)
    return (
        f"<h3>{esc(article.title)}</h3><div class='meta'>{meta}{_link(article.url)}</div>"
        f"<div class='body'>{body}</div>"
    )


@dataclass(frozen=True)
class Glance:
    """The library at a glance (the page's header and ``GET /api/status``)."""

    articles: int
    sources: list[str]
    published_from: str
    published_to: str
    newest_added: str

    @classmethod
    def of(cls, docs: Sequence[ArticleInfo]) -> Glance:
        dates = sorted(d.published[:10] for d in docs if d.published)
        return cls(
            articles=len(docs),
            sources=sorted({d.source for d in docs if d.source}),
            published_from=dates[0] if dates else "",
            published_to=dates[-1] if dates else "",
            newest_added=max((d.ingested_at for d in docs if d.ingested_at), default=""),
        )


def header_html(docs: Sequence[ArticleInfo], mode: str) -> str:
    """The product's name and the library at a glance."""
    g = Glance.of(docs)
    facts = [f"<b id='article-count'>{g.articles}</b> articles"]
    if g.sources:
        facts.append(f"<b id='source-count'>{len(g.sources)}</b> sources")
    if g.published_from:
        facts.append(f"published {esc(g.published_from)} to {esc(g.published_to)}")
    if g.newest_added:
        facts.append(f"newest added {esc(g.newest_added.replace('T', ' ')[:16])} UTC")
    facts.append(f"answers: {esc(mode)}")
    return (
        "<div id='header'><span class='name'>News Q&amp;A</span>"
        f"<span class='glance'>{' · '.join(facts)}</span>"
        "<div class='what'>Ask about the news articles in this library: every answer quotes "
        "and cites the passages it comes from. Click a [n] to read it in its article.</div></div>"
    )


def story_html(titles: Sequence[tuple[str, str]]) -> str:
    """The articles a conversation is on: ``(title, date)`` each."""
    if not titles:
        return ""
    on = "; ".join(esc(t) + (f", {esc(d)}" if d else "") for t, d in titles)
    return f"<div id='story-line'>On: {on}</div>"


def newest(docs: Sequence[ArticleInfo], n: int) -> list[ArticleInfo]:
    """The ``n`` newest articles: by published date, then by when they were added."""
    return sorted(docs, key=lambda d: (d.published, d.ingested_at), reverse=True)[:n]


def latest_choices(docs: Sequence[ArticleInfo]) -> list[tuple[str, str]]:
    """The newest articles as (label, id) choices."""
    return [(f"{d.title[:70]} ({d.published or 'undated'})", d.id) for d in newest(docs, LATEST)]


def example_questions(docs: Sequence[ArticleInfo]) -> list[str]:
    """Questions about the newest articles, made from their titles."""
    return [f"What is the news on {d.title.rstrip('.?!…')}?" for d in newest(docs, 3) if d.title]
