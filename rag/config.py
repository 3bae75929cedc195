"""Every setting, in one place: each field of ``Config`` says its default, its type, the
environment variable it is read from and what it means (``setting``). ``Config.from_env()``
reads them all; ``settings_table()`` is the README's configuration table, made from them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"
DEFAULT_LLM_MODEL = "gpt-4o-mini"
ANSWER_MODES = ("extractive", "llm")
#: ``auto`` runs the bundled model in ONNX Runtime (see README, Benchmarks)
#: and any other sentence-transformers model in torch.
EMBED_BACKENDS = ("auto", "torch", "onnx", "onnx-int8")


def _word(raw: str) -> str:
    return raw.strip().lower()


def _flag(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _megabytes(raw: str) -> int:
    return int(float(raw) * 1_000_000)


def _origins(raw: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in raw.split(",") if o.strip())


_KIND = {int: "an integer", float: "a number", _megabytes: "a number (MB)"}


def setting(
    default: Any,
    env: str | Sequence[str],
    meaning: str,
    parse: Callable[[str], Any] | None = None,
    choices: Sequence[str] = (),
    shown: str | None = None,
    secret: bool = False,
) -> Any:
    """A field of ``Config``: its default, the environment variable(s) it is read from (the
    first set wins), what it means, how its text is read, the values it may take, its default
    as the table shows it (when not the default itself), and whether it is a secret (never in
    a repr)."""
    names = (env,) if isinstance(env, str) else tuple(env)
    meta = {"env": names, "meaning": meaning, "parse": parse, "choices": tuple(choices),
            "shown": shown}  # fmt: skip
    return field(default=default, metadata=meta, repr=not secret)


#: What LLM mode says when it has no model to talk to.
LLM_NEEDS_A_MODEL = (
    "LLM mode needs a model: set RAG_LLM_GGUF to a local GGUF file, OPENAI_API_KEY for OpenAI, "
    "or RAG_LLM_BASE_URL for another OpenAI-compatible server"
)


@dataclass(frozen=True)
class Config:
    """The settings of a library, its answers and its page.

    ``Config.from_env(field=value)`` reads every setting from its environment variable, then
    applies the overrides."""

    home: Path = setting(Path(".rag"), "RAG_HOME", "folder of the embedded Chroma store", Path)
    chroma_url: str | None = setting(
        None,
        "RAG_CHROMA_URL",
        "`http://host:port` of a Chroma server (`chroma run`); unset: the embedded store; the "
        "same code path",
    )
    collection: str = setting("articles", "RAG_COLLECTION", "collection name")
    embed_model: str = setting(
        DEFAULT_EMBED_MODEL,
        "RAG_EMBED_MODEL",
        "the bundled model, any sentence-transformers name or folder, or `openai:<model>`",
    )
    embed_backend: str = setting(
        "auto",
        "RAG_EMBED_BACKEND",
        "how the bundled model runs: `auto` (`onnx` for the bundled model, torch for any "
        "other), `onnx`, `onnx-int8` or `torch`",
        _word,
        EMBED_BACKENDS,
    )
    embed_batch: int = setting(32, "RAG_EMBED_BATCH", "texts per model call", int)
    chunk_tokens: int = setting(96, "RAG_CHUNK_TOKENS", "most word pieces in a chunk", int)
    chunk_overlap: int = setting(
        24, "RAG_CHUNK_OVERLAP", "word pieces of trailing sentences repeated in the next chunk", int
    )
    max_article_bytes: int = setting(
        5_000_000,
        "RAG_MAX_ARTICLE_MB",
        "largest article text accepted, in MB of UTF-8 (an upload may be 4 times it)",
        _megabytes,
        shown="5",
    )
    fetch_timeout: float = setting(20.0, "RAG_FETCH_TIMEOUT", "seconds to wait for a URL", float)
    allow_private_urls: bool = setting(
        False,
        "RAG_ALLOW_PRIVATE_URLS",
        "fetch URLs on loopback, private and link-local addresses (checked at every "
        "connection); off, so a pasted URL cannot reach this machine's services, the LAN or a "
        "cloud metadata endpoint",
        _flag,
        shown="off",
    )
    watch_interval: float = setting(
        300.0,
        "RAG_WATCH_INTERVAL",
        "seconds between polls of each followed feed or folder (`rag watch`, `rag serve`)",
        float,
    )
    top_k: int = setting(5, "RAG_TOP_K", "passages retrieved per question", int)
    answer_mode: str = setting(
        "extractive", "RAG_ANSWER_MODE", "`extractive` or `llm`", _word, ANSWER_MODES
    )
    llm_base_url: str | None = setting(
        None,
        ("RAG_LLM_BASE_URL", "OPENAI_BASE_URL"),
        "an OpenAI-compatible endpoint, e.g. `http://127.0.0.1:8080/v1`; unset: OpenAI",
    )
    llm_gguf: Path | None = setting(
        None,
        "RAG_LLM_GGUF",
        "a GGUF chat model file run in the process by xllamacpp (`--gguf PATH`); takes the "
        "place of an endpoint",
        Path,
    )
    llm_model: str = setting(DEFAULT_LLM_MODEL, "RAG_LLM_MODEL", "chat model name")
    llm_api_key: str | None = setting(
        None, "OPENAI_API_KEY", "API key of the endpoint; never shown", secret=True
    )
    llm_timeout: float = setting(
        60.0,
        "RAG_LLM_TIMEOUT",
        "seconds to wait for the model (and between streamed pieces)",
        float,
    )
    llm_retries: int = setting(
        2, "RAG_LLM_RETRIES", "retries after a refused connection, a timeout, 429 or 5xx", int
    )
    llm_unsupported: str = setting(
        "drop",
        "RAG_LLM_UNSUPPORTED",
        "sentences of a model's reply that no passage supports: `drop` them, or `show` them "
        'apart as "not found in the articles" (never as the answer)',
        _word,
        ("drop", "show"),
    )
    cache_dir: Path | None = setting(
        None,
        "RAG_CACHE_DIR",
        "where the ONNX export of the bundled model (made once, in about 15 s) and fetched "
        "local models are kept",
        Path,
        shown="`~/.cache/rag-news`",
    )
    ui_host: str = setting("127.0.0.1", "RAG_UI_HOST", "address `rag serve` listens on")
    ui_port: int = setting(7860, "RAG_UI_PORT", "port `rag serve` listens on", int)
    ui_user: str | None = setting(None, "RAG_UI_USER", "the page's login name (with the password)")
    ui_password: str | None = setting(
        None, "RAG_UI_PASSWORD", "the page's login password", secret=True
    )
    api_token: str | None = setting(
        None,
        "RAG_API_TOKEN",
        "a bearer token the HTTP API (`/api`, `/v1`) takes, beside the page's login",
        secret=True,
    )
    cors_origins: tuple[str, ...] = setting(
        (),
        "RAG_CORS_ORIGINS",
        "comma-separated origins (`https://app.example`) whose pages may call the API; no "
        "other site may",
        _origins,
    )

    @classmethod
    def from_env(cls, **overrides: Any) -> Config:
        """Every setting from its environment variable, then the keyword overrides (a value of
        None leaves the setting as the environment gives it)."""
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        values = {f.name: _from_environment(f) for f in fields(cls)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("home", "llm_gguf", "cache_dir"):
            if isinstance(values[name], str):
                values[name] = Path(values[name])
        config = cls(**values)
        config.validate()
        return config

    @property
    def llm_configured(self) -> bool:
        """Whether an LLM is set: an API key, a base URL of a server, or a local GGUF file."""
        return bool(self.llm_api_key or self.llm_base_url or self.llm_gguf)

    @property
    def login(self) -> tuple[str, str] | None:
        """The page's login, when both its name and password are set."""
        return (self.ui_user, self.ui_password) if self.ui_user and self.ui_password else None

    def with_(self, **changes: Any) -> Config:
        """A copy with some fields changed (``home`` may be given as a string)."""
        if isinstance(changes.get("home"), str):
            changes["home"] = Path(changes["home"])
        return replace(self, **changes)

    def validate(self, llm_given: bool = False) -> None:
        """Raise ValueError naming the first setting that cannot work (``llm_given``: LLM
        mode has a model of the caller's, and needs no endpoint)."""
        for f in fields(self):
            allowed = f.metadata.get("choices")
            if allowed and getattr(self, f.name) not in allowed:
                raise ValueError(
                    f"{f.metadata['env'][0]} ({f.name}) must be one of {', '.join(allowed)}, "
                    f"got {getattr(self, f.name)!r}"
                )
        for problem in self._problems(llm_given):
            raise ValueError(problem)

    def _problems(self, llm_given: bool) -> list[str]:
        """What cannot work together, each in one line."""
        bounds = [
            (3 <= len(self.collection) <= 512, "collection name must have 3 to 512 characters"),
            (self.chunk_tokens >= 16, "chunk_tokens must be at least 16"),
            (0 <= self.chunk_overlap < self.chunk_tokens,
             "chunk_overlap must be at least 0 and below chunk_tokens"),
            (self.embed_batch >= 1, "embed_batch must be at least 1"),
            (self.max_article_bytes >= 1, "max_article_bytes must be positive"),
            (self.watch_interval > 0, "watch_interval must be positive"),
            (1 <= self.top_k <= 100, "top_k must be between 1 and 100"),
            (self.llm_timeout > 0 and self.llm_retries >= 0,
             "llm_timeout must be positive and llm_retries at least 0"),
            (1 <= self.ui_port <= 65535, f"RAG_UI_PORT must be a port (1 to 65535), got "
             f"{self.ui_port}"),
            (bool(self.ui_user) == bool(self.ui_password),
             "set both RAG_UI_USER and RAG_UI_PASSWORD for a login, or neither"),
        ]  # fmt: skip
        out = [message for ok, message in bounds if not ok]
        if self.embed_backend.startswith("onnx") and self.embed_model != DEFAULT_EMBED_MODEL:
            out.append(
                f"the {self.embed_backend} backend runs only the bundled {DEFAULT_EMBED_MODEL}; "
                "use RAG_EMBED_BACKEND=torch or auto for other models"
            )
        if self.answer_mode == "llm" and not self.llm_configured and not llm_given:
            out.append(LLM_NEEDS_A_MODEL)
        if self.llm_gguf is not None and not self.llm_gguf.is_file():
            out.append(f"no GGUF model file at {self.llm_gguf} (RAG_LLM_GGUF / --gguf)")
        for name, url in (("RAG_LLM_BASE_URL", self.llm_base_url),
                          ("RAG_CHROMA_URL", self.chroma_url)):  # fmt: skip
            if url is not None and not url.startswith(("http://", "https://")):
                out.append(f"{name} must start with http:// or https://: {url}")
        return out


