"""JSON Lines: one article per line, streamed so that a large file stays in bounded memory.

Field names follow what news datasets use: ``title``/``headline``, ``text``/``body``/``content``,
``url``/``link``, ``published_at``/``date``/``published``, ``source``/``publisher`` (a string or
an object with a ``name``), and an optional ``id``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.loaders.base import LoadError, decode_text, mb, parse_date, title_from_text
from rag.records import Article

TITLE_FIELDS = ("title", "headline", "name")
TEXT_FIELDS = ("text", "body", "content", "article", "maintext", "description")
URL_FIELDS = ("url", "link", "href")
DATE_FIELDS = ("published_at", "publishedAt", "date", "published", "date_publish", "pubDate")
SOURCE_FIELDS = ("source", "publisher", "source_domain", "site_name", "outlet")
READ_STEP = 1 << 20


def _first(record: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = record.get(name)
        if value not in (None, ""):
            return value
    return None


def _source_name(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("name") or value.get("id") or ""
    return str(value or "").strip()


def article_from_record(record: Any, origin: str, key_base: str, line: int) -> Article:
    """One JSON object as an article."""
    if not isinstance(record, dict):
        raise LoadError(origin, "not a JSON object")
    text = _first(record, TEXT_FIELDS)
    if not isinstance(text, str) or not text.strip():
        raise LoadError(origin, f"no article text (expected one of: {', '.join(TEXT_FIELDS)})")
    text = text.strip()
    url = str(_first(record, URL_FIELDS) or "").strip()
    rid = record.get("id")
    key = url or (f"{key_base}#{rid}" if rid not in (None, "") else f"{key_base}#L{line}")
    title = _first(record, TITLE_FIELDS)
    return Article(
        title=str(title).strip() if title else title_from_text(text),
        text=text,
        origin=origin,
        url=url,
        published=parse_date(_first(record, DATE_FIELDS)),
        source=_source_name(_first(record, SOURCE_FIELDS)),
        key=key,
    )


def _lines(path: Path, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes), or None for a line over ``limit`` bytes, read in bounded pieces."""
    with path.open("rb") as handle:
        number = 0
        while True:
            line = handle.readline(limit + 2)
            if not line:
                return
            number += 1
            if len(line) > limit + 1 and not line.endswith(b"\n"):
                while True:  # skip the rest of an oversized line without holding it
                    rest = handle.readline(READ_STEP)
                    if not rest or rest.endswith(b"\n"):
                        break
                yield number, None
                continue
            yield number, line


def iter_jsonl(path: Path, limit: int) -> Iterator[Article | LoadError]:
    """Every line of a JSONL file as an article, or the error that line has."""
    key_base = str(path.resolve())
    try:
        if path.stat().st_size == 0:
            yield LoadError(str(path), "empty file")
            return
        seen_any = False
        for number, raw in _lines(path, limit):
            origin = f"{path}:{number}"
            if raw is None:
                seen_any = True
                yield LoadError(origin, f"line over the {mb(limit)} limit (RAG_MAX_ARTICLE_MB)")
                continue
            if not raw.strip():
                continue
            seen_any = True
            try:
                record = json.loads(decode_text(origin, raw))
                yield article_from_record(record, origin, key_base, number)
            except LoadError as exc:
                yield exc
            except json.JSONDecodeError as exc:
                yield LoadError(origin, f"not valid JSON ({exc.msg} at column {exc.colno})")
        if not seen_any:
            yield LoadError(str(path), "no text (only blank lines)")
    except OSError as exc:
        yield LoadError(str(path), f"cannot read: {exc.strerror or exc}")


def count_lines(path: Path) -> int:
    """About how many lines, for a progress total; cheap next to embedding them."""
    count = 0
    try:
        with path.open("rb") as handle:
            for raw in iter(lambda: handle.read(READ_STEP), b""):
                count += raw.count(b"\n")
    except OSError:
        return 0
    return max(count, 1)
