"""What a news page says about its article: headline, publication date, site name, address.

Each comes from the publisher's declarations and the visible headline before any guess:
``page_title`` chooses the headline and cuts the site's name from it, ``page_date`` finds the
article's own date rather than one from the page's chrome.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml.html import HtmlElement

from ingest.loaders.page_date import published
from ingest.loaders.page_markup import read_declarations
from ingest.loaders.page_title import headline, site_names


@dataclass(frozen=True)
class PageMeta:
    """What a page says about its article; ``""`` where it does not say."""

    title: str = ""
    published: str = ""
    site: str = ""
    url: str = ""


def read_page_meta(tree: HtmlElement, url: str = "") -> PageMeta:
    """The headline, publication date, site name and address a page gives for its article."""
    decl = read_declarations(tree, url)
    sites = site_names(decl)
    title, shown = headline(tree, decl, sites)
    return PageMeta(
        title=title,
        published=published(tree, decl, shown),
        site=sites[0] if sites else "",
        url=decl.url,
    )
