"""The ``rag`` subcommands that eval provides (registered through the ``rag.commands``
entry point); heavy imports wait until a command runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_CORPUS = "../shared/datasets/coqa-wikipedia/corpus.jsonl"


def cmd_bench(args: argparse.Namespace) -> int:
    from eval.bench import bench_ingest
    from rag.cli import config_from_args

    result = bench_ingest(Path(args.corpus), repeats=args.repeats, config=config_from_args(args))
    print(result.table())
    return 0


def register(sub: Any) -> None:
    """Add ``rag bench`` to the CLI."""
    bench = sub.add_parser("bench", help="measure ingest throughput against raw encoding")
    bench.add_argument(
        "--corpus", default=DEFAULT_CORPUS, help="articles to ingest (file or folder)"
    )
    bench.add_argument("--repeats", type=int, default=3, help="runs to take the median of")
    bench.set_defaults(func=cmd_bench)
