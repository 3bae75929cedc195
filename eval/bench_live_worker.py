"""The processes of ``rag bench --live``: the server (8 chats asking at once, a quiet phase,
then while a writer streams articles in, with a probe that times when each new article can
first be cited), the writer (another process, as ``rag watch`` or a cron ingest is), and a
restarted server's first question. Each runs as ``python -m eval.bench_live_worker SPEC`` and
prints one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from eval.bench_worker import _config, peak_rss_mb, run_task

#: How often the probe asks for each committed article until an answer can cite it (s).
PROBE_EVERY = 0.1
#: Longest wait for an article to become citable before it counts as never (s).
PROBE_GIVE_UP = 60.0


def probe_question(text: str) -> str:
    """A question only the article answers: its opening sentence, without a dateline."""
    from rag.sentences import sentence_spans

    start, end = sentence_spans(text)[0]
    first = text[start:end]
    return first.split("--", 1)[1].strip() if "--" in first[:40] else first


def stream(spec: dict[str, Any]) -> dict[str, Any]:
    """Ingest ``corpus`` one article every ``interval`` seconds, logging each commit."""
    from eval.bench_corpus import load_articles
    from ingest.pipeline import Ingestor
    from rag.assistant import Assistant

    qa = Assistant.open(_config(spec, Path(spec["home"])))
    articles = load_articles(Path(spec["corpus"]))
    log = Path(spec["log"])
    rows = []
    next_at = time.monotonic()
    for article in articles:
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += spec["interval"]
        began = time.perf_counter()
        report = Ingestor(qa.store, qa.embedder, qa.config).take([article], 1)
        seconds = time.perf_counter() - began
        if not report.added:
            raise RuntimeError(f"not stored: {article.origin}: {report.summary()}")
        row = {
            "id": article.id,
            "committed": time.time(),
            "seconds": seconds,
            "chunks": report.chunks,
            "question": probe_question(article.text),
        }
        rows.append(row)
        with log.open("a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")
    return {"articles": rows}


class _Chats:
    """``n`` chats asking at once, each going through its conversations, every answer timed."""

    def __init__(self, qa: Any, conversations: list[list[str]], n: int) -> None:
        self.qa = qa
        self.conversations = conversations
        self.n = n
        self.stop = threading.Event()
        #: (when it was asked, epoch seconds; how long it took, ms)
        self.asked: list[tuple[float, float]] = []
        self._threads: list[threading.Thread] = []

    def latencies(self, since: float = 0.0, until: float = float("inf")) -> list[float]:
        """Latencies of the questions asked within the window."""
        return [ms for at, ms in self.asked if since <= at <= until]

    def _run(self, offset: int) -> None:
        i = offset
        while not self.stop.is_set():
            chat = self.qa.chat(mode="extractive")
            for question in self.conversations[i % len(self.conversations)]:
                if self.stop.is_set():
                    return
                at, began = time.time(), time.perf_counter()
                chat.ask(question)
                self.asked.append((at, (time.perf_counter() - began) * 1000))
            i += self.n

    def __enter__(self) -> _Chats:
        for k in range(self.n):
            thread = threading.Thread(target=self._run, args=(k,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join()


class _Probe:
    """Times, for each article the writer commits, when an answer can first cite it."""

    def __init__(self, qa: Any, log: Path) -> None:
        self.qa = qa
        self.log = log
        self.stop = threading.Event()
        self.lags: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rows(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text("utf-8").splitlines() if line]

    def _run(self) -> None:
        while not self.stop.is_set():
            for row in self._rows():
                if row["id"] in self.lags:
                    continue
                # The passages a first question is answered from are this retrieval's (a new
                # chat asks it as it stands); an answer under load takes up to a second more,
                # which would blur when the article became citable.
                asked = time.time()
                passages = self.qa.retriever.search(row["question"], k=self.qa.config.top_k)
                if any(p.article_id == row["id"] for p in passages):
                    self.lags[row["id"]] = asked - row["committed"]
                elif time.time() - row["committed"] > PROBE_GIVE_UP:
                    self.lags[row["id"]] = float("inf")
            time.sleep(PROBE_EVERY)

    def done(self, expected: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.lags) < expected and time.monotonic() < deadline:
            time.sleep(0.2)

    def __enter__(self) -> _Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join()


class _Memory:
    """The server's resident memory, sampled every half second, as the peak of each phase."""

    def __init__(self) -> None:
        self.phase = "open"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def sample(self) -> None:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                mb = int(line.split()[1]) / 1024
                self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), mb)

    def enter(self, phase: str) -> None:
        self.sample()
        self.phase = phase

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self.sample()
        return self.peaks


def _writer(spec: dict[str, Any], corpus: str, log: Path) -> subprocess.Popen[str]:
    task = {**spec, "task": "stream", "corpus": corpus, "log": str(log)}
    return subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "eval.bench_live_worker", json.dumps(task)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the writer failed:\n{err[-2000:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def live(spec: dict[str, Any]) -> dict[str, Any]:
    """The server's view: questions quiet, ingest quiet, then questions while ingesting."""
    from rag.assistant import Assistant

    home = Path(spec["home"])
    memory = _Memory()
    qa = Assistant.open(_config(spec, home))
    memory.enter("warm-up")
    qa.warm_up()
    quiet_conv, live_conv = spec["conversations"]
    n = spec["chats"]
    memory.enter("questions, quiet")
    with _Chats(qa, quiet_conv, n) as quiet:
        time.sleep(spec["quiet_seconds"])
    results: dict[str, Any] = {"quiet_ms": quiet.latencies()}
    memory.enter("ingest, quiet")
    with _Probe(qa, home / "stream-quiet.log") as probe:
        results["ingest_quiet"] = _finish(_writer(spec, spec["stream"][0], probe.log))
        probe.done(len(results["ingest_quiet"]["articles"]), PROBE_GIVE_UP)
    lags = dict(probe.lags)
    memory.enter("questions during ingest")
    with _Probe(qa, home / "stream-live.log") as probe, _Chats(qa, live_conv, n) as during:
        started = time.time()
        results["ingest_live"] = _finish(_writer(spec, spec["stream"][1], probe.log))
        ended = time.time()
        probe.done(len(results["ingest_live"]["articles"]), PROBE_GIVE_UP)
    # Only the questions asked while articles were streaming in, from the writer's start to
    # its last commit: the probe's wait after it is quiet again.
    results["live_ms"] = during.latencies(started, ended)
    results["lag_quiet_s"] = list(lags.values())
    results["lag_live_s"] = list(probe.lags.values())
    # The keyword index of the final library, saved for the restart that follows.
    qa.ask(quiet_conv[0][0])
    qa.retriever.keyword.wait()
    qa.ask(quiet_conv[0][0])
    results["chunks"] = qa.store.count_chunks()
    results["memory_mb"] = memory.stop()
    return results


def restart(spec: dict[str, Any]) -> dict[str, Any]:
    """A fresh process's first question: opening the library, loading what it needs."""
    from rag.assistant import Assistant

    began = time.perf_counter()
    qa = Assistant.open(_config(spec, Path(spec["home"])))
    answer = qa.ask(spec["question"])
    seconds = time.perf_counter() - began
    return {"first_question_s": seconds, "answered": not answer.refused}


TASKS = {"stream": stream, "live": live, "restart": restart}


def peak_mb() -> float:
    """This process's peak resident memory in MB. ``VmHWM`` starts afresh at exec, while
    ``ru_maxrss`` carries the RSS of the process that forked this one (the writer is started
    by the server)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mb()


def main(argv: list[str]) -> int:
    return run_task(TASKS, argv, peak_mb)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
