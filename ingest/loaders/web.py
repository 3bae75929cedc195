"""Articles at http(s) URLs: fetched, then parsed as HTML (or as PDF or text by content type)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx

from ingest.loaders.base import LoadError, decode_text, mb
from ingest.loaders.html import MARKUP_FACTOR, article_from_html
from ingest.loaders.pdf import PDF_FACTOR, article_from_pdf
from ingest.loaders.text import article_from_text
from rag.records import Article

USER_AGENT = "rag-news/0.1 (+article ingest)"


def non_public_address(host: str) -> str | None:
    """The first address ``host`` resolves to that is not on the public internet (loopback,
    private, link-local such as cloud metadata, reserved), or None."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), None)
    except (socket.gaierror, UnicodeError):
        return None  # the fetch itself reports a name that does not resolve
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            return str(address)
    return None


def _guard(url: str, allow_private: bool) -> list[Callable[[httpx.Request], None]]:
    """Request hooks that refuse every hop (redirects too) to a non-public address."""
    if allow_private:
        return []

    def check(request: httpx.Request) -> None:
        found = non_public_address(request.url.host)
        if found is not None:
            raise LoadError(
                url,
                f"refused: {request.url.host} is a private or loopback address ({found}); "
                "set RAG_ALLOW_PRIVATE_URLS=1 to allow",
            )

    return [check]


@dataclass(frozen=True)
class Fetched:
    """What a GET returned: status (200, or 304 for a conditional request), body, headers,
    and the URL after redirects."""

    status: int
    body: bytes
    headers: dict[str, str]
    url: str


def fetch_response(
    url: str,
    timeout: float,
    max_bytes: int,
    allow_private: bool = False,
    headers: dict[str, str] | None = None,
) -> Fetched:
    """GET ``url`` (with extra ``headers``, e.g. If-None-Match); errors and statuses from 400
    up raise ``LoadError``; hosts on private or loopback addresses are refused unless
    ``allow_private``, at every redirect too."""
    try:
        with (
            httpx.Client(
                timeout=timeout,
                follow_redirects=True,
                headers={"User-Agent": USER_AGENT},
                event_hooks={"request": _guard(url, allow_private)},
            ) as client,
            client.stream("GET", url, headers=headers or {}) as response,
        ):
            if response.status_code >= 400:
                raise LoadError(url, f"HTTP {response.status_code} {response.reason_phrase}")
            body = bytearray()
            for piece in response.iter_bytes():
                body.extend(piece)
                if len(body) > max_bytes:
                    raise LoadError(url, f"too large: over {mb(max_bytes)} (RAG_MAX_ARTICLE_MB)")
            return Fetched(
                response.status_code,
                bytes(body),
                {k.lower(): v for k, v in response.headers.items()},
                str(response.url),
            )
    except httpx.TimeoutException:
        raise LoadError(url, f"timed out after {timeout:.0f} s") from None
    except httpx.ConnectError as exc:
        raise LoadError(url, f"unreachable ({exc})") from None
    except httpx.HTTPError as exc:
        raise LoadError(url, f"fetch failed ({exc})") from None


def fetch(
    url: str, timeout: float, max_bytes: int, allow_private: bool = False
) -> tuple[bytes, str]:
    """The body (at most ``max_bytes``) and content type at ``url``."""
    got = fetch_response(url, timeout, max_bytes, allow_private)
    return got.body, got.headers.get("content-type", "")


def load_url(url: str, limit: int, timeout: float, allow_private: bool = False) -> Article:
    """The article at ``url``."""
    body, ctype = fetch(url, timeout, limit * PDF_FACTOR, allow_private)
    ctype = ctype.split(";")[0].strip().lower()
    if ctype == "application/pdf" or body.startswith(b"%PDF-"):
        return article_from_pdf(body, url, limit, url=url)
    if len(body) > limit * MARKUP_FACTOR:
        raise LoadError(url, f"too large: {mb(len(body))} page (RAG_MAX_ARTICLE_MB)")
    if ctype in ("text/plain", "text/markdown"):
        article = article_from_text(
            decode_text(url, body), url, markdown=ctype == "text/markdown", key=url
        )
        return replace(article, url=article.url or url)
    return article_from_html(body, url, limit, url=url)
