"""Reliability: an ingest killed with SIGKILL midway loses nothing and leaves nothing in part."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rag.config import Config
from tests.conftest import COQA, ROOT
from tests.store_checks import assert_whole

pytestmark = pytest.mark.slow

#: Ingests a corpus and prints a line each time articles are committed.
DRIVER = textwrap.dedent(
    """
    import sys
    from rag.assistant import Assistant
    from ingest.progress import SilentProgress

    class Committed(SilentProgress):
        stored = 0
        def advance(self, articles, chunks=0):
            if articles:
                self.stored += articles
                print("stored", self.stored, flush=True)

    qa = Assistant.open(home=sys.argv[1])
    report = qa.ingest(sys.argv[2], progress=Committed())
    print("done", len(report.added), len(report.unchanged), flush=True)
    """
)


def _ingest(
    home: Path, corpus: Path, kill_after: int | None, delay: float = 0.0
) -> tuple[int, list[str]]:
    """Run the driver; with ``kill_after``, SIGKILL it ``delay`` s after that many articles
    are done (stored or found unchanged)."""
    env = dict(os.environ, RAG_EMBED_BATCH="4")  # a commit every 64 chunks
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(home), str(corpus)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line.strip())
        if (
            kill_after is not None
            and line.startswith("stored")
            and int(line.split()[1]) >= kill_after
        ):
            time.sleep(delay)  # into the embedding or the writes of the next group
            proc.send_signal(signal.SIGKILL)
            break
    return proc.wait(timeout=300), lines


def test_an_ingest_killed_midway_is_completed_by_the_next_one_exactly_once(tmp_path: Path) -> None:
    from eval.bench_corpus import load_articles
    from rag.store import Store

    corpus = COQA / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip("needs ../shared/datasets/coqa-wikipedia")
    expected = {a.id for a in load_articles(corpus)}
    home = tmp_path / "lib"

    # Three kills at different points, each run taking up where the last one died.
    for kill_after, delay in ((10, 0.05), (35, 0.3), (60, 0.15)):
        code, lines = _ingest(home, corpus, kill_after, delay)
        assert code == -signal.SIGKILL
        done = max(int(x.split()[1]) for x in lines if x.startswith("stored"))
        assert kill_after <= done < len(expected)
    stored_before = len(Store.open(Config.from_env(home=home), None).documents())
    assert 10 <= stored_before < len(expected)

    code, lines = _ingest(home, corpus, kill_after=None)
    assert code == 0, lines
    _, added, unchanged = lines[-1].split()
    assert int(added) + int(unchanged) == len(expected)
    assert int(unchanged) >= stored_before

    # Reopened the way a user would: every article once, complete, nothing pending or orphaned.
    assert_whole(Store.open(Config.from_env(home=home), None), expected)
    print(
        f"3 SIGKILLs; {stored_before} of {len(expected)} articles stored before the last run, "
        f"which added {added} and found {unchanged} unchanged"
    )
