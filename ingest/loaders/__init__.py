"""Loaders per format, and the dispatch from a path, folder or URL to them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders.base import LoadError
from ingest.loaders.html import load_html_file
from ingest.loaders.jsonl import count_lines, iter_jsonl
from ingest.loaders.pdf import load_pdf_file
from ingest.loaders.text import load_text_file
from ingest.loaders.web import load_url
from rag.records import Article

__all__ = ["LoadError", "Source", "expand", "load"]

FILE_LOADERS: dict[str, Callable[[Path, int], Article]] = {
    ".txt": load_text_file,
    ".md": load_text_file,
    ".markdown": load_text_file,
    ".html": load_html_file,
    ".htm": load_html_file,
    ".pdf": load_pdf_file,
}
SUPPORTED = (*FILE_LOADERS, ".jsonl")


@dataclass(frozen=True)
class Source:
    """One input to load: a file or a URL; ``in_folder`` when found by walking a folder."""

    ref: str
    in_folder: bool = False

    @property
    def is_url(self) -> bool:
        return self.ref.startswith(("http://", "https://"))

    @property
    def suffix(self) -> str:
        return Path(self.ref).suffix.lower()

    def estimate(self) -> int:
        """How many articles it will likely give, for a progress total."""
        return count_lines(Path(self.ref)) if self.suffix == ".jsonl" else 1


def expand(refs: Iterable[str | Path]) -> Iterator[Source | LoadError]:
    """Files and URLs to load, walking folders (hidden entries skipped, sorted)."""
    for ref in refs:
        text = str(ref)
        if text.startswith(("http://", "https://")):
            yield Source(text)
            continue
        if "://" in text:
            yield LoadError(text, "unsupported URL scheme (only http and https)")
            continue
        path = Path(text)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path).parts
                if child.is_file() and not any(p.startswith(".") for p in rel):
                    yield Source(str(child), in_folder=True)
        elif path.exists():
            yield Source(text)
        else:
            yield LoadError(text, "no such file or folder")


def load(
    source: Source, limit: int, timeout: float, allow_private: bool = False
) -> Iterator[Article | LoadError]:
    """The articles of one source, or the errors that stop them. URLs on private or
    loopback addresses are refused unless ``allow_private``."""
    try:
        if source.is_url:
            yield load_url(source.ref, limit, timeout, allow_private)
        elif source.suffix == ".jsonl":
            yield from iter_jsonl(Path(source.ref), limit)
        elif source.suffix in FILE_LOADERS:
            yield FILE_LOADERS[source.suffix](Path(source.ref), limit)
        else:
            kind = f"'{source.suffix}'" if source.suffix else "without an extension"
            yield LoadError(
                source.ref, f"unsupported file type {kind} (supported: {' '.join(SUPPORTED)})"
            )
    except LoadError as exc:
        yield exc
    except Exception as exc:  # a loader bug must not sink the rest of the batch
        yield LoadError(source.ref, f"could not load: {type(exc).__name__}: {exc}")