def _from_environment(f: Field[Any]) -> Any:
    """The value of setting ``f``: from the first of its variables that is set, else its
    default."""
    default = f.default if f.default is not MISSING else None
    for name in f.metadata["env"]:
        raw = os.environ.get(name)
        if raw is None or raw.strip() == "":
            continue
        parse = f.metadata["parse"]
        if parse is None:
            return raw
        try:
            return parse(raw)
        except ValueError:
            kind = _KIND.get(parse, "valid")
            raise ValueError(f"{name} must be {kind}, got {raw!r}") from None
    return default


def default_cache_dir(config: Config | None = None) -> Path:
    """``RAG_CACHE_DIR``, else ``$XDG_CACHE_HOME/rag-news``, else ``~/.cache/rag-news``."""
    if config is not None:
        chosen = config.cache_dir
    else:
        [cache] = [f for f in fields(Config) if f.name == "cache_dir"]
        chosen = _from_environment(cache)
    if chosen is not None:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-news"


def settings_table() -> str:
    """The README's configuration table: every setting, its variable, default and meaning."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for f in fields(Config):
        shown = f.metadata.get("shown")
        if shown is None:
            value = f.default
            shown = "unset" if value in (None, ()) else f"`{value}`"
        names = " or ".join(f"`{n}`" for n in f.metadata["env"])
        lines.append(f"| {names} | {shown} | {f.metadata['meaning']} |")
    return "\n".join(lines)
