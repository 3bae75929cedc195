"""HTML news pages read as a reader sees them: the headline without the site's name, the
article's own date, no sidebar or boilerplate in the text, and sentences whole.

Each page is small hand-written HTML shaped like a real news page: the site's header and
navigation, the <article>, a rail of other stories, and the footer around it.
"""

from __future__ import annotations

import datetime as dt

import lxml.html
import pytest

from eval.pages import page_counts
from ingest.loaders.html import article_from_html
from ingest.loaders.page_date import publisher_day
from ingest.loaders.page_title import host_names, strip_site
from ingest.loaders.page_tree import collapse_whitespace
from rag.records import Article

LIMIT = 5_000_000
HEADLINE = "Harbour reopens after storm"

PARAGRAPHS = """<p>The harbour of Port Elling reopened on Tuesday after a storm closed it for three
days, the port authority said in a statement.</p>
<p>Harbour master Ines Carvalho said that 42 fishing boats had returned to their moorings and that
the damaged north pier would be repaired by the end of April.</p>
<p>Ferry services to the islands will resume on Thursday, according to the operator, which had
cancelled all crossings since the weekend.</p>"""

BYLINE = '<div class="byline">By Ines Carvalho</div>'

#: The site's chrome: a header with a date box, navigation, and a footer with a copyright year.
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{head}</head>
<body>
<header class="site-header">
  <a class="logo" href="/">Coastal Times</a>
  <div id="date-box">{today}</div>
  <nav><ul><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li>
  <li><a href="/weather">Weather</a></li></ul></nav>
