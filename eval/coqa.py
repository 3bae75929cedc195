"""Conversations over a CoQA-shaped dataset, each asked in one chat, scored turn by turn beside
plain dense retrieval on the raw question (measured in the same run).

For first turns and follow-up turns separately it reports CoQA's F1 of the short answer on
every turn type (free-form, yes, no, unknown; ``eval.answer_f1``), and on the free-form turns:
hit@5 of the right passage, how often a citation is from the conversation's article, how often
the answer contains an accepted answer, how often a citation overlaps the gold rationale span,
and why the other answers missed. The baseline answers with the sentence of its top-5 dense
passages that is nearest to the raw question by embedding, and cites it.

Run: ``python -m eval.coqa [--dataset DIR] [--home LIB] [--mode extractive|llm] [--limit N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eval.answer_f1 import best_f1, short_text
from eval.score import overlaps, states
from rag.answer import Answer
from rag.assistant import Assistant
from rag.config import Config
from rag.retrieve import Passage
from rag.support import sentences_of

DEFAULT_DATASET = Path(__file__).resolve().parents[1].parent / "shared/datasets/coqa-wikipedia"


#: Why a scored turn's answer holds no accepted answer, in the order they are checked.
MISSES = (
    ("refused", "refused"),
    ("not retrieved", "the conversation's article was not retrieved"),
    ("other article", "it was retrieved, but another article was cited"),
    (
        "other sentence",
        "right article cited, the answer was in a retrieved passage, another sentence picked",
    ),
    (
        "outside passages",
        "right article cited, the answer is in the article but not in the retrieved passages",
    ),
)


@dataclass
class Tally:
    """Counts for one kind of turn (only free-form turns are scored: an extractive answer
    cannot say yes or no)."""

    turns: int = 0
    hits: int = 0
    contains: int = 0
    on_story: int = 0
    cited: int = 0
    refused: int = 0
    misses: dict[str, int] = field(default_factory=lambda: {m: 0 for m, _ in MISSES})
    seconds: list[float] = field(default_factory=list)

    def add(self, hit: bool, contains: bool, on_story: bool, cited: bool, miss: str = "") -> None:
        self.turns += 1
        self.hits += hit
        self.contains += contains
        self.on_story += on_story
        self.cited += cited
        self.refused += miss == "refused"
        if miss:
            self.misses[miss] += 1

    def rates(self) -> tuple[float, float, float, float]:
        n = self.turns or 1
        return self.hits / n, self.on_story / n, self.contains / n, self.cited / n


def miss_reason(
    ans: Answer, on_story: Callable[[str], bool], span: Sequence[int] | None, accepted: list[str]
) -> str:
    """Why an answer that holds no accepted answer missed (see ``MISSES``)."""
    if ans.refused:
        return "refused"
    mine = [p for p in ans.passages if on_story(p.article_id)]
    if not mine:
        return "not retrieved"
    if not any(on_story(c.article_id) for c in ans.citations):
        return "other article"
    if any(overlaps(span, p.start, p.end) or states(p.text, accepted) for p in mine):
        return "other sentence"
    return "outside passages"


def _baseline(qa: Assistant, question: str) -> tuple[list[Passage], str, tuple[str, int, int]]:
    """Dense top 5 on the raw question; the sentence nearest to it by embedding."""
    passages = qa.retriever.search_dense(question, 5)
    sentences = sentences_of(passages)
    if not sentences:
        return passages, "", ("", 0, 0)
    cos = qa.scorer.cosine(question, [s.text for s in sentences])
    best = sentences[int(np.argmax(cos))]
    return passages, best.text, (best.passage.article_id, best.start, best.end)


def run(qa: Assistant, conversations: list[dict], mode: str, out: Path | None = None) -> str:
    story_of = {d.id: d.key.rsplit("#", 1)[-1] for d in qa.documents()}
    system = {"first": Tally(), "follow-up": Tally()}
    base = {"first": Tally(), "follow-up": Tally()}
    seconds: list[float] = []
    f1: dict[tuple[str, str], list[float]] = {}
    rows = []
    for number, conv in enumerate(conversations, start=1):
        chat = qa.chat(mode=mode)
        story = conv["story_id"]

        def on_story(article_id: str, story: str = story) -> bool:
            return story_of.get(article_id) == story

        for turn in conv["turns"]:
            kind = "first" if turn["turn_id"] == 1 else "follow-up"
            accepted = turn["answers"]
            span = turn.get("rationale_span")
            began = time.perf_counter()
            ans: Answer = chat.ask(turn["question"])
            seconds.append(time.perf_counter() - began)
            answer_type = turn.get("answer_type", "free")
            accepted_short = turn["answers"] or (["unknown"] if answer_type == "unknown" else [])
            if accepted_short:
                f1.setdefault((kind, answer_type), []).append(
                    best_f1(accepted_short, short_text(ans))
                )
            if answer_type != "free":
                continue  # asked, so the conversation goes on as written, but not scored
            hit = any(on_story(p.article_id) for p in ans.passages[:5])
            story_cited = any(on_story(c.article_id) for c in ans.citations)
            cited = any(
                on_story(c.article_id) and overlaps(span, c.start, c.end) for c in ans.citations
            )
            contains = states(ans.text, accepted)
            miss = "" if contains else miss_reason(ans, on_story, span, accepted)
            system[kind].add(hit, contains, story_cited, cited, miss)
            passages, sentence, (aid, start, end) = _baseline(qa, turn["question"])
            b_hit = any(on_story(p.article_id) for p in passages)
            b_cited = on_story(aid) and overlaps(span, start, end)
            base[kind].add(b_hit, states(sentence, accepted), on_story(aid), b_cited)
            rows.append(
                {
                    "story": story,
                    "turn": turn["turn_id"],
                    "question": turn["question"],
                    "standalone": ans.standalone,
                    "answer": ans.text,
                    "accepted": accepted,
                    "hit": hit,
                    "on_story": story_cited,
                    "contains": contains,
                    "cited": cited,
                    "miss": miss,
                    "baseline_hit": b_hit,
                    "baseline_answer": sentence,
                }
            )
        print(f"\r{number}/{len(conversations)} conversations", end="", file=sys.stderr)
    print(file=sys.stderr)
    if out:
        out.write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")
    return f1_table(f1) + "\n\n" + table(system, base, mode, seconds)


def f1_table(f1: dict[tuple[str, str], list[float]]) -> str:
    """CoQA's F1 of the short answer per kind of turn and answer type, and over all turns."""
    types = ("free", "yes", "no", "unknown")
    lines = [
        "| CoQA F1 of the short answer | " + " | ".join(types) + " | all |",
        "| --- |" + " ---: |" * (len(types) + 1),
    ]
    for kind in ("first", "follow-up"):
        cells = [f1.get((kind, t), []) for t in types]
        every = [v for c in cells for v in c]
        shown = [f"{np.mean(c):.3f} (n={len(c)})" if c else "-" for c in cells]
        lines.append(f"| {kind} | {' | '.join(shown)} | {np.mean(every):.3f} |")
    every = [v for values in f1.values() for v in values]
    lines.append(f"| all turns | | | | | {np.mean(every):.3f} (n={len(every)}) |")
    return "\n".join(lines)


