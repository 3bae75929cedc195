"""The parts of ``docs/`` made from the code: ``python -m eval.docs`` rewrites every block
between ``<!-- generated: NAME ... -->`` and ``<!-- /generated -->`` with what its maker gives
now, so a table of fitted weights cannot go stale; ``tests/test_docs.py`` checks that each is
up to date."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from rag.choice import WEIGHTS as CHOICE_WEIGHTS

DOCS = Path(__file__).resolve().parents[1] / "docs"
_BLOCK = re.compile(r"(<!-- generated: ([\w-]+)[^>]*-->\n)(.*?)(<!-- /generated -->)", re.S)


def choice_weights() -> str:
    """The sentence choice's fitted weights and training accuracy (``rag/choice_weights.json``)."""
    data = json.loads(CHOICE_WEIGHTS.read_text("utf-8"))
    accuracy = ", ".join(f"{v:.3f} {k}" for k, v in data["training_accuracy"].items())
    lines = [
        f"Training accuracy (the best candidate holds the answer): {accuracy}.",
        "",
        "| feature | weight |",
        "| --- | ---: |",
    ]
    lines += [
        f"| `{f}` | {w:+.3f} |" for f, w in zip(data["features"], data["weights"], strict=True)
    ]
    return "\n".join(lines)


MAKERS: dict[str, Callable[[], str]] = {"choice-weights": choice_weights}


def refreshed(text: str) -> str:
    """``text`` with every generated block made anew."""

    def made(m: re.Match[str]) -> str:
        return f"{m.group(1)}{MAKERS[m.group(2)]()}\n{m.group(4)}"

    return _BLOCK.sub(made, text)


def main() -> int:
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text("utf-8")
        new = refreshed(text)
        if new != text:
            path.write_text(new, "utf-8")
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
