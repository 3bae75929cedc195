"""Progress for long ingests: a bar on a terminal, plain lines in logs and CI."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from rag.ingest_report import Progress

__all__ = ["Progress", "SilentProgress", "progress_for"]


class SilentProgress:
    """Reports nothing; problems still reach the caller through the report."""

    def start(self, total: int) -> None:
        pass

    def advance(self, articles: int, chunks: int = 0) -> None:
        pass

    def problem(self, line: str) -> None:
        pass

    def close(self) -> None:
        pass


class BarProgress:
    """A tqdm bar of articles, with the chunk count beside it."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.bar: Any = None
        self.chunks = 0

    def start(self, total: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total or None, unit="article", file=self.stream, dynamic_ncols=True)

    def advance(self, articles: int, chunks: int = 0) -> None:
        self.chunks += chunks
        if self.bar is not None:
            self.bar.set_postfix(chunks=self.chunks, refresh=False)
            self.bar.update(articles)

    def problem(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(line, file=self.stream)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class LineProgress:
    """A plain line every ``every`` seconds, for output that is not a terminal."""

    def __init__(self, stream: TextIO = sys.stderr, every: float = 5.0) -> None:
        self.stream = stream
        self.every = every
        self.total = 0
        self.done = 0
        self.chunks = 0
        self.started = time.monotonic()
        self.last = self.started

    def start(self, total: int) -> None:
        self.total = total
        self.started = self.last = time.monotonic()

    def advance(self, articles: int, chunks: int = 0) -> None:
        self.done += articles
        self.chunks += chunks
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        total = f"/{self.total}" if self.total else ""
        print(
            f"ingest: {self.done}{total} articles, {self.chunks} chunks, "
            f"{now - self.started:.1f} s",
            file=self.stream,
            flush=True,
        )

    def problem(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        self._line(time.monotonic())


def progress_for(stream: TextIO = sys.stderr) -> Progress:
    """A bar when ``stream`` is a terminal, plain lines otherwise."""
    return BarProgress(stream) if stream.isatty() else LineProgress(stream)
