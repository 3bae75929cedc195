"""A news page's headline, without the site's name, and the names the site goes by.

A page states its headline several times: the visible <h1>, Open Graph and Twitter titles,
JSON-LD and microdata headlines, and the ``<title>``, which carries the site's name ("Headline |
CNN Politics", "LinkNaija | Nigeria's popular news platform: Headline") or is the site's own
title on every page ("News from The Associated Press"). The site's name is cut from each; the
headline is the one that two independent sources agree on, else the most trusted one stated,
and never a title that is only the site's name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from ingest.loaders.page_markup import Declarations
from ingest.loaders.page_tree import SIDE_TAGS, clean, element_text, in_chrome

#: Separators between a headline and a site or section name ("A | Site", "Site: A", "A：Site").
_SEPARATOR = re.compile(r"\s+(?:[|\-–—·•»/]|--|::)\s+|\s*[|｜»·•：]\s*|:\s+")
#: For agreement only: a bare hyphen also splits ("Headline-Site"), never kept as a title cut.
_LOOSE_SEPARATOR = re.compile(rf"{_SEPARATOR.pattern}|-")
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…)$")
#: A site name in a title is short; a longer piece is someone's headline.
SITE_WORDS = 5
#: A headline is at most this long; longer "titles" are descriptions pasted into the tag.
TITLE_CHARS = 300
#: A headline cut short by another source ("Long headline…") still agrees from this length.
TRUNCATED_CHARS = 40
#: Runs of title pieces tried for agreement: a title split into more is not a headline.
MAX_PIECES = 8
#: Host labels that are suffixes, not names ("co" in "bbc.co.uk").
_SUFFIXES = ("co", "com", "org", "net", "ac", "gov")
#: Without agreement, the order in which a source's headline is trusted: the publisher's
#: declarations first (Open Graph before JSON-LD, which search engines want cut short), the
#: visible <h1> next (a page may have several), the <title> last, because it is the one that
#: carries site names and sometimes the site's own title.
FALLBACK_ORDER = ("og", "ld", "twitter", "microdata", "meta", "h1", "title")


def key(text: str) -> str:
    """A spelling-insensitive form: width, case, quotes, dashes and spaces normalised."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[‘’‚‛`´]", "'", text)
    text = re.sub(r"[“”„‟«»]", '"', text)
    text = re.sub(r"[‐‑‒–—―]", "-", text)
    return " ".join(_ELLIPSIS.sub("", text).split()).strip(" .!?\"'")


def _compact(text: str) -> str:
    """Letters and digits only, for telling whether two spellings name the same site."""
    return "".join(ch for ch in key(text) if ch.isalnum())


# --- the site's names -----------------------------------------------------------------------


def host_names(url: str) -> list[str]:
    """The names a host goes by in titles: ``www.cnn.com`` gives ``cnn.com`` and ``cnn``."""
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    labels = [x for x in host.split(".") if x]
    core = max((x for x in labels[:-1] if x not in _SUFFIXES), key=len, default="")
    return [n for n in (host, core) if n]


def site_names(decl: Declarations) -> list[str]:
    """The names the site goes by, the one to show first."""
    hosts = host_names(decl.url)
    stated = [*decl.meta("og:site_name"), *decl.ld("publisher"), *decl.meta("application-name")]
    stated += [s.lstrip("@") for s in decl.meta("twitter:site")]
    stated = [(host_names(s) or [""])[0] if "://" in s else s for s in stated]
    # A stated name that matches the address is the site's (og:site_name may hold a section,
    # "U.S."; the publisher may be a wire service); otherwise the page's own og:site_name.
    shown = [s for s in stated if _names_host(s, hosts)] or decl.meta("og:site_name")
    seen: dict[str, str] = {}
    for name in [*shown, *stated, *hosts]:
        if key(name) and key(name) not in seen:
            seen[key(name)] = name
    return list(seen.values())


