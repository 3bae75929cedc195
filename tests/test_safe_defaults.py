"""Safe defaults of the running page (``rag serve`` on a free port, started by the test): it
listens on 127.0.0.1 only, asks for the login it is given, refuses uploads over the size limit
or of types it does not read, and never shows or logs the API key."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.assistant import Assistant

from .conftest import SAMPLES, free_port, running
from .llm_server import LLMServer

pytestmark = pytest.mark.slow

USER, PASSWORD = "reader", "pw-open-sesame-31"
SECRET = "sk-live-secret-key-8c1f0e"
TOKEN = "api-token-5e2b91c4"
#: RAG_MAX_ARTICLE_MB for the page: uploads are limited to four times it (80 KB).
ARTICLE_MB = "0.02"
UPLOAD_LIMIT = 80_000


@dataclass
class Page:
    url: str
    port: int
    log: Path
    llm: LLMServer
    home: Path


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Iterator[Page]:
    home = tmp_path_factory.mktemp("safe") / "lib"
    assert Assistant.open(home=str(home)).ingest(SAMPLES).ok
    llm = LLMServer()  # expects "test-key": the page's key is refused, as a wrong key is
    port = free_port()
    env = dict(
        os.environ,
        RAG_HOME=str(home),
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
        RAG_UI_USER=USER,
        RAG_UI_PASSWORD=PASSWORD,
        RAG_API_TOKEN=TOKEN,
        RAG_MAX_ARTICLE_MB=ARTICLE_MB,
        OPENAI_API_KEY=SECRET,
        RAG_LLM_BASE_URL=llm.state.url,
        RAG_LLM_RETRIES="0",
    )
    env.pop("RAG_UI_HOST", None)
    url = f"http://127.0.0.1:{port}"
    log = home.parent / "serve.log"
    # No --host: the default is what is tested.
    args = [sys.executable, "-m", "rag.cli", "serve", "--port", str(port)]
    try:
        with running(args, url, log, env):
            yield Page(url, port, log, llm, home)
    finally:
        llm.stop()


def logged_in(page: Page) -> httpx.Client:
    client = httpx.Client(base_url=page.url, timeout=30)
    r = client.post("/login", data={"username": USER, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return client


def _listening(port: int) -> set[str]:
    """Local addresses (hex, as the kernel lists them) of sockets listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def _outward_address() -> str | None:
    """An address of this machine other than loopback, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            address = str(s.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_the_page_listens_on_loopback_only_by_default(page: Page) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux's /proc/net/tcp")
    assert _listening(page.port) == {"0100007F"}  # 127.0.0.1, and nothing else
    outward = _outward_address()
    if outward is not None:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://{outward}:{page.port}/", timeout=5)


def test_a_configured_login_is_required(page: Page) -> None:
    from gradio_client import Client

    for path in ("/config", "/gradio_api/info"):
        assert httpx.get(page.url + path, timeout=30).status_code == 401
    upload = httpx.post(page.url + "/gradio_api/upload", files={"files": ("a.txt", b"x")})
    assert upload.status_code == 401
    wrong = httpx.post(page.url + "/login", data={"username": USER, "password": "guess"})
    assert wrong.status_code == 400
    with pytest.raises(Exception, match=r"(?i)auth|login|401"):
        Client(page.url, verbose=False)
    client = Client(page.url, auth=(USER, PASSWORD), verbose=False)
    history, *_ = client.predict(
        "Who did Gina Raimondo meet in Beijing?", [], "extractive", 5, "", "", [], api_name="/ask"
    )
    assert "Wang Wentao" in str(history[-1])


def test_uploads_over_the_size_limit_or_of_unread_types_are_refused(
    page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from .test_page import CHROMIUM, SHOTS

    client = logged_in(page)
    big = client.post("/gradio_api/upload", files={"files": ("big.txt", b"x" * 100_000)})
    assert big.status_code == 413 and str(UPLOAD_LIMIT) in big.text
    fits = client.post("/gradio_api/upload", files={"files": ("ok.txt", b"x" * 1_000)})
    assert fits.status_code == 200

    before = {d.id for d in Assistant.open(home=str(page.home)).documents()}
    exe = tmp_path / "setup.exe"
    exe.write_bytes(b"MZ\x90\x00" + b"\x00" * 200)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        tab = browser.new_page()
        tab.set_default_timeout(60_000)
        tab.goto(page.url)
        tab.fill("input[name=username], input[type=text]", USER)
        tab.fill("input[type=password]", PASSWORD)
        tab.keyboard.press("Enter")
        tab.get_by_role("tab", name="Library").click()
        # The file picker offers only the types read; a script can still send another.
        accept = tab.get_attribute("#upload input[type=file]", "accept") or ""
        assert ".pdf" in accept and ".exe" not in accept
        tab.set_input_files("#upload input[type=file]", str(exe))
        tab.wait_for_function("document.body.innerText.includes('Invalid file type: setup.exe')")
        tab.screenshot(path=str(SHOTS / "10-upload-type-refused.png"))
        tab.click("#add")
        tab.wait_for_function(
            "document.querySelector('#ingest-log').innerText.includes('Choose files')"
        )
        browser.close()
    assert {d.id for d in Assistant.open(home=str(page.home)).documents()} == before
    assert not (page.home / "uploads" / "setup.exe").exists()


def test_the_api_key_never_reaches_the_page_errors_or_logs(page: Page) -> None:
    from gradio_client import Client

    client = logged_in(page)
    for path in ("/", "/config", "/gradio_api/info"):
        assert SECRET not in client.get(path).text
    chat = Client(page.url, auth=(USER, PASSWORD), verbose=False)
    out: Any = chat.predict(
        "Who did Gina Raimondo meet in Beijing?", [], "llm", 5, "", "", [], api_name="/ask"
    )
    status = out[-1]
    assert "refused the API key" in status and SECRET not in str(out)
    # The key was really sent (and refused): the test would see it leak.
    sent = [r for r in page.llm.state.requests if r.get("messages")]
    assert sent, "the page never called the LLM server"
    assert SECRET not in page.log.read_text()


def test_the_upload_field_refuses_other_types_on_the_server_too(
    assistant: Assistant, tmp_path: Path
) -> None:
    """What a script that skips the page's own check meets: the component's server side."""
    import gradio as gr
    from gradio.data_classes import FileData, ListFiles

    from ui.app import build_app

    app = build_app(assistant)
    (upload,) = [b for b in app.blocks.values() if isinstance(b, gr.File) and b.elem_id == "upload"]
    exe = tmp_path / "setup.exe"
    exe.write_bytes(b"MZ\x90\x00")
    with pytest.raises(gr.Error, match="Invalid file type"):
        upload.preprocess(ListFiles(root=[FileData(path=str(exe), orig_name="setup.exe")]))
    text = tmp_path / "note.txt"
    text.write_text("A note.", "utf-8")
    kept = upload.preprocess(ListFiles(root=[FileData(path=str(text), orig_name="note.txt")]))
    assert kept == [str(text)]


def test_the_http_api_asks_for_the_same_login(page: Page) -> None:
    question = {"question": "Who did Gina Raimondo meet in Beijing?"}
    assert httpx.post(f"{page.url}/api/ask", json=question, timeout=60).status_code == 401
    wrong = httpx.post(f"{page.url}/api/ask", json=question, auth=(USER, "nope"), timeout=60)
    assert wrong.status_code == 401
    assert httpx.get(f"{page.url}/api/articles", timeout=30).status_code == 401
    got = httpx.post(f"{page.url}/api/ask", json=question, auth=(USER, PASSWORD), timeout=60)
    assert got.status_code == 200, got.text
    answer = got.json()
    assert "Wang Wentao" in answer["text"]
    c = answer["citations"][0]
    listed = httpx.get(f"{page.url}/api/articles", auth=(USER, PASSWORD), timeout=30).json()
    assert c["article_id"] in {a["id"] for a in listed}
    assert c["end"] - c["start"] == len(c["quote"])
    bad = httpx.post(f"{page.url}/api/ask", json={"question": ""}, auth=(USER, PASSWORD))
    assert bad.status_code == 422
    # The OpenAI-compatible endpoint too.
    assert httpx.get(f"{page.url}/v1/models", timeout=30).status_code == 401
    models = httpx.get(f"{page.url}/v1/models", auth=(USER, PASSWORD), timeout=30)
    assert models.status_code == 200 and models.json()["data"][0]["id"] == "rag-news"


def test_the_api_takes_a_bearer_token_which_openai_clients_send_as_their_key(page: Page) -> None:
    from openai import AuthenticationError, OpenAI

    wrong = OpenAI(base_url=f"{page.url}/v1", api_key="not-the-token", max_retries=0)
    with pytest.raises(AuthenticationError):
        wrong.models.list()
    client = OpenAI(base_url=f"{page.url}/v1", api_key=TOKEN, max_retries=0)
    done = client.chat.completions.create(
        model="rag-news", messages=[{"role": "user", "content": "Who is Wang Wentao?"}]
    )
    assert "[1]" in (done.choices[0].message.content or "")
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{page.url}/api/articles", headers=bearer, timeout=30).status_code == 200
    refused = httpx.get(f"{page.url}/api/articles", timeout=30)
    assert refused.status_code == 401 and "RAG_API_TOKEN" in refused.json()["detail"]


def test_api_uploads_keep_the_pages_limits_and_the_url_guard(page: Page) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    note = "Harbour reopens\n\nThe harbour of Port Elling reopened on Tuesday, officials said.\n"
    files = [
        ("files", ("port-elling.txt", note.encode(), "text/plain")),
        ("files", ("big.txt", b"word " * (UPLOAD_LIMIT // 5 + 10), "text/plain")),
        ("files", ("tool.exe", b"MZ\x90\x00", "application/octet-stream")),
        (
            "files",
            (
                "../../escape.md",
                b"# Escape\n\nA file that names a folder above.\n",
                "text/markdown",
            ),
        ),
    ]
    data = {"urls": [f"http://127.0.0.1:{page.port}/", "http://169.254.169.254/latest/meta-data/"]}
    assert httpx.post(f"{page.url}/api/articles", files=files, data=data).status_code == 401
    got = httpx.post(
        f"{page.url}/api/articles", files=files, data=data, headers=bearer, timeout=120
    )
    assert got.status_code == 200, got.text
    report = got.json()
    assert len(report["added"]) == 2
    failed = {f["source"]: f["reason"] for f in report["failed"]}
    assert "larger than" in failed["big.txt"] and "file type" in failed["tool.exe"]
    assert all("private" in failed[u] for u in data["urls"]), failed
    assert len(failed) == 4
    uploads = page.home / "uploads"
    kept = [p for p in uploads.rglob("*") if p.is_file()]
    assert {"port-elling.txt", "escape.md"} <= {p.name for p in kept}
    assert all(p.parent.parent == uploads for p in kept)
    assert not (page.home.parent / "escape.md").exists() and "big.txt" not in {p.name for p in kept}
    asked = httpx.post(
        f"{page.url}/api/ask",
        json={"question": "When did the harbour of Port Elling reopen?"},
        headers=bearer,
        timeout=60,
    ).json()
    assert "Tuesday" in asked["text"]
    for article_id in report["added"]:
        assert (
            httpx.delete(f"{page.url}/api/articles/{article_id}", headers=bearer).status_code == 200
        )
