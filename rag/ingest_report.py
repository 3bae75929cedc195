"""What an ingest gives back, and what rag needs to ask for one: the report, the error an
input that cannot become an article raises, the progress protocol, and the ingest function
that the ``ingest`` package provides (found through the ``rag.ingest`` entry point, so that
rag never imports ingest)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rag.config import Config
    from rag.embeddings import Embedder
    from rag.store import Store


class LoadError(Exception):
    """An input that cannot become an article; ``str()`` is the one line shown to the user."""

    def __init__(self, source: str, reason: str) -> None:
        # One line whatever a parser's message holds (YAML's spans several).
        reason = printable(" ".join(reason.split()))
        super().__init__(f"{printable(source)}: {reason}")
        self.source = source
        self.reason = reason


def printable(name: str) -> str:
    """``name`` with control and direction-changing characters escaped, so that a hostile
    file name can neither break a log line nor reverse what follows it."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in name)


class Progress(Protocol):
    """Where a long ingest reports how far it is."""

    def start(self, total: int) -> None: ...

    def advance(self, articles: int, chunks: int = 0) -> None: ...

    def problem(self, line: str) -> None: ...

    def close(self) -> None: ...


@dataclass
class IngestReport:
    """What an ingest did, article by article."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[LoadError] = field(default_factory=list)
    #: Files in walked folders whose type no loader reads.
    skipped: list[str] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0
    #: Part of ``seconds`` spent loading the embedding model and the sentence splitter.
    model_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        working = self.seconds - self.model_seconds
        rate = self.chunks / working if working > 0 else 0.0
        text = (
            f"{len(self.added)} added, {len(self.unchanged)} unchanged, "
            f"{len(self.replaced)} replaced, {len(self.failed)} failed; "
            f"{self.chunks} chunks in {self.seconds:.1f} s"
        )
        if self.model_seconds >= 0.1:
            text += f" ({self.model_seconds:.1f} s of it loading the models)"
        if self.chunks:
            text += f"; {rate:.1f} chunks/s"
        if self.skipped:
            text += f"; {len(self.skipped)} unsupported files skipped"
        return text


#: ``ingest(refs, store, embedder, config, progress) -> IngestReport``
IngestFunction = Callable[
    [Iterable["str | Path"], "Store", "Embedder", "Config", "Progress | None"], IngestReport
]


def ingest_function() -> IngestFunction:
    """The ingest pipeline, from the package that registers it (``rag.ingest`` entry point)."""
    found = entry_points(group="rag.ingest", name="pipeline")
    for entry in found:
        loaded: Any = entry.load()
        return loaded
    raise RuntimeError(
        "no ingest pipeline is installed (the rag.ingest entry point of rag-news): "
        "reinstall the package, e.g. pip install -e ."
    )
