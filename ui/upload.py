"""Articles added from the page: uploaded files are copied into the library's upload folder
under safe names (never outside it), pasted URLs are fetched, and the ingest step's report
becomes a short markdown log."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from rag.assistant import Assistant
from ui.render import md_text

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: The file types the page and the API take.
UPLOAD_TYPES = (".txt", ".md", ".html", ".htm", ".pdf", ".jsonl")
#: An upload may be this many times ``max_article_bytes`` (a PDF or HTML file is larger than
#: the text it holds; a JSONL file holds several articles).
UPLOAD_FACTOR = 4


def upload_limit(qa: Assistant) -> int:
    """The most bytes one uploaded file may have."""
    return qa.config.max_article_bytes * UPLOAD_FACTOR


def safe_name(name: str) -> str:
    """A file name with no folder part and no characters a shell or a path could misread."""
    base = Path(name.replace("\\", "/")).name
    cleaned = _UNSAFE.sub("_", base).lstrip(".") or "upload"
    stem, suffix = Path(cleaned).stem, Path(cleaned).suffix[:16]
    return stem[: 120 - len(suffix)] + suffix


class _GradioProgress:
    """The ingest step's progress, shown by Gradio's progress bar."""

    def __init__(self, bar: Any) -> None:
        self.bar, self.total, self.done = bar, 0, 0

    def start(self, total: int) -> None:
        self.total = total
        self.bar(0, desc="Adding articles")

    def advance(self, articles: int, chunks: int = 0) -> None:
        self.done += articles
        if self.total:
            self.bar(self.done / self.total, desc=f"{self.done}/{self.total} articles")

    def problem(self, line: str) -> None:
        pass

    def close(self) -> None:
        pass


def upload_folder(qa: Assistant) -> Path:
    folder = Path(qa.config.home) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ingest_uploads(qa: Assistant, uploaded: list[Any], pasted: str, bar: Any = None) -> str:
    """Ingest the uploaded files and pasted URLs; a markdown log of what happened."""
    folder = upload_folder(qa)
    sources: list[str | Path] = []
    for item in uploaded:
        path = Path(getattr(item, "name", None) or str(item))
        original = getattr(item, "orig_name", None) or path.name
        target = folder / safe_name(original)
        # Copied aside, then moved into place whole (an API upload may use the same name).
        aside = folder / f".upload-{uuid.uuid4().hex}"
        shutil.copyfile(path, aside)
        os.replace(aside, target)
        sources.append(target)
    urls = [u.strip() for u in pasted.splitlines() if u.strip()]
    sources.extend(urls)
    if not sources:
        return "Choose files to upload or paste URLs first."
    progress = _GradioProgress(bar) if bar is not None else None
    report = qa.ingest(*sources, progress=progress)
    lines = [f"**{md_text(report.summary())}**"]
    lines += [
        f"- ⚠️ {md_text(Path(str(f.source)).name)}: {md_text(f.reason)}" for f in report.failed
    ]
    return "\n".join(lines)