def _names_host(name: str, hosts: list[str]) -> bool:
    """Whether a stated site name is the host's ("USA TODAY" for usatoday.com)."""
    compact = _compact(name)
    cores = [_compact(h) for h in hosts]
    return len(compact) >= 4 and any(
        c == compact or c.startswith(compact) or compact.startswith(c) for c in cores if len(c) >= 4
    )


def is_site_name(piece: str, sites: list[str]) -> bool:
    """Whether a title piece is the site's name ("CNN", "CNN Politics", "cnn.com", "Sott.net")."""
    words = [_compact(w) for w in key(piece).split()]
    compact = "".join(words)
    if not compact or len(words) > SITE_WORDS:
        return False
    for site in sites:
        name = _compact(site)
        site_words = [_compact(w) for w in key(site).split()]
        if len(name) < 2:
            continue
        if compact == name or _word_prefix(words, site_words) or _word_prefix(site_words, words):
            return True  # "CNN Politics" for "CNN", "日本経済新聞" for "日本経済新聞 電子版"
        if len(name) >= 5 and len(words) <= 3 and compact.startswith(name):
            return True  # "Ultima Hora Mallorca" for ultimahora.es
    return False


def _word_prefix(short: list[str], long: list[str]) -> bool:
    """Whether ``short`` is ``long``'s first words, the first of them a name, not a letter."""
    return 0 < len(short) < len(long) and long[: len(short)] == short and len(short[0]) >= 3


# --- cutting the site's name from a title ---------------------------------------------------


def strip_site(title: str, sites: list[str]) -> str:
    """The title without the site's name before or after it ("A | CNN Politics" gives "A")."""
    title = clean(title)
    for site in sites:
        site = clean(site)
        if 2 <= len(site) < len(title):
            title = _cut_whole(title, site)
    parts = re.split(f"({_SEPARATOR.pattern})", title)
    pieces, seps = parts[0::2], parts[1::2]
    whole = len(pieces)
    # one piece from each end at most: a headline of a few words may also start like a site
    if len(pieces) > 1 and _site_piece(pieces[-1], seps[-1], sites):
        pieces.pop()
    if len(pieces) > 1 and _site_piece(pieces[0], seps[0], sites):
        pieces.pop(0)
    return title if len(pieces) == whole else _rejoin(title, pieces)


def _site_piece(piece: str, separator: str, sites: list[str]) -> bool:
    """Whether a piece cut off by ``separator`` is the site's name.

    After a colon only the exact name counts: "9to5Mac Gift Guide: …" names a series.
    """
    if separator.strip() == ":":
        return any(_compact(piece) == _compact(site) for site in sites)
    return is_site_name(piece, sites)


def _cut_whole(title: str, site: str) -> str:
    """A title less a site name that itself holds separators ("LinkNaija | Nigeria's …: A")."""
    low, name = title.casefold(), site.casefold()
    if low.startswith(name):
        rest = title[len(site) :]
        match = _SEPARATOR.match(rest)
        if match and rest[match.end() :].strip():
            return rest[match.end() :].strip()
    if low.endswith(name):
        rest = title[: -len(site)]
        match = re.search(rf"(?:{_SEPARATOR.pattern})$", rest)
        if match and rest[: match.start()].strip():
            return rest[: match.start()].strip()
    return title


def _rejoin(title: str, pieces: list[str]) -> str:
    """The span of ``title`` from its first kept piece to its last, separators kept inside."""
    start = title.find(pieces[0])
    end = title.rfind(pieces[-1]) + len(pieces[-1])
    return title[start:end].strip() if 0 <= start < end else " ".join(pieces)


def _variants(text: str) -> set[str]:
    """The text and every run of its pieces, for finding where another source agrees."""
    pieces = [p for p in _LOOSE_SEPARATOR.split(text) if p.strip()]
    runs = {text}
    if len(pieces) <= MAX_PIECES:
        for i in range(len(pieces)):
            for j in range(i + 1, len(pieces) + 1):
                runs.add(_rejoin(text, pieces[i:j]))
    return {key(r) for r in runs if key(r)}


