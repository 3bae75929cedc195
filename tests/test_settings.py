"""One place for settings: the README's configuration table is made from ``rag.config``, a bad
value of any setting is one line and exit code 2 for every command, and importing the package
changes no environment variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.config import Config, settings_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_shows_every_setting_as_the_code_defines_it() -> None:
    assert settings_table() in README.read_text("utf-8")


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("RAG_UI_PORT", "abc", "RAG_UI_PORT must be an integer"),
        ("RAG_TOP_K", "0", "top_k must be between 1 and 100"),
        ("RAG_ANSWER_MODE", "poetry", "RAG_ANSWER_MODE (answer_mode) must be one of"),
        ("RAG_MAX_ARTICLE_MB", "lots", "RAG_MAX_ARTICLE_MB must be a number"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2_for_any_command(
    tmp_path: Path, variable: str, value: str, says: str
) -> None:
    env = {**os.environ, variable: value, "RAG_HOME": str(tmp_path / "lib")}
    for command in (["docs", "list"], ["ask", "anything"], ["model", "fetch", "qwen-0.5b"]):
        done = subprocess.run(
            [sys.executable, "-m", "rag.cli", *command], capture_output=True, text=True, env=env
        )
        assert done.returncode == 2, (command, done.stderr)
        assert done.stderr.strip().splitlines() == [
            f"rag: error: {done.stderr.split(': ', 2)[2].strip()}"
        ]
        assert says in done.stderr and "Traceback" not in done.stderr


def test_importing_the_package_changes_no_environment_variable() -> None:
    code = (
        "import os; before = dict(os.environ); import rag; from rag import Assistant, Config; "
        "import rag.cli; print(sorted(set(os.environ.items()) ^ set(before.items())))"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "ANONYMIZED_TELEMETRY")
    }
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_every_setting_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("RAG_MAX_ARTICLE_MB", "0.5")
    monkeypatch.setenv("RAG_ALLOW_PRIVATE_URLS", "yes")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    config = Config.from_env()
    assert config.cors_origins == ("https://a.example", "https://b.example")
    assert config.max_article_bytes == 500_000 and config.allow_private_urls
    assert config.llm_base_url == "http://127.0.0.1:9/v1"
    assert "secret" not in repr(Config.from_env(api_token="secret", llm_api_key="secret"))
