"""Every kind of failure shows on the page as one line under the chat, and the next question
works: a bad input, and a store that goes away (a real ``chroma run`` stopped under a running
``rag serve``, then started again). The LLM and empty-library cases are in test_page.py."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from rag.assistant import Assistant
from rag.config import Config

from .conftest import SAMPLES, free_port, running
from .test_page import SHOTS, ask, ask_failing, browser_page

pytestmark = pytest.mark.slow


def chroma(port: int, data: Path) -> Any:
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    args = [exe, "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)]
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    url = f"http://127.0.0.1:{port}"
    return running(args, f"{url}/api/v2/heartbeat", data / "chroma.log", env, timeout=60)


def test_each_failure_is_one_line_and_the_next_question_works(
    tmp_path: Path, embedder: object
) -> None:
    port, chroma_port = free_port(), free_port()
    chroma_url = f"http://127.0.0.1:{chroma_port}"
    stopped = chroma(chroma_port, tmp_path)
    stopped.__enter__()
    try:
        assert (
            Assistant.open(Config.from_env(home=tmp_path / "lib", chroma_url=chroma_url))
            .ingest(SAMPLES)
            .ok
        )
        env = dict(
            os.environ, RAG_HOME=str(tmp_path / "lib"), RAG_CHROMA_URL=chroma_url,
            GRADIO_ANALYTICS_ENABLED="False",
        )  # fmt: skip
        args = [sys.executable, "-m", "rag.cli", "serve", "--no-watch", "--port", str(port)]
        url = f"http://127.0.0.1:{port}"
        with running(args, url, tmp_path / "serve.log", env), browser_page(url) as page:
            assert "Wang Wentao" in ask(page, "Who did Gina Raimondo meet in Beijing?")

            # Bad input: a date that is not one.
            page.get_by_text("Settings").click()
            page.fill("#date-from textarea", "2023-13-45")
            line = ask_failing(page, "Who did Gina Raimondo meet in Beijing?")
            assert "not a date" in line and "\n" not in line.strip()
            page.fill("#date-from textarea", "")
            assert "27" in ask(page, "How many Chinese companies were removed?")
            assert page.inner_text("#status").strip() == ""

            # The store goes away, then comes back.
            stopped.__exit__(None, None, None)
            line = ask_failing(page, "What did Jake Sullivan call export controls?")
            assert "store" in line and "\n" not in line.strip()
            question = "What did Jake Sullivan call export controls?"
            assert page.input_value("#question textarea") == question
            page.screenshot(path=str(SHOTS / "10-store-down.png"))
            stopped = chroma(chroma_port, tmp_path)
            stopped.__enter__()
            answer = ask(page, "What did Jake Sullivan call export controls?")
            assert "strategic asset" in answer
            assert page.inner_text("#status").strip() == ""
    finally:
        stopped.__exit__(None, None, None)
