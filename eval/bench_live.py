"""``rag bench --live``: a library of 100,000 chunks that takes in news while 8 chats ask.

Steps, each in a process of its own: build the library from the dataset's articles less the
ones held back to stream in (then perturbed copies up to the size); the server process, where
8 chats ask at once, first quietly, then while a writer process streams the held-back articles
in at a set rate (a quiet ingest run first, for its rate), with a probe that times when each
new article can first be cited; then a restarted process's first question, with the saved
keyword index and, as the baseline, without it. Targets are judged on these figures, never in
timed tests: question p95 during ingest at most 2x quiet, freshness lag p95 at most 2 s, the
first question after a restart at most 2 s."""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval.bench import Target, percentile, run_worker
from eval.dataset import load_dataset

#: Articles held back from the library and streamed in, half in the quiet ingest run and half
#: while the chats ask.
STREAMED = 20
LIVE_WORKER = "eval.bench_live_worker"


def _split_corpus(corpus: Path, work: Path) -> tuple[Path, Path, Path]:
    lines = [line for line in corpus.read_text("utf-8").splitlines() if line.strip()]
    base, held = lines[:-STREAMED], lines[-STREAMED:]
    paths = (work / "base.jsonl", work / "stream-quiet.jsonl", work / "stream-live.jsonl")
    half = len(held) // 2
    for path, rows in zip(paths, (base, held[:half], held[half:]), strict=True):
        path.write_text("\n".join(rows) + "\n", "utf-8")
    return paths


