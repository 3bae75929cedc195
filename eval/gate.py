"""The regression gate: committed baselines per dataset and mode (``eval/baselines/``), and a
check that names every metric that fell more than the stated tolerance below its baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BASELINES = Path(__file__).resolve().parent / "baselines"
#: How far a metric may fall below its baseline before the gate fails.
DEFAULT_TOLERANCE = 0.02


def baseline_path(dataset: str, mode: str, folder: Path = BASELINES) -> Path:
    return folder / f"{dataset}-{mode}.json"


def flatten(metrics: dict[str, dict[str, Any]]) -> dict[str, float]:
    """``{"all.fact_recall": 0.8, ...}`` for the quality metrics (latency is not gated: it
    depends on the machine)."""
    return {
        f"{group}.{name}": float(value)
        for group, values in metrics.items()
        for name, value in values.items()
        if value is not None and name != "turns" and not name.endswith("_ms")
    }


def write_baseline(path: Path, metrics: dict[str, dict[str, Any]], tolerance: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "tolerance": tolerance,
        "metrics": {k: round(v, 4) for k, v in flatten(metrics).items()},
    }
    path.write_text(json.dumps(payload, indent=2) + "\n", "utf-8")


def check(path: Path, metrics: dict[str, dict[str, Any]]) -> tuple[bool, str]:
    """``(passed, explanation)`` of the current metrics against the baseline at ``path``."""
    if not path.is_file():
        return False, f"no baseline at {path}; create it with --update-baseline"
    baseline = json.loads(path.read_text("utf-8"))
    tolerance = float(baseline.get("tolerance", DEFAULT_TOLERANCE))
    now = flatten(metrics)
    failures = []
    for name, expected in baseline["metrics"].items():
        got = now.get(name)
        if got is None:
            failures.append(f"{name}: missing (baseline {expected:.3f})")
        elif got < expected - tolerance:
            failures.append(
                f"{name}: {got:.3f} is {expected - got:.3f} below its baseline {expected:.3f}"
            )
    if failures:
        lines = [f"FAILED: {len(failures)} metric(s) fell more than {tolerance} below {path.name}:"]
        return False, "\n".join(lines + [f"- {f}" for f in failures])
    return True, f"passed: {len(baseline['metrics'])} metrics within {tolerance} of {path.name}"
