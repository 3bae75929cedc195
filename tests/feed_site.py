"""A news site on 127.0.0.1 that a test scripts: RSS feeds and article pages it can change
between polls, failing and redirecting routes, ETag/Last-Modified validators answered with
304, an optional delay per page, and a log of every request."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    etag: str = ""
    last_modified: str = ""
    location: str = ""


@dataclass
class FeedSite:
    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    #: (path, request headers) of every request, in order.
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    page_delay: float = 0.0

    def page(self, path: str, title: str, *paragraphs: str) -> str:
        """Serve an article page at ``path``; returns its URL."""
        body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        html = (
            f"<html><head><title>{escape(title)}</title></head><body><article>"
            f"<h1>{escape(title)}</h1>{body}</article></body></html>"
        )
        self.routes[path] = Route(body=html.encode())
        return self.base + path

    def story(self, path: str, title: str, date: str, *paragraphs: str) -> dict[str, str]:
        """Serve an article page at ``path`` and return its feed entry (dated ``date``)."""
        return {"link": self.page(path, title, *paragraphs), "title": title, "date": date}

    def feed(
        self, path: str, title: str, entries: list[dict[str, str]], validators: bool = True
    ) -> str:
        """Serve an RSS 2.0 feed at ``path`` (entries: guid, link, title, date as RFC 822);
        with ``validators``, an ETag and Last-Modified that a matching request gets 304 for."""
        items = "".join(
            "<item>"
            f"<title>{escape(e['title'])}</title><link>{escape(e['link'])}</link>"
            f"<guid>{escape(e.get('guid', e['link']))}</guid>"
            f"<pubDate>{escape(e['date'])}</pubDate>"
            "</item>"
            for e in entries
        )
        xml = (
            '<?xml version="1.0"?><rss version="2.0"><channel>'
            f"<title>{escape(title)}</title><link>{self.base}/</link>{items}</channel></rss>"
        ).encode()
        version = str(abs(hash(xml)))
        self.routes[path] = Route(
            body=xml,
            content_type="application/rss+xml",
            etag=f'"{version}"' if validators else "",
            last_modified=formatdate(time.time(), usegmt=True) if validators else "",
        )
        return self.base + path

    def fetched(self, path: str) -> int:
        """How many times ``path`` was requested."""
        return sum(1 for p, _ in self.requests if p == path)


def handler_for(site: FeedSite) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            # The client may go away mid-answer (a watcher stopped while fetching).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer()

        def _answer(self) -> None:
            site.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = site.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            if route.etag and self.headers.get("If-None-Match") == route.etag:
                self.send_response(304)
                self.end_headers()
                return
            if route.status in (301, 302, 307, 308):
                self.send_response(route.status)
                self.send_header("Location", route.location)
                self.end_headers()
                return
            if route.content_type.startswith("text/html") and site.page_delay:
                time.sleep(site.page_delay)
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            if route.etag:
                self.send_header("ETag", route.etag)
            if route.last_modified:
                self.send_header("Last-Modified", route.last_modified)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def feed_site() -> Iterator[FeedSite]:
    site = FeedSite()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_for(site))
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
