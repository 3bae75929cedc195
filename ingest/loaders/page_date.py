"""A news page's publication date: the article's own, not a date of the page's chrome.

Pages show dates that are not the article's: today's date in a header box (a saved page keeps
the day it was saved), the dates of other stories' teasers, a copyright year in the footer. The
date is taken, in this order, from what the publisher declares (published-date meta tags,
JSON-LD ``datePublished``, microdata and ``<time pubdate>``), from the byline next to the
headline, and only then from htmldate's reading of the page without its chrome.
"""

from __future__ import annotations

import html
import re
import warnings
from copy import deepcopy
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

from lxml.etree import iterwalk
from lxml.html import HtmlElement

from ingest.loaders.base import parse_date
from ingest.loaders.page_markup import Declarations
from ingest.loaders.page_tree import drop_chrome, in_chrome, is_chrome, scope_to_article

#: Meta tags that name the publication date (property, name or itemprop, lower-cased), best
#: first; modified and updated dates are left out on purpose.
PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "og:published_time",
    "published_time",
    "article:published",
    "datepublished",
    "date_published",
    "publishdate",
    "publish-date",
    "publish_date",
    "publication_date",
    "pubdate",
    "og:pubdate",
    "parsely-pub-date",
    "sailthru.date",
    "article.published",
    "article_date_original",
    "originalpublicationdate",
    "dc.date.issued",
    "dcterms.issued",
    "citation_publication_date",
    "citation_date",
    "cxenseparse:recs:publishtime",
)
#: Meta tags of a date that is usually, not always, the publication's: after the rest.
DATE_META = (
    "dc.date",
    "dcterms.date",
    "dc.date.created",
    "dcterms.created",
    "displaydate",
    "datecreated",
    "date",
)
#: How much text after and before the headline is its byline, where a written date is the
#: article's own; the dates of a page's chrome sit further away.
BYLINE_AFTER = 400
BYLINE_BEFORE = 200
#: Dates before this are not news articles' publication dates (placeholders, typos).
EARLIEST = date(1990, 1, 1)
_YEAR = re.compile(r"(?:19|20)\d{2}")
_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-](\d{1,2})[/-](\d{1,2})(?=[/_.-]|$)")


def published(tree: HtmlElement, decl: Declarations, headline: HtmlElement | None) -> str:
    """The article's publication date: declared, then shown in its byline, then guessed."""
    for value in _declared(tree, decl):
        if day := plausible(value):
            return publisher_day(day, decl.url)
    return byline_date(tree, headline) or guessed_date(tree, decl.url)


def _declared(tree: HtmlElement, decl: Declarations) -> list[str]:
    """The dates the publisher marks as the publication date, most specific first."""
    marked = tree.xpath(
        "//*[@itemprop='datePublished'] | //time[@pubdate]"
        " | //time[contains(@class, 'publish') or contains(@class, 'posted')]"
    )
    shown = [e.get("datetime") or e.get("content") or "" for e in marked if not in_chrome(e)]
    return [
        *decl.meta(*PUBLISHED_META),
        *decl.ld("datePublished"),
        *shown,
        *decl.meta(*DATE_META),
        *decl.ld("dateCreated"),
    ]


def plausible(value: str) -> str:
    """An ISO date from a stated date, or ``""`` for no year, the future or the distant past."""
    if not _YEAR.search(value):
        return ""  # a bare time or weekday would parse as today's date
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dateutil warns of time zones it does not know
        day = parse_date(value)
    if not day:
        return ""
    return day if EARLIEST <= date.fromisoformat(day) <= date.today() + timedelta(days=1) else ""


def publisher_day(declared: str, url: str) -> str:
    """The declared day, or the address's day where the two are one day apart.

    A timestamp in UTC may fall on the day after (or before) the day of the publisher's own
    calendar, which is the one its addresses and its pages show.
    """
    match = _URL_DATE.search(urlsplit(url).path)
    if not match:
        return declared
    try:
        in_url = date(*map(int, match.groups()))
    except ValueError:
        return declared
    near = abs(in_url - date.fromisoformat(declared)) <= timedelta(days=1)
    return in_url.isoformat() if near else declared


def byline_date(tree: HtmlElement, headline: HtmlElement | None) -> str:
    """A date shown next to the headline: a <time> there, or a date written in its byline.

    The byline is the text after the headline, then the text before it in its own block (a
    kicker above it); the site's header, navigation and sidebars are not read.
    """
    body = tree.find("body")
    if headline is None or body is None:
        return ""
    around = _read_around(body, headline)
    if around is None:
        return ""
    start, end, block = around.headline
    windows = ((end, end + BYLINE_AFTER), (max(block, start - BYLINE_BEFORE), start))
    for lo, hi in windows:
        shown = (plausible(v) for offset, v in around.times if lo <= offset <= hi)
        if day := next((d for d in shown if d), "") or _date_in_text(around.text[lo:hi]):
            return day
    return ""


@dataclass(frozen=True)
class _Around:
    """The body's text without its chrome, where each <time> is in it, and the headline's
    start, end and the start of the block that holds it, as offsets into that text."""

    text: str
    times: list[tuple[int, str]]
    headline: tuple[int, int, int]


def _read_around(body: HtmlElement, headline: HtmlElement) -> _Around | None:
    """The body read in order, chrome and scripts left out, with the headline's place in it."""
    parts: list[str] = []
    size = 0
    times: list[tuple[int, str]] = []
    marks: dict[str, int] = {}
    block = headline.getparent()
    skipping: HtmlElement | None = None  # the chrome or script element being passed over
    for event, el in iterwalk(body, events=("start", "end")):
        if not isinstance(el.tag, str):
            continue
        if skipping is None and event == "start" and el is not headline and _unread(el):
            skipping = el
        if skipping is not None and not (event == "end" and el is skipping):
            continue
        skipping = None
        if event == "start":
            marks.update({"start": size} if el is headline else {})
            marks.update({"block": size} if el is block else {})
            if el.tag == "time" and el.get("datetime"):
                times.append((size, el.get("datetime") or ""))
        else:
            marks.update({"end": size} if el is headline else {})
        piece = " " + ((el.text if event == "start" else el.tail) or "")
        parts.append(piece)
        size += len(piece)
    if "start" not in marks or "end" not in marks:
        return None
    return _Around("".join(parts), times, (marks["start"], marks["end"], marks.get("block", 0)))


def _unread(el: HtmlElement) -> bool:
    """Whether the byline search passes over an element: a script, or the page's chrome."""
    return el.tag in ("script", "style", "noscript") or is_chrome(el)


def _date_in_text(text: str) -> str:
    """A date written in a short stretch of text ("Thu, 14 May 2020 17:55 UTC")."""
    from htmldate import find_date

    if not _YEAR.search(text):
        return ""
    page = f"<html><body><p>{html.escape(' '.join(text.split()))}</p></body></html>"
    found = find_date(page, extensive_search=True, original_date=True)
    return plausible(found) if found else ""


def guessed_date(tree: HtmlElement, url: str) -> str:
    """htmldate's reading of the article and the address: markup first, no free text search.

    Chrome and what lies beside the article are removed first, so a teaser's date or the
    footer's copyright year is not taken for the article's.
    """
    from htmldate import find_date

    page = deepcopy(tree)
    scope_to_article(page)
    drop_chrome(page)
    found = find_date(page, extensive_search=False, original_date=True, url=url or None)
    return plausible(found) if found else ""