def run_live(
    dataset: Path,
    size: int = 100_000,
    chats: int = 8,
    interval: float = 3.0,
    quiet_seconds: float = 30.0,
    library: Path | None = None,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> dict[str, Any]:
    """Run the live benchmark; the library is kept in ``library`` when given."""
    data = load_dataset(dataset)
    if data.corpus.suffix != ".jsonl":
        raise ValueError("rag bench --live streams articles from a JSONL corpus")
    conversations = [[t.question for t in item.turns] for item in data.items if item.turns]
    half = len(conversations) // 2
    began = time.perf_counter()

    def step(label: str, spec: dict[str, Any], module: str = LIVE_WORKER) -> dict[str, Any]:
        log(f"bench --live: {label} ... ({time.perf_counter() - began:.0f} s so far)")
        return run_worker(spec, module)

    with tempfile.TemporaryDirectory(prefix="rag-bench-live-") as tmp:
        work = Path(tmp)
        home = library or work / "library"
        if home.exists():
            shutil.rmtree(home)
        base, quiet_stream, live_stream = _split_corpus(data.corpus, work)
        built = step(
            f"library of {size:,} chunks",
            {"task": "build", "home": str(home), "corpus": str(base), "size": size},
            "eval.bench_worker",
        )
        spec = {
            "home": str(home),
            "chats": chats,
            "interval": interval,
            "quiet_seconds": quiet_seconds,
            "conversations": [conversations[:half], conversations[half:]],
            "stream": [str(quiet_stream), str(live_stream)],
        }
        served = step(
            f"{chats} chats, quiet then while articles stream in", {**spec, "task": "live"}
        )
        question = conversations[0][0]
        restarts = [
            step(
                "first question after a restart",
                {"task": "restart", "home": str(home), "question": question},
            )
            for _ in range(3)
        ]
        shutil.rmtree(home / "keyword", ignore_errors=True)
        cold = step(
            "first question after a restart, no saved keyword index",
            {"task": "restart", "home": str(home), "question": question},
        )
    log(f"bench --live: done in {time.perf_counter() - began:.0f} s")
    return {
        "settings": {
            "dataset": str(dataset),
            "size": size,
            "chats": chats,
            "interval_s": interval,
            "quiet_seconds": quiet_seconds,
            "streamed": STREAMED,
        },
        "build": built,
        "served": served,
        "restart": restarts,
        "restart_cold": cold,
    }


def figures(result: dict[str, Any]) -> dict[str, float]:
    """The headline numbers of a live run."""
    s = result["served"]

    def rate(run: dict[str, Any]) -> float:
        rows = run["articles"]
        return sum(r["chunks"] for r in rows) / sum(r["seconds"] for r in rows)

    lags = s["lag_quiet_s"] + s["lag_live_s"]
    return {
        "chunks": float(s["chunks"]),
        "quiet_p50_ms": percentile(s["quiet_ms"], 0.5),
        "quiet_p95_ms": percentile(s["quiet_ms"], 0.95),
        "live_p50_ms": percentile(s["live_ms"], 0.5),
        "live_p95_ms": percentile(s["live_ms"], 0.95),
        "questions_quiet": float(len(s["quiet_ms"])),
        "questions_live": float(len(s["live_ms"])),
        "ingest_quiet_chunks_s": rate(s["ingest_quiet"]),
        "ingest_live_chunks_s": rate(s["ingest_live"]),
        "lag_p50_s": percentile(lags, 0.5),
        "lag_p95_s": percentile(lags, 0.95),
        "lag_max_s": max(lags),
        "restart_s": statistics.median(r["first_question_s"] for r in result["restart"]),
        "restart_cold_s": result["restart_cold"]["first_question_s"],
        "server_peak_mb": s["peak_rss_mb"],
        "writer_peak_mb": max(
            s["ingest_quiet"].get("peak_rss_mb", 0), s["ingest_live"].get("peak_rss_mb", 0)
        ),
        "restart_peak_mb": max(r["peak_rss_mb"] for r in result["restart"]),
    }


def targets(f: dict[str, float]) -> list[Target]:
    ratio = f["live_p95_ms"] / f["quiet_p95_ms"]
    return [
        Target(
            "question p95 during ingest at most 2x the quiet p95",
            f"{f['live_p95_ms']:.0f} ms vs {f['quiet_p95_ms']:.0f} ms quiet: {ratio:.2f}x",
            ratio <= 2.0,
        ),
        Target(
            "freshness lag p95 at most 2 s",
            f"p95 {f['lag_p95_s']:.2f} s (p50 {f['lag_p50_s']:.2f} s)",
            f["lag_p95_s"] <= 2.0,
        ),
        Target(
            "first question after a restart at most 2 s",
            f"{f['restart_s']:.2f} s (without the saved keyword index: "
            f"{f['restart_cold_s']:.2f} s, {f['restart_cold_s'] / f['restart_s']:.1f}x)",
            f["restart_s"] <= 2.0,
        ),
    ]


def markdown(result: dict[str, Any]) -> str:
    f = figures(result)
    st = result["settings"]
    lines = [
        f"# rag bench --live: {f['chunks']:,.0f} chunks, {st['chats']} chats, one article "
        f"every {st['interval_s']:g} s",
        "",
        "| | quiet | during ingest | ratio |",
        "| --- | ---: | ---: | ---: |",
        f"| question p50 (ms) | {f['quiet_p50_ms']:.0f} | {f['live_p50_ms']:.0f} | "
        f"{f['live_p50_ms'] / f['quiet_p50_ms']:.2f}x |",
        f"| question p95 (ms) | {f['quiet_p95_ms']:.0f} | {f['live_p95_ms']:.0f} | "
        f"{f['live_p95_ms'] / f['quiet_p95_ms']:.2f}x |",
        f"| questions answered | {f['questions_quiet']:.0f} | {f['questions_live']:.0f} | |",
        f"| ingest (chunks/s, writer process) | {f['ingest_quiet_chunks_s']:.1f} | "
        f"{f['ingest_live_chunks_s']:.1f} | "
        f"{f['ingest_live_chunks_s'] / f['ingest_quiet_chunks_s']:.2f}x |",
        "",
        f"- Freshness lag, commit to the first answer that can cite the article "
        f"({st['streamed']} articles): p50 {f['lag_p50_s']:.2f} s, p95 {f['lag_p95_s']:.2f} s, "
        f"max {f['lag_max_s']:.2f} s.",
        f"- First question after a restart: {f['restart_s']:.2f} s; without the saved "
        f"keyword index {f['restart_cold_s']:.2f} s.",
        f"- Peak memory: server {f['server_peak_mb']:.0f} MB, writer {f['writer_peak_mb']:.0f} "
        f"MB, restarted process {f['restart_peak_mb']:.0f} MB. The server's peak by phase: "
        + ", ".join(
            f"{phase} {mb:.0f} MB" for phase, mb in result["served"].get("memory_mb", {}).items()
        )
        + ".",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {t.what} | {t.measured} | {'yes' if t.met else 'NO'} |" for t in targets(f)]
    return "\n".join(lines)


def chart(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result["served"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for label, values in (("quiet", s["quiet_ms"]), ("during ingest", s["live_ms"])):
        ordered = sorted(values)
        share = [(i + 1) / len(ordered) for i in range(len(ordered))]
        left.plot(ordered, share, label=label)
    left.set_xscale("log")
    left.set_xlabel("question latency (ms)")
    left.set_ylabel("share of questions")
    left.set_title(f"{result['settings']['chats']} chats at {s['chunks']:,} chunks")
    left.legend()
    lags = [v for v in s["lag_quiet_s"] + s["lag_live_s"] if v != float("inf")]
    right.hist(lags, bins=20)
    right.axvline(2.0, color="red", linestyle="--", label="2 s target")
    right.set_xlabel("commit to first answer that can cite it (s)")
    right.set_ylabel("articles")
    right.set_title("freshness lag")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_live(result: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "live.json", out / "live.md"]
    payload = {**result, "figures": figures(result)}
    payload["targets"] = [t.__dict__ for t in targets(payload["figures"])]
    files[0].write_text(json.dumps(payload, indent=2, default=str), "utf-8")
    files[1].write_text(markdown(result) + "\n", "utf-8")
    files.append(chart(result, out / "live.png"))
    return files
