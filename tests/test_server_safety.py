"""A server put on a network, probed as an attacker would (issue 23): a real ``rag serve`` over
the sample articles, raw sockets, and Chromium on a page of another site.

- The API's ``urls`` take web addresses only: a server path is refused, whether it exists or
  not, and nothing of it is read; no reply names a server path.
- Another site's page can neither write (a form post needs no CORS preflight) nor read, even
  when the server is reached by a host name (Chromium maps the names to 127.0.0.1).
- A body is refused before it is read: unauthenticated, or over the limit.
- Text that is not text (a lone surrogate) is a 4xx; login guessing is slowed down.
- Every response carries the security headers.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from rag.assistant import Assistant
from rag.config import Config

from .conftest import SAMPLES, free_port, running
from .test_page import CHROMIUM

pytestmark = pytest.mark.slow

TOKEN = "api-token-7d1c22aa"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "The vault code of the harbour office is 4471-Zebra."


@dataclass
class Server:
    url: str
    port: int
    home: Path


def _serve(tmp: Path, **env_extra: str) -> Iterator[Server]:
    home = tmp / "lib"
    assert Assistant.open(Config.from_env(home=home)).ingest(SAMPLES).ok
    port = free_port()
    env = dict(os.environ, RAG_HOME=str(home), GRADIO_ANALYTICS_ENABLED="False", **env_extra)
    args = [sys.executable, "-m", "rag.cli", "serve", "--no-watch", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(args, url, tmp / "serve.log", env):
        yield Server(url, port, home)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Iterator[Server]:
    """A server with an API token."""
    yield from _serve(tmp_path_factory.mktemp("guarded"), RAG_API_TOKEN=TOKEN)


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Iterator[Server]:
    """A server without a login, as `make run` starts one."""
    yield from _serve(tmp_path_factory.mktemp("open"))


def test_urls_take_web_addresses_only_and_read_no_server_file(
    guarded: Server, tmp_path: Path
) -> None:
    secret = tmp_path / "secret_notes.txt"
    secret.write_text(f"Harbour office\n\n{SECRET}\n", "utf-8")
    tried = [str(secret), str(tmp_path), str(tmp_path / "missing.txt"), f"file://{secret}"]
    got = httpx.post(f"{guarded.url}/api/articles", data={"urls": tried}, headers=BEARER)
    assert got.status_code == 200, got.text
    report = got.json()
    assert report["added"] == [] and len(report["failed"]) == len(tried)
    # The same reason whether the path exists or not: the reply tells nothing of the disk.
    assert len({f["reason"] for f in report["failed"]}) == 1
    assert "http(s) URLs only" in report["failed"][0]["reason"]
    asked = httpx.post(
        f"{guarded.url}/api/ask", json={"question": "What is the vault code?"}, headers=BEARER
    )
    assert "4471" not in asked.text


def test_no_reply_names_a_server_path(guarded: Server) -> None:
    listed = httpx.get(f"{guarded.url}/api/articles", headers=BEARER)
    assert listed.status_code == 200 and listed.json()
    assert all("origin" not in a and "key" not in a for a in listed.json())
    assert str(SAMPLES) not in listed.text and str(guarded.home) not in listed.text
    failed = httpx.post(
        f"{guarded.url}/api/articles",
        files=[("files", ("notes.txt", b"\x00\x01 binary", "text/plain"))],
        headers=BEARER,
    ).json()
    assert failed["failed"] == [{"source": "notes.txt", "reason": "binary file, not text"}]
    assert str(guarded.home) not in json.dumps(failed)
    # The failed upload is not kept.
    assert not [p for p in (guarded.home / "uploads").rglob("*") if p.is_file()]


def _raw_post(port: int, path: str, headers: dict[str, str], body_sent: bytes) -> tuple[int, str]:
    """POST with the given headers, sending only ``body_sent`` of the declared body, and read
    the status line that comes back (the server answers before the rest arrives, or never)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        conn.sendall(head.encode() + body_sent)
        reply = conn.recv(65536).decode("latin-1")
    status = int(reply.split(" ", 2)[1])
    return status, reply