def table(system: dict[str, Tally], base: dict[str, Tally], mode: str, seconds: list[float]) -> str:
    """The report: rates per kind of turn beside the baseline, then why the answers missed."""
    lines = [
        "| turns | n | system | hit@5 | cites the conversation's article | contains answer "
        "| citation on rationale | refused |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind in ("first", "follow-up"):
        for name, tally in (
            (f"hybrid + chat ({mode})", system[kind]),
            ("dense, raw q", base[kind]),
        ):
            rates = " | ".join(f"{r:.3f}" for r in tally.rates())
            refused = f"{tally.refused / (tally.turns or 1):.3f}" if tally is system[kind] else "-"
            lines.append(f"| {kind} | {tally.turns} | {name} | {rates} | {refused} |")
    lines += ["", "| misses (share of scored turns) | first | follow-up |", "| --- | ---: | ---: |"]
    for miss, meaning in MISSES:
        cells = " | ".join(
            f"{system[k].misses[miss] / (system[k].turns or 1):.3f}" for k in ("first", "follow-up")
        )
        lines.append(f"| {meaning} | {cells} |")
    lines.append("")
    lines.append(
        f"per turn: p50 {np.percentile(seconds, 50) * 1000:.0f} ms, "
        f"p95 {np.percentile(seconds, 95) * 1000:.0f} ms"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.coqa", description=__doc__)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--home", type=Path, help="library to use (default: a fresh temp one)")
    parser.add_argument("--mode", default="extractive", choices=["extractive", "llm"])
    parser.add_argument("--limit", type=int, help="only the first N conversations")
    parser.add_argument("--out", type=Path, help="write per-turn rows as JSONL here")
    args = parser.parse_args(argv)
    conversations = [json.loads(line) for line in (args.dataset / "questions.jsonl").open()]
    conversations = conversations[: args.limit] if args.limit else conversations
    with tempfile.TemporaryDirectory() as tmp:
        qa = Assistant.open(Config.from_env(home=args.home or Path(tmp)))
        report = qa.ingest(args.dataset / "corpus.jsonl")
        print(report.summary(), file=sys.stderr)
        print(run(qa, conversations, args.mode, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
