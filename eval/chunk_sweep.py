"""Pick the chunk size by measurement: dense retrieval over the CoQA passages per setting.

For each (tokens, overlap) it ingests ``corpus.jsonl`` into a fresh library and asks every
question of ``questions.jsonl`` on its own (no history), then reports how often the gold
passage is in the top 5 chunks (first turns and all turns) and how often a top-5 chunk covers
the gold rationale span. Run: ``python -m eval.chunk_sweep [DATASET_DIR]``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from ingest.pipeline import ingest
from rag.config import Config
from rag.embeddings import make_embedder
from rag.store import Store

SETTINGS = [(64, 16), (96, 24), (128, 0), (128, 32), (192, 48), (254, 64)]


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "../shared/datasets/coqa-wikipedia")
    corpus = folder / "corpus.jsonl"
    convs = [json.loads(line) for line in (folder / "questions.jsonl").open()]
    base = Config.from_env()
    embedder = make_embedder(base)
    questions = [
        (c["story_id"], t["turn_id"], t["question"], t.get("rationale_span"))
        for c in convs
        for t in c["turns"]
    ]
    qvecs = embedder.embed([q[2] for q in questions])
    print("tokens overlap chunks  hit@5(first) hit@5(all) span@5(all) ingest_s")
    for tokens, overlap in SETTINGS:
        with tempfile.TemporaryDirectory() as home:
            config = base.with_(home=Path(home), chunk_tokens=tokens, chunk_overlap=overlap)
            store = Store.open(config, embedder.name)
            began = time.perf_counter()
            report = ingest([corpus], store, embedder, config)
            seconds = time.perf_counter() - began
            key_to_story = {a.id: a.key.rsplit("#", 1)[1] for a in store.documents()}
            hits_first = hits_all = spans = firsts = 0
            res = store.chunks.query(query_embeddings=qvecs, n_results=5, include=["metadatas"])
            for (story, turn, _q, span), metas in zip(questions, res["metadatas"], strict=True):
                stories = [key_to_story.get(m["article_id"]) for m in metas]
                hit = story in stories
                hits_all += hit
                if turn == 1:
                    firsts += 1
                    hits_first += hit
                if span and hit:
                    lo, hi = span
                    spans += any(
                        s == story and m["start"] <= lo + 1 and m["end"] >= hi - 1
                        for s, m in zip(stories, metas, strict=True)
                    )
            n = len(questions)
            if not report.ok:
                raise RuntimeError(f"ingest failed: {report.summary()}")
            print(
                f"{tokens:>6} {overlap:>7} {report.chunks:>6}  {hits_first / firsts:>12.3f} "
                f"{hits_all / n:>10.3f} {spans / n:>11.3f} {seconds:>8.1f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
