"""Articles at http(s) URLs: fetched, then parsed as HTML (or as PDF or text by content type)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, replace
from typing import Any

import httpcore
import httpx

from ingest.loaders.base import LoadError, decode_text, mb
from ingest.loaders.html import MARKUP_FACTOR, article_from_html
from ingest.loaders.pdf import PDF_FACTOR, article_from_pdf
from ingest.loaders.text import article_from_text
from rag.records import Article

USER_AGENT = "rag-news/0.1 (+article ingest)"


#: NAT64's well-known prefix: an IPv6 address that reaches the IPv4 address in its last bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``address`` is on the public internet: not loopback, private, link-local (cloud
    metadata), reserved or multicast, nor an IPv6 form of such an IPv4 address (mapped,
    NAT64, 6to4, or the old compatible ``::a.b.c.d``), which ``is_global`` lets through."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        packed = int(address)
        embedded = [address.ipv4_mapped, address.sixtofour]
        if address in _NAT64 or packed >> 32 == 0:
            embedded.append(ipaddress.IPv4Address(packed & 0xFFFFFFFF))
        return all(v4 is None or is_public(v4) for v4 in embedded)
    return True


class PrivateAddress(Exception):
    """A host that resolves to an address that is not public."""


class PublicOnlyBackend(httpcore.SyncBackend):
    """Resolves each host once, refuses it if any of its addresses is not public, and connects
    to one of exactly those addresses: a resolver cannot answer a public address to a check
    and a private one to the connection (DNS rebinding). TLS (SNI and the certificate) and the
    Host header stay on the name: httpcore passes the URL's host to ``start_tls``."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not is_public(ip):
                raise PrivateAddress(f"{host} is a private or loopback address ({ip})")
        error: Exception = httpcore.ConnectError(f"{host}: no address")
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error


class PublicOnlyTransport(httpx.HTTPTransport):
    """httpx's transport over ``PublicOnlyBackend``. httpx 0.29 takes no network backend, so
    the connection pool it made is replaced by one that uses ours (``_pool``, checked against
    httpx 0.29 and httpcore 1.0); its request, response and error mapping stay httpx's."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        limits = httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PublicOnlyBackend(),
        )


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
                transport=None if allow_private else PublicOnlyTransport(),
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
    except PrivateAddress as exc:
        raise LoadError(url, f"refused: {exc}; set RAG_ALLOW_PRIVATE_URLS=1 to allow") from None
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