# --- choosing the headline ------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    """A headline as one source states it, and the element that shows it, if any."""

    kind: str
    text: str
    element: HtmlElement | None = None


def _stated(tree: HtmlElement, decl: Declarations) -> list[_Candidate]:
    """Every headline the page states, best source first."""
    # A <header> may hold the article's headline; a logo there is dropped later as the site.
    found = [
        _Candidate("h1", element_text(h1), h1)
        for h1 in tree.iter("h1")
        if not in_chrome(h1, SIDE_TAGS)
    ]
    found += [_Candidate("ld", text) for text in decl.ld("headline")]
    marked = tree.xpath(
        "//*[@itemprop='headline'] | //*[contains(concat(' ', @class, ' '), ' entry-title ')]"
    )
    for el in marked:
        if el.tag == "meta":
            found.append(_Candidate("microdata", clean(el.get("content"))))
        elif not in_chrome(el, SIDE_TAGS):  # a teaser's headline in a sidebar is not
            found.append(_Candidate("microdata", element_text(el), el))
    found += [_Candidate("og", v) for v in decl.meta("og:title")]
    found += [_Candidate("twitter", v) for v in decl.meta("twitter:title")]
    found += [_Candidate("meta", v) for v in decl.meta("title", "headline", "parsely-title")]
    head = tree.find("head")
    titles = head.iter("title") if head is not None else []
    return found + [_Candidate("title", element_text(t)) for t in titles]


def _candidates(tree: HtmlElement, decl: Declarations, sites: list[str]) -> list[_Candidate]:
    """Every stated headline with the site's name cut off, the bare site names left out."""
    out = []
    for cand in _stated(tree, decl):
        text = strip_site(cand.text, sites)
        if text and len(text) <= TITLE_CHARS and not is_site_name(text, sites):
            out.append(_Candidate(cand.kind, text, cand.element))
    return out


def headline(
    tree: HtmlElement, decl: Declarations, sites: list[str]
) -> tuple[str, HtmlElement | None]:
    """The article's headline and the element that shows it, where one does."""
    cands = _candidates(tree, decl, sites)
    variants = [_variants(c.text) for c in cands]
    for cand in cands:
        # agreement counts between sources, not between two readings of one element
        others: set[str] = set()
        for other, runs in zip(cands, variants, strict=True):
            if other.kind != cand.kind and not _same(other, cand):
                others |= runs
        if key(cand.text) in others or _truncated_match(cand.text, others):
            return cand.text, _element_of(cand, cands)
    for kind in FALLBACK_ORDER:
        first = next((c for c in cands if c.kind == kind), None)
        if first is not None:
            return first.text, _element_of(first, cands)
    return "", None


def _same(a: _Candidate, b: _Candidate) -> bool:
    """Whether two candidates are one element read twice (an <h1 itemprop="headline">)."""
    return a.element is not None and a.element is b.element


def _truncated_match(text: str, others: set[str]) -> bool:
    """Whether another source shortened this headline with an ellipsis ("Long headline…")."""
    whole = key(text)
    return len(whole) >= TRUNCATED_CHARS and any(
        len(o) >= TRUNCATED_CHARS and whole.startswith(o) for o in others
    )


def _element_of(chosen: _Candidate, cands: list[_Candidate]) -> HtmlElement | None:
    """The element on the page that displays the chosen headline, where one does."""
    if chosen.element is not None:
        return chosen.element
    wanted = key(chosen.text)
    shown = [c for c in cands if c.element is not None]
    same = [c.element for c in shown if key(c.text) == wanted]
    # an <h1> may hold more than the headline ("Headline<span>Site</span>")
    longer = [c.element for c in shown if c.kind == "h1" and key(c.text).startswith(wanted)]
    return next(iter(same + longer), None)
