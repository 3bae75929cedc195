"""PDF articles, by pypdf."""

from __future__ import annotations

import io
from pathlib import Path

from ingest.loaders.base import LoadError, check_size, parse_date, read_file, title_from_text
from rag.records import Article

#: Images and fonts outweigh text; a PDF file may be this many times the text limit.
PDF_FACTOR = 10


def article_from_pdf(
    data: bytes, origin: str, limit: int, *, url: str = "", key: str = ""
) -> Article:
    """The text of every page of a PDF as one article."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data:
        raise LoadError(origin, "empty file")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise LoadError(origin, "encrypted PDF")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise LoadError(origin, f"not a readable PDF: {exc}") from None
    text = "\n\n".join(p for p in pages if p)
    if not text:
        raise LoadError(origin, "no extractable text in the PDF (scanned images?)")
    check_size(origin, text, limit)
    title = str(info.title).strip() if info is not None and info.title else ""
    created = info.get("/CreationDate") if info is not None else None
    published = ""
    if created:
        raw = str(created).removeprefix("D:")
        published = parse_date(f"{raw[0:4]}-{raw[4:6]}-{raw[6:8]}") if len(raw) >= 8 else ""
    return Article(
        title=title or title_from_text(text),
        text=text,
        origin=origin,
        url=url,
        published=published,
        source=str(info.get("/Author") or "").strip() if info is not None else "",
        key=key or url,
    )


def load_pdf_file(path: Path, limit: int) -> Article:
    return article_from_pdf(
        read_file(path, limit * PDF_FACTOR), str(path), limit, key=str(path.resolve())
    )
