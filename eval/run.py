"""``rag eval``: ingest a dataset's corpus into a fresh temporary library, ask every item
(each conversation in one chat), score the answers, and report."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from eval.dataset import Dataset
from eval.score import TurnResult, report_groups, score_turn
from rag.assistant import Assistant
from rag.config import Config
from rag.records import ArticleInfo


@dataclass
class EvalRun:
    dataset: str
    mode: str
    k: int
    corpus: str
    articles: int
    chunks: int
    results: list[TurnResult]

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        return report_groups(self.results, self.k)


def article_names(info: ArticleInfo) -> set[str]:
    """Every name a dataset may use for an article: stored id, JSONL id, file name or stem,
    URL."""
    names = {info.id, info.key}
    if "#" in info.key:
        names.add(info.key.rsplit("#", 1)[1])
    path = Path(info.origin.split(":", 1)[0] if info.origin.count(":") == 1 else info.origin)
    names.update({path.name, path.stem})
    if info.url:
        names.add(info.url)
    return {n for n in names if n}


def gold_matcher(qa: Assistant) -> Callable[[str, str], bool]:
    names = {d.id: article_names(d) for d in qa.documents()}
    return lambda article_id, source: source in names.get(article_id, ())


def run_eval(
    data: Dataset,
    mode: str = "extractive",
    k: int = 5,
    config: Config | None = None,
    progress: TextIO | None = sys.stderr,
) -> EvalRun:
    """Run every item of ``data`` against a fresh library of its corpus."""
    from tqdm import tqdm

    base = config or Config.from_env()
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as home:
        qa = Assistant.open(base.with_(home=Path(home), chroma_url=None, collection="eval"))
        report = qa.ingest(data.corpus)
        if not report.added:
            raise ValueError(f"nothing was ingested from {data.corpus}: {report.summary()}")
        if progress is not None:
            print(f"corpus: {report.summary()}", file=progress)
        is_gold = gold_matcher(qa)
        results: list[TurnResult] = []
        bar = tqdm(
            total=data.turns,
            unit="turn",
            file=progress,
            disable=progress is None,
            desc=f"{data.name} ({mode})",
            # In a log (CI) a line every ten seconds is enough.
            mininterval=0.1 if progress is not None and progress.isatty() else 10.0,
        )
        with bar:
            for item in data.items:
                chat = qa.chat(mode=mode, k=k)
                for number, turn in enumerate(item.turns, start=1):
                    began = time.perf_counter()
                    answer = chat.ask(turn.question)
                    seconds = time.perf_counter() - began
                    results.append(
                        score_turn(item.id, number, item.kind, turn, answer, seconds, is_gold)
                    )
                    bar.update(1)
        docs = qa.documents()
        return EvalRun(
            dataset=data.name,
            mode=mode,
            k=k,
            corpus=str(data.corpus),
            articles=len(docs),
            chunks=sum(d.chunks for d in docs),
            results=results,
        )
