"""A parsed HTML page made to read as a browser shows it, and which parts of it are chrome.

A browser collapses the whitespace of the HTML source, so a line break typed inside a sentence
is a space; a table that lays out a page's columns is not a data table; and what sits around the
article (navigation, a rail of other stories, the site's header and footer) is not the article.
"""

from __future__ import annotations

import html
import re

from lxml.html import HtmlElement

#: HTML whitespace (not the no-break space, which a browser keeps).
_HTML_SPACE = re.compile(r"[ \t\n\r\f\v]+")
#: Elements whose whitespace a browser shows as written.
PREFORMATTED = ("pre", "textarea", "listing", "plaintext", "xmp")
#: Elements that are page chrome, not the article, unless they sit inside an <article>.
CHROME_TAGS = ("nav", "aside", "footer", "header")
CHROME_ROLES = ("navigation", "complementary", "contentinfo", "banner")
#: Chrome that never holds the article's headline (a <header> may).
SIDE_TAGS = ("nav", "aside", "footer")
#: A table cell with this many paragraphs is a column of the page's layout, not data.
LAYOUT_PARAGRAPHS = 3
#: Inline elements: a <div> holding only these (and text) reads as a paragraph.
INLINE_TAGS = frozenset(
    (
        *("a", "abbr", "b", "bdi", "bdo", "br", "cite", "code", "del", "dfn", "em", "font"),
        *("i", "img", "ins", "kbd", "label", "mark", "q", "s", "small", "span", "strike"),
        *("strong", "sub", "sup", "time", "u", "var", "wbr"),
    )
)
#: A <div> of text among paragraphs is one of them from this length (shorter: a label).
DIV_PARAGRAPH_CHARS = 40
#: The <article> is the text's whole scope when it holds this share of the page's paragraphs
#: (and at least this many characters of them).
ARTICLE_SHARE = 0.6
ARTICLE_MIN_CHARS = 200


def clean(text: str | None) -> str:
    """Entity-decoded text on one line with single spaces."""
    return " ".join(html.unescape(text or "").split())


def element_text(el: HtmlElement) -> str:
    """An element's text as displayed: a <br> is a space, whitespace collapsed."""
    parts: list[str] = []
    for node in el.iter():
        if node is not el and node.tag == "br":
            parts.append(" ")
        if isinstance(node.tag, str) and node.text and node.tag not in ("script", "style"):
            parts.append(node.text)
        if node is not el and node.tail:
            parts.append(node.tail)
    return clean("".join(parts))


def collapse_whitespace(tree: HtmlElement) -> None:
    """Turn each run of source whitespace into one space, as a browser does, outside <pre>."""
    # The set holds the elements themselves: lxml's proxies of unreferenced ones are freed and
    # their ids reused, so a set of ids would match unrelated elements.
    kept = {el for pre in tree.iter(*PREFORMATTED) for el in pre.iter()}
    for el in tree.iter():
        if isinstance(el.tag, str) and el.text and el not in kept:
            el.text = _HTML_SPACE.sub(" ", el.text)
        parent = el.getparent()
        if el.tail and (parent is None or parent not in kept):
            el.tail = _HTML_SPACE.sub(" ", el.tail)


def unwrap_layout_tables(tree: HtmlElement) -> None:
    """Make tables that lay out a page into plain blocks, so their paragraphs stay paragraphs.

    A data table's cell is a line of text; a cell that holds paragraphs is a column of the page,
    and read as a table cell its paragraphs would run into one line.
    """
    for table in tree.xpath("//table"):
        own = table.xpath("./tr | ./*/tr")
        cells = [cell for row in own for cell in row if cell.tag in ("td", "th")]
        if any(len(cell.findall(".//p")) >= LAYOUT_PARAGRAPHS for cell in cells):
            for el in [table, *table.xpath("./*"), *own, *cells]:
                el.tag = "div"


def paragraphs_in_divs(tree: HtmlElement) -> None:
    """Make a <div> of bare text that sits among paragraphs a paragraph itself.

    Blog editors often write a paragraph as ``<div><span>text…</span></div>`` beside <p>s; a
    reader sees a paragraph, and the extractor's precision mode would drop it as layout.
    """
    for div in tree.xpath("//div[count(../p) >= 2]"):
        inline = all(
            not isinstance(d.tag, str) or d.tag in INLINE_TAGS for d in div.iterdescendants()
        )
        if inline and len(element_text(div)) >= DIV_PARAGRAPH_CHARS:
            div.tag = "p"


def in_chrome(el: HtmlElement, tags: tuple[str, ...] = CHROME_TAGS) -> bool:
    """Whether an element sits in the page's navigation, sidebars, header or footer."""
    for anc in el.iterancestors():
        if anc.tag in ("article", "main"):
            return False
        if anc.tag in tags or (anc.get("role") or "").lower() in CHROME_ROLES:
            return True
    return False


def is_chrome(el: HtmlElement) -> bool:
    """Whether an element is navigation, a sidebar, or the site's header or footer."""
    if not isinstance(el.tag, str):
        return False
    marked = el.tag in CHROME_TAGS or (el.get("role") or "").lower() in CHROME_ROLES
    return marked and not any(a.tag in ("article", "main") for a in el.iterancestors())


def drop_chrome(tree: HtmlElement) -> None:
    """Remove the page's chrome, except a header or aside that holds the article itself."""
    for el in [e for e in tree.iter() if is_chrome(e)]:
        holds_article = el.find(".//article") is not None or el.find(".//h1") is not None
        if el.getparent() is not None and not holds_article:
            el.getparent().remove(el)


def scope_to_article(tree: HtmlElement) -> bool:
    """Keep only the page's <article> when it holds most of the page's paragraphs.

    What sits beside it (a rail of other stories' teasers, most-read lists) is not the
    article, whatever its markup; a page whose text lies outside its <article> is left whole.
    """
    body = tree.find("body")
    found = tree.xpath("//article | //*[@itemprop='articleBody']")
    if body is None or not found:
        return False
    article = max(found, key=_paragraph_chars)
    size = _paragraph_chars(article)
    if size < ARTICLE_MIN_CHARS or size < ARTICLE_SHARE * _paragraph_chars(body):
        return False
    node = article
    while node is not body and (parent := node.getparent()) is not None:
        for sibling in [s for s in parent if s is not node]:
            parent.remove(sibling)
        node = parent
    return True


def _paragraph_chars(el: HtmlElement) -> int:
    return sum(len(p.text_content()) for p in el.iter("p"))