</header>
<main>
<article>
{heading}
{byline}
{body}
</article>
{side}
</main>
<footer><p>Copyright 2024 Coastal Times Media. All rights reserved.</p>
<a href="/privacy">Privacy</a></footer>
</body></html>"""

#: Other stories' teasers beside the article, each a link, a date and a blurb.
RAIL = """<div class="col-right">
<div class="col-title">More from Coastal Times</div>
<div class="box"><a href="/2014/tornado-facts">10 things to know about tornadoes</a>
<div class="box-date">April 26, 2014 -- Updated 1358 GMT</div>
<div class="box-text">Here are 10 facts about one of nature's most powerful forces, and what
to do when a tornado is headed your way.</div></div>
<div class="box"><a href="/2013/deadliest-tornadoes">The deadliest tornadoes in history</a>
<div class="box-date">May 30, 2013 -- Updated 1531 GMT</div>
<div class="box-text">Here are the 10 deadliest tornadoes to touch down in the United States,
according to the weather service.</div></div>
<div class="box"><a href="/2014/safe-room">Do you need a safe room?</a>
<div class="box-date">July 3, 2014 -- Updated 2339 GMT</div>
<div class="box-text">You have just heard that a tornado is headed directly toward you and you
are not near a shelter.</div></div>
</div>
<aside><h3>Most read</h3><ul>
<li><a href="/a">Council approves new budget for the coming year</a></li>
<li><a href="/b">Schools close early for the winter holidays</a></li></ul></aside>"""


def page(
    head: str = "",
    *,
    heading: str = f"<h1>{HEADLINE}</h1>",
    byline: str = BYLINE,
    body: str = PARAGRAPHS,
    side: str = "",
) -> str:
    """A news page around the given parts; the header's date box shows today's date."""
    today = dt.date.today().strftime("%a, %d %b %Y")
    return PAGE.format(head=head, today=today, heading=heading, byline=byline, body=body, side=side)


def read(html: str, url: str = "") -> Article:
    return article_from_html(html, "page.html", LIMIT, url=url)


# --- titles: the headline, without the site's name ------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            "<title>Harbour reopens after storm | CNN Politics</title>"
            '<meta property="og:title" content="Harbour reopens after storm | CNN Politics">'
            '<meta property="og:site_name" content="CNN">',
            HEADLINE,
        ),
        (
            "<title>LinkNaija | Nigeria's popular news platform: Harbour reopens after storm"
            '</title><meta property="og:title" content="LinkNaija | Nigeria\'s popular news'
            ' platform: Harbour reopens after storm">'
            '<meta property="og:site_name" content="LinkNaija | Nigeria\'s popular news'
            ' platform">',
            HEADLINE,
        ),
    ],
    ids=["suffix", "prefix-holding-a-separator"],
)
def test_title_is_the_headline_without_the_site_name(head: str, expected: str) -> None:
    assert read(page(head)).title == expected


@pytest.mark.parametrize(
    ("head", "heading"),
    [
        # the site's own title on every page; the headline marked only as the entry's title
        (
            "<title>News from The Associated Press</title>",
            f'<p class="body"><span class="headline entry-title">{HEADLINE}</span></p>',
        ),
        (
            '<title>Coastal Times</title><meta property="og:title" content="Coastal Times">'
            '<meta property="og:site_name" content="Coastal Times">',
            f"<h1>{HEADLINE}</h1>",
        ),
    ],
    ids=["site-title-microformat-headline", "og-title-is-the-site"],
)
def test_a_title_that_is_the_site_name_gives_way_to_the_headline(head: str, heading: str) -> None:
    assert read(page(head, heading=heading)).title == HEADLINE


def test_headline_shown_and_declared_wins_over_a_differing_title() -> None:
    head = (
        "<title>Storm over: port open again | Coastal Times</title>"
        '<script type="application/ld+json">{"@context": "https://schema.org",'
        ' "@type": "NewsArticle", "headline": "Harbour reopens after storm"}</script>'
    )
    assert read(page(head)).title == HEADLINE


@pytest.mark.parametrize(
    ("title", "sites", "expected"),
    [
        ("Headline text | CNN Politics", ["CNN"], "Headline text"),
        (
            "New York AG investigating WeWork – TechCrunch",
            ["TechCrunch"],
            "New York AG investigating WeWork",
        ),
        (
            "米朝首脳直通電話 習氏に挑む：日本経済新聞",
            ["日本経済新聞 電子版"],
            "米朝首脳直通電話 習氏に挑む",
        ),
        ("Sott.net -- Julian Assange files", ["sott.net", "sott"], "Julian Assange files"),
        # after a colon only the site's exact name is cut: this is a series name
        ("9to5Mac Gift Guide: What to buy", ["9to5Mac"], "9to5Mac Gift Guide: What to buy"),
        # a headline that merely starts like the site is kept
        ("Apple unveils a phone | AP", ["AP"], "Apple unveils a phone"),
        # no declared name: the host's
        (
            "Harbour reopens - Coastaltimes.com",
            host_names("https://www.coastaltimes.com/x"),
            "Harbour reopens",
        ),
    ],
)
def test_strip_site(title: str, sites: list[str], expected: str) -> None:
    assert strip_site(title, sites) == expected


# --- dates: the article's own, not the page's chrome ----------------------------------------


def test_date_from_published_meta_over_the_header_date_box() -> None:
    head = '<meta property="article:published_time" content="2019-03-02T09:00:00+00:00">'
    assert read(page(head)).published == "2019-03-02"


def test_date_from_the_byline_over_the_header_date_box() -> None:
    # No date markup at all: the header box shows the day the page was saved, the byline
    # under the headline the day the article was published.
    byline = '<div class="byline">Ines Carvalho<br>Sat, 2 Mar 2019 09:00 UTC</div>'
    assert read(page(byline=byline)).published == "2019-03-02"


def test_date_from_json_ld_over_teaser_dates() -> None:
    head = (
        '<script type="application/ld+json">{"@type": "NewsArticle",'
        ' "headline": "Harbour reopens after storm", "datePublished": "2019-03-02"}</script>'
    )
    assert read(page(head, side=RAIL)).published == "2019-03-02"


def test_no_date_rather_than_a_teaser_date_or_the_copyright_year() -> None:
    assert read(page(side=RAIL)).published == ""


def test_a_utc_timestamp_keeps_the_publisher_day_of_the_address() -> None:
    url = "https://example.com/2019/11/18/markets/index.html"
    assert publisher_day("2019-11-19", url) == "2019-11-18"
    assert publisher_day("2019-11-25", url) == "2019-11-25"


# --- text: the article only -----------------------------------------------------------------


def test_sidebar_teasers_and_most_read_list_stay_out_of_the_text() -> None:
    got = read(page(side=RAIL))
    assert "42 fishing boats" in got.text and "Ferry services" in got.text
    for other in ("tornado", "More from Coastal Times", "Most read", "Council approves"):
        assert other not in got.text


def test_copyright_teaser_and_newsletter_lines_stay_out_of_the_text() -> None:
    body = (
        PARAGRAPHS
        + '<p>Related: <a href="/2024/ferries">Ferry operator adds winter crossings</a></p>'
        + "<p>Sign up for our morning newsletter to get the day's top stories.</p>"
        + "<p>© 2024 Coastal Times Media. All rights reserved.</p>"
    )
    got = read(page(body=body))
    assert got.text.endswith("cancelled all crossings since the weekend.")
    for other in ("Related:", "newsletter", "©", "All rights reserved"):
        assert other not in got.text


def test_a_source_line_break_inside_a_sentence_is_a_space() -> None:
    # A blog editor's paragraphs: text in <div><span>, the HTML source wrapped mid-sentence.
    body = (
        '<div class="post-body"><span style="font-size: small;">The harbour of Port Elling\n'
        "reopened on Tuesday after a storm closed it for three days,\n"
        "the port authority said in a statement.<br></span></div>\n" + PARAGRAPHS.split("\n", 2)[2]
    )
    lines = read(page(body=body)).text.split("\n")
    assert (
        "The harbour of Port Elling reopened on Tuesday after a storm closed it for three days,"
        " the port authority said in a statement."
    ) in lines


def test_a_line_break_inside_a_paragraph_is_a_space_and_paragraphs_stay_lines() -> None:
    lines = read(page()).text.split("\n")
    assert (
        "The harbour of Port Elling reopened on Tuesday after a storm closed it for three days,"
        " the port authority said in a statement."
    ) in lines
    assert any(line.startswith("Harbour master Ines Carvalho") for line in lines)
    assert any(line.startswith("Ferry services") for line in lines)


def test_paragraphs_in_a_layout_table_stay_paragraphs() -> None:
    # Older sites lay a page out with a table; its paragraphs must not run into one line.
    body = "<table><tr><td>" + PARAGRAPHS + "</td><td><a href='/'>Home</a></td></tr></table>"
    lines = read(page(body=body)).text.split("\n")
    assert any(line.startswith("The harbour of Port Elling") for line in lines)
    assert any(line.startswith("Harbour master Ines Carvalho") for line in lines)


def test_whitespace_collapses_as_a_browser_shows_it_except_in_pre() -> None:
    tree = lxml.html.fromstring(
        "<html><body><p>one\n   two\u00a0three <b>four</b>\n five</p>"
        "<pre>06:12  high\n12:30  low</pre></body></html>"
    )
    collapse_whitespace(tree)
    assert tree.find(".//p").text_content() == "one two\u00a0three four five"
    assert tree.find(".//pre").text_content() == "06:12  high\n12:30  low"


# --- the eval's scorer ----------------------------------------------------------------------


def test_shingle_counts_match_the_benchmark() -> None:
    assert page_counts("one two three four five", "one two three four five") == (1.0, 0.0, 0.0)
    tp, fp, fn = page_counts("one two three four five", "one two three four")
    assert (tp, fp, fn) == (0.5, 0.0, 0.5)
    assert page_counts("", "") == (0.0, 0.0, 0.0)
