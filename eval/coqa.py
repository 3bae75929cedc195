"""Conversations over a CoQA-shaped dataset, each asked in one chat, scored turn by turn beside
plain dense retrieval on the raw question (measured in the same run).

For first turns and follow-up turns separately it reports: hit@5 of the right passage, how
often the answer contains an accepted answer, and how often a citation overlaps the gold
rationale span. The baseline answers with the sentence of its top-5 dense passages that is
nearest to the raw question by embedding, and cites it.

Run: ``python -m eval.coqa [--dataset DIR] [--home LIB] [--mode extractive|llm] [--limit N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eval.score import overlaps, states
from rag.answer import Answer
from rag.assistant import Assistant
from rag.config import Config
from rag.retrieve import Passage
from rag.support import sentences_of

DEFAULT_DATASET = Path(__file__).resolve().parents[1].parent / "shared/datasets/coqa-wikipedia"


@dataclass
class Tally:
    """Counts for one kind of turn."""

    turns: int = 0
    hits: int = 0
    contains: int = 0
    cited: int = 0
    refused: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, hit: bool, contains: bool, cited: bool, refused: bool = False) -> None:
        self.turns += 1
        self.hits += hit
        self.contains += contains
        self.cited += cited
        self.refused += refused

    def rates(self) -> tuple[float, float, float]:
        n = self.turns or 1
        return self.hits / n, self.contains / n, self.cited / n


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
    rows = []
    for number, conv in enumerate(conversations, start=1):
        chat = qa.chat(mode=mode)
        story = conv["story_id"]
        for turn in conv["turns"]:
            kind = "first" if turn["turn_id"] == 1 else "follow-up"
            accepted = turn["answers"]
            span = turn.get("rationale_span")
            began = time.perf_counter()
            ans: Answer = chat.ask(turn["question"])
            system[kind].seconds.append(time.perf_counter() - began)
            hit = any(story_of.get(p.article_id) == story for p in ans.passages[:5])
            cited = any(
                story_of.get(c.article_id) == story and overlaps(span, c.start, c.end)
                for c in ans.citations
            )
            contains = states(ans.text, accepted)
            system[kind].add(hit, contains, cited, ans.refused)
            passages, sentence, (aid, start, end) = _baseline(qa, turn["question"])
            b_hit = any(story_of.get(p.article_id) == story for p in passages)
            b_cited = story_of.get(aid) == story and overlaps(span, start, end)
            base[kind].add(b_hit, states(sentence, accepted), b_cited)
            rows.append(
                {
                    "story": story,
                    "turn": turn["turn_id"],
                    "question": turn["question"],
                    "standalone": ans.standalone,
                    "answer": ans.text,
                    "accepted": accepted,
                    "hit": hit,
                    "contains": contains,
                    "cited": cited,
                    "baseline_hit": b_hit,
                    "baseline_answer": sentence,
                }
            )
        print(f"\r{number}/{len(conversations)} conversations", end="", file=sys.stderr)
    print(file=sys.stderr)
    if out:
        out.write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")
    lines = [
        "| turns | n | system | hit@5 | contains answer | citation on rationale | refused |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for kind in ("first", "follow-up"):
        for name, tally in (
            (f"hybrid + chat ({mode})", system[kind]),
            ("dense, raw q", base[kind]),
        ):
            rates = " | ".join(f"{r:.3f}" for r in tally.rates())
            refused = f"{tally.refused / (tally.turns or 1):.3f}" if tally is system[kind] else "-"
            lines.append(f"| {kind} | {tally.turns} | {name} | {rates} | {refused} |")
    secs = system["first"].seconds + system["follow-up"].seconds
    lines.append("")
    lines.append(
        f"per turn: p50 {np.percentile(secs, 50) * 1000:.0f} ms, "
        f"p95 {np.percentile(secs, 95) * 1000:.0f} ms"
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
