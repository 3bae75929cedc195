"""What ``rag eval`` writes: a summary table, ``report.md``, ``results.json``, a per-item table
(``items.csv``) and a chart (``chart.png``: metric bars and a latency histogram)."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eval.run import EvalRun

#: Metrics as they appear in tables, in order; latency last.
SHOWN = [
    "coqa_f1",
    "coqa_f1_free",
    "coqa_f1_yes",
    "coqa_f1_no",
    "coqa_f1_unknown",
    "answered",
    "fact_recall",
    "all_facts_stated",
    "citation_support",
    "hit@{k}",
    "mrr",
    "refusal_precision",
    "refusal_recall",
    "rationale_cited",
    "stated_facts_cited",
    "sentences_cited",
    "latency_p50_ms",
    "latency_p95_ms",
]


def _names(k: int) -> list[str]:
    return [m.format(k=k) for m in SHOWN]


def _cell(value: Any, name: str) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if name.endswith("_ms") else f"{value:.3f}"


def summary_table(run: EvalRun) -> str:
    """A markdown table: one row per metric, one column per group of turns."""
    metrics = run.metrics
    groups = list(metrics)
    lines = [
        f"dataset {run.dataset}, mode {run.mode}, k={run.k}: {len(run.results)} turns, "
        f"{run.articles} articles ({run.chunks} chunks)",
        "",
        "| metric | " + " | ".join(f"{g} (n={metrics[g]['turns']})" for g in groups) + " |",
        "| --- |" + " ---: |" * len(groups),
    ]
    for name in _names(run.k):
        cells = " | ".join(_cell(metrics[g].get(name), name) for g in groups)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def write_report(run: EvalRun, folder: Path, gate: str = "") -> list[Path]:
    """Write every report file into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    results = folder / "results.json"
    results.write_text(
        json.dumps(
            {
                "dataset": run.dataset,
                "mode": run.mode,
                "k": run.k,
                "corpus": run.corpus,
                "articles": run.articles,
                "chunks": run.chunks,
                "metrics": run.metrics,
                "turns": [asdict(r) for r in run.results],
            },
            indent=2,
            ensure_ascii=False,
        ),
        "utf-8",
    )
    items = folder / "items.csv"
    with items.open("w", newline="", encoding="utf-8") as out:
        fields = list(asdict(run.results[0])) if run.results else []
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        for r in run.results:
            writer.writerow(asdict(r))
    chart = folder / "chart.png"
    draw_chart(run, chart)
    misses = [r for r in run.results if r.answerable and r.facts and r.stated < r.facts]
    wrong_refusals = [r for r in run.results if r.refused != (not r.answerable)]
    md = [
        f"# rag eval: {run.dataset} ({run.mode})",
        "",
        summary_table(run),
        "",
        "![metrics and latency](chart.png)",
        "",
    ]
    if gate:
        md += ["## Regression gate", "", gate, ""]
    md += [
        f"## Answers missing a fact ({len(misses)})",
        "",
        "| item | turn | question | answer |",
        "| --- | ---: | --- | --- |",
    ]
    for r in misses[:100]:
        md.append(f"| {r.item} | {r.turn} | {_md(r.question)} | {_md(r.answer[:200])} |")
    md += [
        "",
        f"## Refused when answerable, or answered when not ({len(wrong_refusals)})",
        "",
        "| item | turn | question | answerable | answer |",
        "| --- | ---: | --- | --- | --- |",
    ]
    for r in wrong_refusals[:100]:
        md.append(
            f"| {r.item} | {r.turn} | {_md(r.question)} | {r.answerable} | {_md(r.answer[:200])} |"
        )
    report = folder / "report.md"
    report.write_text("\n".join(md) + "\n", "utf-8")
    return [report, results, items, chart]


def _md(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def draw_chart(run: EvalRun, path: Path) -> None:
    """Bars of the quality metrics per group of turns, and a latency histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = run.metrics
    names = [n for n in _names(run.k) if not n.endswith("_ms")]
    fig, (bars, hist) = plt.subplots(1, 2, figsize=(13, 4.5), width_ratios=[2, 1])
    width = 0.8 / len(metrics)
    for i, (group, values) in enumerate(metrics.items()):
        xs = [j + i * width for j in range(len(names))]
        bars.bar(xs, [values.get(n) or 0.0 for n in names], width, label=group)
    bars.set_xticks([j + width * (len(metrics) - 1) / 2 for j in range(len(names))])
    bars.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    bars.set_ylim(0, 1)
    bars.set_title(f"{run.dataset} ({run.mode})")
    bars.legend(fontsize=8)
    hist.hist([r.seconds * 1000 for r in run.results], bins=30, color="tab:gray")
    hist.set_xlabel("ms per turn")
    hist.set_title("latency")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
