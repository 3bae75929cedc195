"""Hostile and malformed input: over 100 bad files and refs in one batch with valid articles;
each bad one gets one clear error, nothing of it is stored, every valid article lands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.config import Config
from tests.conftest import SAMPLES
from tests.hostile import HOSTILE_REFS, LIMIT, write_hostile_files

pytestmark = pytest.mark.slow


def test_a_batch_of_hostile_files_stores_only_the_valid_articles(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from rag.assistant import Assistant

    batch = tmp_path / "batch"
    batch.mkdir()
    hostile = write_hostile_files(batch)
    for sample in sorted(SAMPLES.glob("*.txt")):
        shutil.copy(sample, batch / sample.name)
    valid_lines = [
        {
            "title": f"Valid story {i}",
            "text": f"Story {i}: the harbour of Elling reopened to {i} boats.",
        }
        for i in range(3)
    ]
    mixed = batch / "mixed.jsonl"
    mixed.write_text(
        json.dumps(valid_lines[0]) + "\n{broken\n" + json.dumps(valid_lines[1]) + '\n{"text": 7}\n'
        + json.dumps(valid_lines[2]) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    bad_inputs = len(hostile) + len(HOSTILE_REFS) + 2  # two bad lines in mixed.jsonl
    assert bad_inputs >= 100

    qa = Assistant.open(Config.from_env(home=tmp_path / "lib", max_article_bytes=LIMIT))
    # A folder walk passes over hidden files by design; named on their own they are read.
    hidden = [p for p in hostile if p.name.startswith(".")]
    assert hidden
    report = qa.ingest(batch, *HOSTILE_REFS, *hidden)

    # Every valid article landed: the two samples and three JSONL lines.
    assert len(report.added) == 5
    titles = {d.title for d in qa.documents()}
    assert {f"Valid story {i}" for i in range(3)} <= titles and len(titles) == 5
    # One error per bad input, each one line, each naming its input.
    assert len(report.failed) == bad_inputs
    for path in hostile:
        # A JSONL line's error names the line: path:1.
        errors = [e for e in report.failed if e.source in (str(path), f"{path}:1")]
        assert len(errors) == 1, (path.name, [str(e) for e in errors])
    for ref in HOSTILE_REFS:
        assert sum(e.source == ref for e in report.failed) == 1, ref
    assert sum(e.source.startswith(f"{mixed}:") for e in report.failed) == 2
    for err in report.failed:
        line = str(err)
        assert "\n" not in line and "\u202e" not in line and err.reason.strip()
    # Nothing from a bad file is in the store, and a question still finds the valid articles.
    stored = qa.store.all_chunks(["metadatas"])
    assert {m["article_id"] for m in stored["metadatas"]} == {d.id for d in qa.documents()}
    answer = qa.ask("How many boats did the harbour of Elling reopen to?")
    assert not answer.refused and answer.citations
