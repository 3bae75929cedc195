"""``rag bench``: ingest and question speed beside their baselines, measured in the same run.

Each measurement runs in a process of its own (``eval.bench_worker``) so that its peak memory
is its own; figures are medians over repeats (throughput) or percentiles over questions
(latency), and the targets are judged as ratios against baselines from the same run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.bench_corpus import write_larger_corpus
from eval.bench_openai import openai_markdown
from eval.dataset import Dataset, load_dataset
from rag.embeddings import DEFAULT_BACKEND

#: Libraries the question latency is measured at, in chunks.
DEFAULT_SIZES = (1_000, 10_000, 100_000)
#: Versions of each article in the larger ingest corpus (the originals plus rotations).
LARGER_COPIES = 7
BACKENDS = ("torch", "onnx", "onnx-int8")


@dataclass(frozen=True)
class Target:
    what: str
    measured: str
    met: bool


@dataclass
class BenchResult:
    """Everything one ``rag bench`` run measured (JSON-ready)."""

    settings: dict[str, Any]
    encode: dict[str, dict[str, Any]] = field(default_factory=dict)
    ingest: dict[str, dict[str, Any]] = field(default_factory=dict)
    questions: list[dict[str, Any]] = field(default_factory=list)
    #: LLM mode with the real small model, when ``make local-llm`` has installed it.
    llm: dict[str, Any] = field(default_factory=dict)
    #: The OpenAI endpoint's time per request against the turns it carries.
    openai: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "encode": self.encode,
            "ingest": self.ingest,
            "questions": self.questions,
            "llm": self.llm,
            "openai": self.openai,
            "targets": [t.__dict__ for t in targets(self)],
        }


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0 to 1) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def run_worker(spec: dict[str, Any], module: str = "eval.bench_worker") -> dict[str, Any]:
    """Run one measurement in a fresh Python process and return what it printed."""
    # A crash in native code (Chroma, ONNX Runtime) prints its stack instead of nothing.
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", PYTHONFAULTHANDLER="1")
    done = subprocess.run(
        [sys.executable, "-m", module, json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"bench step {spec['task']} failed:\n{tail}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _conversations(data: Dataset, turns: int) -> list[list[str]]:
    """The first ``turns`` questions of each conversation in the dataset."""
    return [[t.question for t in item.turns[:turns]] for item in data.items if item.turns]


def run_bench(
    dataset: Path,
    repeats: int = 3,
    sizes: tuple[int, ...] = DEFAULT_SIZES,
    larger: bool = True,
    library: Path | None = None,
    only_llm: bool = False,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> BenchResult:
    """Measure ingest (beside raw encoding and the LlamaIndex quickstart) and question latency
    (at each library size) and LLM mode with the real small model when it is built, each step
    in its own process. The largest library is kept in ``library`` when given (to profile
    it), else deleted."""
    if not only_llm and importlib.util.find_spec("llama_index.embeddings.huggingface") is None:
        raise ValueError(
            "rag bench measures ingest beside the LlamaIndex quickstart, which needs the bench "
            "extra: pip install -e '.[bench]' (make install-dev includes it)"
        )
    data = load_dataset(dataset)
    corpus = data.corpus
    backend = os.environ.get("RAG_EMBED_BACKEND") or DEFAULT_BACKEND
    result = BenchResult(
        settings={
            "dataset": str(dataset),
            "repeats": repeats,
            "sizes": list(sizes),
            "backend": backend,
            "cpus": os.cpu_count(),
        }
    )
    began = time.perf_counter()

    def step(label: str, spec: dict[str, Any]) -> dict[str, Any]:
        log(f"bench: {label} ... ({time.perf_counter() - began:.0f} s so far)")
        return run_worker(spec)

    result.llm = _llm_step(step)
    if only_llm:
        return result
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as work:
        corpora = {data.name: corpus}
        if larger:
            corpora["larger"] = write_larger_corpus(
                corpus, LARGER_COPIES, Path(work) / "larger.jsonl"
            )
        for name in BACKENDS:
            spec = {"task": "encode", "corpus": str(corpus), "backend": name, "repeats": repeats}
            result.encode[name] = step(f"raw encode, {name}", spec)
        for cname, path in corpora.items():
            row: dict[str, Any] = {}
            base = {"corpus": str(path), "repeats": repeats, "backend": backend}
            if cname != data.name or backend not in result.encode:
                row["encode"] = step(f"raw encode, {cname}", {**base, "task": "encode"})
            else:
                row["encode"] = result.encode[backend]
            row["ingest"] = step(f"rag ingest, {cname}", {**base, "task": "ingest"})
            if backend != "torch":
                row["ingest_torch"] = step(
                    f"rag ingest (torch), {cname}", {**base, "task": "ingest", "backend": "torch"}
                )
            row["llamaindex"] = step(
                f"LlamaIndex quickstart, {cname}", {**base, "task": "llamaindex"}
            )
            result.ingest[cname] = row
        result.openai = step("OpenAI endpoint, 1 to 200 earlier turns", {
            "task": "openai", "dataset": str(dataset)})  # fmt: skip
        conversations = _conversations(data, turns=2)
        home = str(library or Path(work) / "library")
        for i, size in enumerate(sorted(sizes)):
            built = step(
                f"library of {size:,} chunks",
                {"task": "build", "home": home, "corpus": str(corpus), "size": size},
            )
            runs = [backend] + (["torch"] if i == 0 and backend != "torch" else [])
            for name in runs:
                served = step(
                    f"questions at {built['chunks']:,} chunks ({name})",
                    {
                        "task": "serve",
                        "home": home,
                        "backend": name,
                        "conversations": conversations,
                    },
                )
                result.questions.append({"size": size, "backend": name, "build": built, **served})
    log(f"bench: done in {time.perf_counter() - began:.0f} s")
    return result


#: Questions of the samples set that LLM mode is timed on (the machine's 2 cores).
LLM_QUESTIONS = 8


def _llm_step(step: Callable[[str, dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """LLM mode with each local model that is here (``make local-llm``, ``rag model
    fetch``), run in-process by xllamacpp."""
    from eval.local_llm import MODELS, missing

    samples = load_dataset(Path(__file__).resolve().parent / "datasets" / "samples")
    questions = [i.turns[0].question for i in samples.items if i.kind == "single"]
    out: dict[str, Any] = {}
    for name in MODELS:
        reason = missing(name)
        if reason:
            out[name] = {"skipped": reason}
            continue
        spec = {
            "task": "llm",
            "model": name,
            "articles": str(samples.corpus),
            "questions": questions[:LLM_QUESTIONS],
        }
        out[name] = step(f"LLM mode with {name} (in-process)", spec)
    return out


def llm_markdown(llm: dict[str, Any]) -> list[str]:
    """The LLM-mode table: each model's figures beside the extractive answer of the same
    questions."""
    if not llm:
        return []
    lines = [
        "",
        f"**LLM mode** (GGUF models in-process through xllamacpp, on this machine's CPUs; "
        f"{LLM_QUESTIONS} questions of the samples set, sample articles)",
        "",
        "| model | answered by it | first sentence shown p50 / p95 | whole answer p50 / p95 "
        "| extractive p50 | tokens/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in llm.items():
        if "skipped" in row:
            lines.append(f"| {name} | not measured: {row['skipped']} | | | | |")
            continue
        first, whole = row["first_sentence_ms"], row["answer_ms"]
        lines.append(
            f"| {name} | {row['model_answers']}/{row['questions']} | "
            f"{percentile(first, 0.5) / 1000:.1f} / {percentile(first, 0.95) / 1000:.1f} s | "
            f"{percentile(whole, 0.5) / 1000:.1f} / {percentile(whole, 0.95) / 1000:.1f} s | "
            f"{percentile(row['extractive_ms'], 0.5):.0f} ms | "
            f"{_median(row['tokens_per_s']):.1f} |"
        )
    return lines


# -- reading the result ----------------------------------------------------------------------


def _ingest_figures(row: dict[str, Any]) -> dict[str, float]:
    return {
        "encode_cps": _median(row["encode"]["chunks_per_s"]),
        "ingest_cps": _median(row["ingest"]["chunks_per_s"]),
        "ingest_aps": _median(row["ingest"]["articles_per_s"]),
        "li_cps": _median(row["llamaindex"]["chunks_per_s"]),
        "li_aps": _median(row["llamaindex"]["articles_per_s"]),
    }


def _latency(row: dict[str, Any]) -> dict[str, float]:
    return {
        "retrieval_p50": percentile(row["retrieval_ms"], 0.5),
        "retrieval_p95": percentile(row["retrieval_ms"], 0.95),
        "answer_p50": percentile(row["answer_ms"], 0.5),
        "answer_p95": percentile(row["answer_ms"], 0.95),
    }


def targets(result: BenchResult) -> list[Target]:
    """Each target of the README, judged on this run."""
    out: list[Target] = []
    backend = result.settings["backend"]
    for cname, row in result.ingest.items():
        f = _ingest_figures(row)
        ratio = f["ingest_cps"] / f["encode_cps"]
        out.append(Target(f"ingest >= 0.9x raw encode ({cname})", f"{ratio:.2f}x", ratio >= 0.9))
        li = f["ingest_aps"] / f["li_aps"]
        out.append(
            Target(
                f"ingest >= 2x LlamaIndex quickstart ({cname}, articles/s)", f"{li:.2f}x", li >= 2
            )
        )
    served = [q for q in result.questions if q["backend"] == backend]
    if served:
        largest = max(served, key=lambda q: q["chunks"])
        lat = _latency(largest)
        n = f"{largest['chunks']:,} chunks"
        out.append(
            Target(
                f"retrieval p50 <= 50 ms at {n}",
                f"{lat['retrieval_p50']:.0f} ms",
                lat["retrieval_p50"] <= 50,
            )
        )
        out.append(
            Target(
                f"whole extractive answer p50 <= 200 ms at {n}",
                f"{lat['answer_p50']:.0f} ms",
                lat["answer_p50"] <= 200,
            )
        )
        out.append(
            Target(
                f"peak memory serving {n} < 2 GB",
                f"{largest['peak_rss_mb']:.0f} MB",
                largest["peak_rss_mb"] < 2048,
            )
        )
    return out


def markdown(result: BenchResult) -> str:
    """The tables of a run, as markdown."""
    s = result.settings
    backend = s["backend"]
    lines = [
        f"`rag bench` on {s['cpus']} CPUs; embedding backend {backend}; "
        f"medians of {s['repeats']} runs.",
        "",
        "**Embedding backends** (raw encode of the corpus's chunks, same batches as ingest)",
        "",
        "| backend | chunks/s | vs torch | peak MB |",
        "| --- | ---: | ---: | ---: |",
    ]
    torch_cps = _median(result.encode["torch"]["chunks_per_s"]) if "torch" in result.encode else 0
    for name, row in result.encode.items():
        cps = _median(row["chunks_per_s"])
        vs = f"{cps / torch_cps:.2f}x" if torch_cps else "-"
        lines.append(f"| {name} | {cps:.1f} | {vs} | {row['peak_rss_mb']:.0f} |")
    lines += [
        "",
        "**Ingest** (load, chunk, embed, store into a fresh library)",
        "",
        "| corpus | articles | system | chunks | chunks/s | articles/s | text embedded | peak MB |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for cname, row in result.ingest.items():
        arts = row["ingest"]["articles"]
        systems = [
            ("raw encode (limit)", row["encode"]),
            (f"rag ingest ({backend})", row["ingest"]),
            ("rag ingest (torch)", row.get("ingest_torch")),
            ("LlamaIndex quickstart (torch)", row["llamaindex"]),
        ]
        for label, m in systems:
            if not m:
                continue
            aps = _median(m["articles_per_s"]) if "articles_per_s" in m else None
            share = m.get("share_embedded", 1.0)
            lines.append(
                f"| {cname} | {arts} | {label} | {m['chunks']:,} | "
                f"{_median(m['chunks_per_s']):.1f} | {'-' if aps is None else f'{aps:.2f}'} | "
                f"{share:.0%} | {m['peak_rss_mb']:.0f} |"
            )
    lines += [
        "",
        "**Questions** (100 conversations, first question and its follow-up; "
        "each answer with a cold sentence cache)",
        "",
        "| chunks | backend | retrieval p50 / p95 ms | answer p50 / p95 ms | answered | "
        "first search (index build) ms | library build s | peak MB |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for q in result.questions:
        lat = _latency(q)
        lines.append(
            f"| {q['chunks']:,} | {q['backend']} | {lat['retrieval_p50']:.1f} / "
            f"{lat['retrieval_p95']:.1f} | {lat['answer_p50']:.0f} / {lat['answer_p95']:.0f} | "
            f"{q['answered']}/{len(q['answer_ms'])} | {q['first_search_ms']:.0f} | "
            f"{q['build']['seconds']:.0f} | {q['peak_rss_mb']:.0f} |"
        )
    lines += llm_markdown(result.llm)
    lines += openai_markdown(result.openai)
    lines += ["", "**Targets**", "", "| target | measured | met |", "| --- | ---: | --- |"]
    for t in targets(result):
        lines.append(f"| {t.what} | {t.measured} | {'yes' if t.met else 'NO'} |")
    return "\n".join(lines)


def chart(result: BenchResult, path: Path) -> Path:
    """Ingest throughput beside its baselines, and latency against library size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = list(result.ingest)
    figures = [_ingest_figures(result.ingest[c]) for c in names]
    # Articles per second, the measure the LlamaIndex target is judged on; raw encode is
    # converted with the number of chunks ingest makes per article.
    per_article = [
        result.ingest[c]["ingest"]["chunks"] / max(1, result.ingest[c]["ingest"]["articles"])
        for c in names
    ]
    systems = [
        (
            "raw encode (limit)",
            [f["encode_cps"] / n for f, n in zip(figures, per_article, strict=True)],
        ),
        ("rag ingest", [f["ingest_aps"] for f in figures]),
        ("LlamaIndex quickstart", [f["li_aps"] for f in figures]),
    ]
    width = 0.8 / len(systems)
    for j, (label, values) in enumerate(systems):
        left.bar([i + j * width for i in range(len(names))], values, width, label=label)
    left.set_xticks([i + width for i in range(len(names))], names)
    left.set_ylabel("articles per second")
    left.set_title("Ingest throughput")
    left.margins(y=0.25)
    left.legend(loc="upper left", fontsize="small")
    backend = result.settings["backend"]
    served = sorted(
        (q for q in result.questions if q["backend"] == backend), key=lambda q: q["chunks"]
    )
    sizes = [q["chunks"] for q in served]
    for key, label in (("retrieval", "retrieval"), ("answer", "whole answer")):
        for pct, style in (("p50", "-o"), ("p95", "--x")):
            right.plot(
                sizes, [_latency(q)[f"{key}_{pct}"] for q in served], style, label=f"{label} {pct}"
            )
    right.axhline(50, color="grey", linewidth=0.8, linestyle=":")
    right.axhline(200, color="grey", linewidth=0.8, linestyle=":")
    right.set_xscale("log")
    right.set_xlabel("chunks in the library")
    right.set_ylabel("ms")
    right.set_title("Question latency (targets 50 / 200 ms)")
    right.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_results(result: BenchResult, out: Path) -> list[Path]:
    """bench.md, bench.json and bench.png in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    md = out / "bench.md"
    md.write_text(markdown(result) + "\n", encoding="utf-8")
    js = out / "bench.json"
    js.write_text(json.dumps(result.to_json(), indent=1), encoding="utf-8")
    return [md, js, chart(result, out / "bench.png")]
