"""What the server takes in over the network, for the page and the HTTP API alike: uploaded
files, copied into the library's upload folder under safe names (never outside it), and web
addresses (http and https only: a path typed into a URL box is refused without looking at the
server's disk). The ingest report that comes back names uploads by the names they were sent
with, never by where the server keeps them.

An upload is kept as ``uploads/<hash of its bytes>/<safe name>``: two different files with the
same name are two articles, the same file sent twice is one (unchanged the second time), and an
upload that fails is removed again."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from rag.assistant import Assistant
from rag.ingest_report import IngestReport, LoadError, Progress
from ui.render import md_text

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: The file types the page and the API take.
UPLOAD_TYPES = (".txt", ".md", ".html", ".htm", ".pdf", ".jsonl")
#: An upload may be this many times ``max_article_bytes`` (a PDF or HTML file is larger than
#: the text it holds; a JSONL file holds several articles).
UPLOAD_FACTOR = 4
#: Hex digits of an upload's SHA-256 in the name of its folder: 48 bits keep two different
#: files of one library apart.
HASH_DIGITS = 12
#: Bytes read at a time from an upload (its size is checked as it is read).
READ = 1 << 20
WEB_ONLY = "not a web address: the server takes http(s) URLs only"


def upload_limit(qa: Assistant) -> int:
    """The most bytes one uploaded file may have."""
    return qa.config.max_article_bytes * UPLOAD_FACTOR


def safe_name(name: str) -> str:
    """A file name with no folder part and no characters a shell or a path could misread;
    its extension kept ("..txt" is "upload.txt", not "txt")."""
    base = _UNSAFE.sub("_", Path(name.replace("\\", "/")).name)
    suffix = Path(base).suffix if Path(base).suffix != base else ""
    if not suffix and base.startswith(".") and "." not in base[1:]:
        suffix = base  # ".txt": only an extension
    stem = base[: len(base) - len(suffix)].strip(".") or "upload"
    suffix = suffix[:16]
    return stem[: 120 - len(suffix)] + suffix


def upload_folder(qa: Assistant) -> Path:
    folder = Path(qa.config.home) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Intake:
    """What one request brings in: uploads saved (their paths, with the names they were
    sent with), web addresses, and what was refused before any ingest."""

    saved: dict[Path, str] = field(default_factory=dict)
    urls: list[str] = field(default_factory=list)
    refused: list[LoadError] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.saved or self.urls or self.refused)

    def take_urls(self, lines: Iterable[str]) -> None:
        """The http(s) addresses among ``lines``; anything else is refused as it is, without
        a look at the server's files (so no reply tells whether a path exists)."""
        for line in (x.strip() for x in lines):
            if not line:
                continue
            if line.lower().startswith(("http://", "https://")):
                self.urls.append(line)
            else:
                self.refused.append(LoadError(line, WEB_ONLY))

    def take_file(self, folder: Path, name: str, data: IO[bytes], limit: int) -> None:
        """Save one upload of an accepted type and size into ``folder``; else refuse it."""
        name = name or "upload"
        if Path(name).suffix.lower() not in UPLOAD_TYPES:
            reason = f"not a file type the library takes ({', '.join(UPLOAD_TYPES)})"
            self.refused.append(LoadError(name, reason))
            return
        saved = _save(folder, safe_name(name), _pieces(data), limit)
        if saved is None:
            self.refused.append(LoadError(name, f"larger than {limit // 1_000_000} MB"))
        else:
            self.saved[saved] = name

    def ingest(self, qa: Assistant, progress: Progress | None = None) -> IngestReport:
        """Ingest what was taken in; failures name the uploads as they were sent, and a
        saved upload that failed is removed."""
        sources: list[str | Path] = [*self.saved, *self.urls]
        report = qa.ingest(*sources, progress=progress) if sources else IngestReport()
        by_path = {str(path): name for path, name in self.saved.items()}
        failed = []
        for error in report.failed:
            name = by_path.get(str(error.source))
            if name is not None:
                _discard(Path(error.source))
                error = LoadError(name, error.reason)
            failed.append(error)
        return replace(report, failed=[*self.refused, *failed])


def _pieces(data: IO[bytes]) -> Iterator[bytes]:
    while piece := data.read(READ):
        yield piece


def _save(folder: Path, name: str, pieces: Iterable[bytes], limit: int) -> Path | None:
    """Write the pieces aside, then move them whole to ``folder/<hash>/<name>``; None when
    they are over ``limit`` bytes (nothing is left behind)."""
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False) as out:
        for piece in pieces:
            size += len(piece)
            if size > limit:
                break
            digest.update(piece)
            out.write(piece)
    if size > limit:
        Path(out.name).unlink(missing_ok=True)
        return None
    target = folder / digest.hexdigest()[:HASH_DIGITS] / name
    target.parent.mkdir(exist_ok=True)
    os.replace(out.name, target)
    return target


def _discard(path: Path) -> None:
    """Remove a failed upload and its folder when that is left empty."""
    path.unlink(missing_ok=True)
    # The folder stays while another name holds the same bytes.
    with contextlib.suppress(OSError):
        path.parent.rmdir()


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


def ingest_uploads(qa: Assistant, uploaded: list[Any], pasted: str, bar: Any = None) -> str:
    """Ingest the files uploaded on the page and the URLs pasted there; a markdown log."""
    folder, limit = upload_folder(qa), upload_limit(qa)
    intake = Intake()
    for item in uploaded:
        path = Path(getattr(item, "name", None) or str(item))
        with path.open("rb") as data:
            intake.take_file(folder, getattr(item, "orig_name", None) or path.name, data, limit)
    intake.take_urls(pasted.splitlines())
    if not intake:
        return "Choose files to upload or paste URLs first."
    report = intake.ingest(qa, _GradioProgress(bar) if bar is not None else None)
    lines = [f"**{md_text(report.summary())}**"]
    lines += [f"- ⚠️ {md_text(str(f.source))}: {md_text(f.reason)}" for f in report.failed]
    return "\n".join(lines)