def test_a_body_is_refused_before_it_is_read(guarded: Server) -> None:
    declared = 100_000_000
    multipart = {
        "Content-Type": "multipart/form-data; boundary=xyz",
        "Content-Length": str(declared),
    }
    # Unauthenticated: refused before the login check reads anything of the 100 MB.
    status, _ = _raw_post(guarded.port, "/api/articles", multipart, b"--xyz\r\n" + b"x" * 65536)
    assert status == 401
    # Authenticated but over the limit: refused on its declared length.
    status, _ = _raw_post(
        guarded.port, "/api/articles", {**multipart, **BEARER}, b"--xyz\r\n" + b"x" * 65536
    )
    assert status == 413
    too_long_json = {"Content-Type": "application/json", "Content-Length": "50000000", **BEARER}
    status, _ = _raw_post(guarded.port, "/api/ask", too_long_json, b'{"question": "')
    assert status == 413
    assert not [p for p in (guarded.home / "uploads").rglob("*") if p.is_file()]


@pytest.mark.parametrize("path", ["/api/ask", "/api/chat", "/v1/chat/completions"])
def test_a_lone_surrogate_is_a_4xx(guarded: Server, path: str) -> None:
    if path.startswith("/v1"):
        body = b'{"messages": [{"role": "user", "content": "Who is \\ud800?"}]}'
    else:
        body = b'{"question": "Who is \\ud800?"}'
    got = httpx.post(
        f"{guarded.url}{path}",
        content=body,
        headers={**BEARER, "content-type": "application/json"},
    )
    assert got.status_code == 422 and got.json()["detail"], got.text


def test_every_reply_carries_the_security_headers(guarded: Server) -> None:
    for got in (
        httpx.get(guarded.url),
        httpx.get(f"{guarded.url}/api/status", headers=BEARER),
        httpx.get(f"{guarded.url}/api/status"),
    ):
        csp = got.headers["content-security-policy"]
        script = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
        assert "http" not in script and "*" not in script
        assert "frame-ancestors 'none'" in csp
        assert got.headers["x-frame-options"] == "DENY"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["referrer-policy"] == "no-referrer"
    assert httpx.get(f"{guarded.url}/docs").status_code == 404


def test_login_guessing_is_slowed_down(tmp_path: Path, embedder: object) -> None:
    for server in _serve(tmp_path, RAG_API_TOKEN=TOKEN):
        wrong = [
            httpx.get(f"{server.url}/api/status", headers={"Authorization": f"Bearer guess-{n}"})
            for n in range(12)
        ]
        assert [r.status_code for r in wrong[:10]] == [401] * 10
        assert {r.status_code for r in wrong[10:]} == {429}
        # The right token waits too: a guesser learns nothing from the answer.
        assert httpx.get(f"{server.url}/api/status", headers=BEARER).status_code == 429


class _OtherSite(http.server.BaseHTTPRequestHandler):
    """Another site's page: a form that posts to the news server, and a script that tries to
    read from it."""

    target = ""

    def do_GET(self) -> None:
        page = f"""<!doctype html><html><body>
<form id="f" method="post" action="{self.target}/api/articles" enctype="multipart/form-data">
<input name="urls" value="https://example.org/story"></form>
<pre id="read">pending</pre>
<script>
fetch("{self.target}/api/status", {{credentials: "include"}})
  .then(r => r.text()).then(t => document.getElementById("read").textContent = "READ " + t)
  .catch(e => document.getElementById("read").textContent = "BLOCKED");
</script></body></html>"""
        data = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_another_site_can_neither_write_nor_read(open_server: Server) -> None:
    from playwright.sync_api import sync_playwright

    target = f"http://news.test:{open_server.port}"
    handler = type("Site", (_OtherSite,), {"target": target})
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    before = httpx.get(f"{open_server.url}/api/articles").json()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--host-resolver-rules=MAP news.test 127.0.0.1, MAP evil.test 127.0.0.1"],
            )
            page = browser.new_page()
            page.goto(f"http://evil.test:{site.server_address[1]}/")
            page.wait_for_function("document.getElementById('read').textContent !== 'pending'")
            assert page.inner_text("#read") == "BLOCKED"
            with page.expect_response(lambda r: r.url.endswith("/api/articles")) as posted:
                page.evaluate("document.getElementById('f').submit()")
            assert posted.value.status == 403
            assert "another site" in posted.value.text()
            browser.close()
    finally:
        site.shutdown()
        site.server_close()
    assert httpx.get(f"{open_server.url}/api/articles").json() == before
    # Reached by a host name, the server still allows no other origin.
    preflight = httpx.options(
        f"{open_server.url}/api/ask",
        headers={
            "Host": f"news.test:{open_server.port}",
            "Origin": "http://evil.test",
            "Access-Control-Request-Method": "POST",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    read = httpx.get(
        f"{open_server.url}/config",
        headers={"Host": f"news.test:{open_server.port}", "Origin": "http://evil.test"},
    )
    assert "access-control-allow-origin" not in read.headers
