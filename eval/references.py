"""How well follow-up references are resolved: written conversations over coqa-cnn-dev's
articles (``eval/datasets/references``), each follow-up's pronouns labelled with the name they
point at. Every conversation is asked in one chat; a labelled pronoun is *right* when the
rewritten question (``Answer.standalone``, without the earlier question a rewrite may keep
beside it) names its referent, *wrong* when the pronoun was replaced by another name, and
*unresolved* when it was left as it was.

Run: ``python -m eval.references [--dataset DIR] [--show]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rag.assistant import Assistant
from rag.config import Config

DATASET = Path(__file__).resolve().parent / "datasets" / "references"
_KEPT_BESIDE = re.compile(r"\s*\(following: .*\)\s*$")


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[^\W_][\w-]{2,}", re.sub(r"['’]s\b", "", text))}


def judge(question: str, standalone: str, pronoun: str, referent: str) -> str:
    """``right``, ``wrong`` or ``unresolved`` for one labelled pronoun: right when the rewrite
    brought in the referent's name, or part of it ("Warren" for "Elizabeth Warren")."""
    rewritten = _KEPT_BESIDE.sub("", standalone)
    brought = _words(rewritten) - _words(question)
    if brought & _words(referent):
        return "right"
    if re.search(rf"\b{re.escape(pronoun)}\b", rewritten, re.I):
        return "unresolved"
    return "wrong"


def run(folder: Path, show: bool = False) -> dict[str, float]:
    meta = json.loads((folder / "dataset.json").read_text("utf-8"))
    conversations = [json.loads(line) for line in (folder / "questions.jsonl").open()]
    tally = {"right": 0, "wrong": 0, "unresolved": 0}
    with tempfile.TemporaryDirectory(prefix="rag-references-") as home:
        qa = Assistant.open(Config.from_env(home=Path(home), chroma_url=None))
        qa.ingest((folder / meta["corpus"]).resolve())
        for conversation in conversations:
            chat = qa.chat(mode="extractive")
            for turn in conversation["turns"]:
                answer = chat.ask(turn["question"])
                for pronoun, referent in turn.get("refers", {}).items():
                    verdict = judge(turn["question"], answer.standalone, pronoun, referent)
                    tally[verdict] += 1
                    if show and verdict != "right":
                        print(f"{verdict}: {turn['question']!r} -> {answer.standalone!r} "
                              f"({pronoun} = {referent})")  # fmt: skip
    total = sum(tally.values()) or 1
    return {k: round(v / total, 3) for k, v in tally.items()} | {"pronouns": total}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.references", description=__doc__)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--show", action="store_true", help="print every miss")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.dataset, args.show)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
