"""What every loader shares: the error it raises, reading text files safely, titles, dates."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from pathlib import Path

from rag.ingest_report import LoadError, printable

__all__ = ["LoadError", "printable"]

BINARY_SNIFF = 8192
TITLE_CHARS = 100


def mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def too_large(source: str, size: int, limit: int, what: str = "text") -> LoadError:
    return LoadError(
        source,
        f"too large: {mb(size)} of {what}, over the {mb(limit)} limit (RAG_MAX_ARTICLE_MB)",
    )


def check_size(source: str, text: str, limit: int) -> None:
    """Refuse an article whose text is over ``limit`` bytes of UTF-8."""
    size = len(text.encode("utf-8"))
    if size > limit:
        raise too_large(source, size, limit)


def decode_text(source: str, data: bytes) -> str:
    """Bytes to text: refuse binary data and anything that is not UTF-8."""
    if not data.strip():
        raise LoadError(source, "empty file" if not data else "no text (only whitespace)")
    if b"\x00" in data[:BINARY_SNIFF]:
        raise LoadError(source, "binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise LoadError(
            source, f"not UTF-8 text (byte 0x{bad} at offset {exc.start}); save it as UTF-8"
        ) from None
    return text


def read_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, refusing a file over ``limit`` bytes before reading it."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise too_large(str(path), size, limit, "file")
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(str(path), f"cannot read: {exc.strerror or exc}") from None


def read_text(path: Path, limit: int) -> str:
    return decode_text(str(path), read_file(path, limit))


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s")


def shorten(text: str, limit: int = TITLE_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:-–") + "…"


def title_from_text(text: str) -> str:
    """A headline when the text opens with one, else its first sentence, shortened."""
    stripped = text.lstrip()
    first_line, _, rest = stripped.partition("\n")
    first_line = first_line.strip().lstrip("#").strip()
    looks_like_headline = (
        first_line
        and len(first_line) <= 200
        and not first_line.endswith((".", ":", ";", ","))
        and (rest.startswith("\n") or rest.strip() == "" or text.lstrip().startswith("#"))
    )
    if looks_like_headline:
        return shorten(first_line, 200)
    match = _SENTENCE_END.search(stripped)
    return shorten(stripped[: match.start()] if match else stripped)


def parse_date(value: object) -> str:
    """An ISO ``YYYY-MM-DD`` from the date forms news feeds use, or ``""``."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Epoch seconds, or milliseconds when implausibly large.
        seconds = value / 1000 if value > 1e11 else value
        try:
            return dt.datetime.fromtimestamp(seconds, dt.UTC).date().isoformat()
        except (OverflowError, OSError, ValueError):
            return ""
    text = str(value).strip()
    if not text:
        return ""
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    match = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", text)
    if match:
        try:
            return dt.date(*map(int, match.groups())).isoformat()
        except ValueError:
            return ""
    try:
        from dateutil import parser as dateparser

        return dateparser.parse(text).date().isoformat()
    except (ValueError, OverflowError, TypeError):
        return ""
