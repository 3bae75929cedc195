"""The Evaluation tab: the last ``rag eval`` report run with this library's settings (its
metrics table and chart), read from the files ``rag eval`` keeps under ``RAG_HOME/eval/``.
An eval answers from its dataset's own corpus, in a library of its own: the report says how
the answering of this version and settings scores, not what this library holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr

from ui.render import md_text

#: The metrics shown, in this order (the rest are in the report files).
SHOWN = (
    "fact_recall", "all_facts_stated", "citation_support", "rationale_cited", "hit@5", "mrr",
    "refusal_precision", "refusal_recall", "latency_p50_ms", "latency_p95_ms",
)  # fmt: skip


def latest_report(home: Path) -> Path | None:
    """The folder of the newest report ``rag eval`` kept for the library at ``home``."""
    found = sorted(
        (home / "eval").glob("*/results.json"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    return found[0].parent if found else None


def _cell(value: Any, name: str) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if name.startswith("latency") else f"{value:.3f}"


def report_markdown(folder: Path) -> str:
    """The report's metrics as a Markdown table, one column per group of turns."""
    results = json.loads((folder / "results.json").read_text("utf-8"))
    metrics: dict[str, dict[str, Any]] = results["metrics"]
    groups = list(metrics)
    lines = [
        f"**{md_text(str(results['dataset']))}**, {md_text(str(results['mode']))} mode, "
        f"k={int(results['k'])}: {int(results['articles'])} articles",
        "",
        "| metric | "
        + " | ".join(f"{md_text(g)} (n={metrics[g]['turns']})" for g in groups)
        + " |",
        "| --- |" + " ---: |" * len(groups),
    ]
    for name in SHOWN:
        if any(name in metrics[g] for g in groups):
            cells = " | ".join(_cell(metrics[g].get(name), name) for g in groups)
            lines.append(f"| {md_text(name)} | {cells} |")
    return "\n".join(lines)


def shown(home: Path) -> tuple[str, Any]:
    """The tab's table and chart as they are now."""
    folder = latest_report(home)
    if folder is None:
        return (
            "No evaluation of this library yet: `rag eval --dataset samples` (or your own "
            "dataset) keeps its last report here.",
            None,
        )
    try:
        table = report_markdown(folder)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # Being written by a running `rag eval`, or from another version: the page goes on.
        return (
            f"The last evaluation report could not be read ({md_text(type(exc).__name__)}).",
            None,
        )
    chart = folder / "chart.png"
    return table, str(chart) if chart.exists() else None


def eval_tab(home: Path) -> tuple[Any, Any, Any]:
    """The tab's components, inside the current Blocks: table, chart and a refresh button."""
    table = gr.Markdown("", elem_id="eval-report")
    chart = gr.Image(None, label="Metrics and latency", elem_id="eval-chart", interactive=False)
    refresh = gr.Button("Refresh", elem_id="eval-refresh", size="sm")
    refresh.click(lambda: shown(home), None, [table, chart], api_visibility="private")
    return table, chart, refresh
