"""The ``rag`` subcommands that eval provides (registered through the ``rag.commands``
entry point); heavy imports wait until a command runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

COQA = "../shared/datasets/coqa-wikipedia"
NEWS = "../shared/datasets/coqa-cnn-dev"
DEFAULT_SIZES = (1_000, 10_000, 100_000)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.live:
        return _bench_live(args)
    from eval.bench import llm_markdown, markdown, run_bench, write_results

    sizes = tuple(int(x) for x in args.sizes.split(",")) if args.sizes else DEFAULT_SIZES
    result = run_bench(
        _dataset_folder(args.dataset or COQA),
        repeats=args.repeats,
        sizes=sizes,
        larger=not args.quick,
        library=Path(args.library) if args.library else None,
        only_llm=args.llm_only,
    )
    if args.llm_only:
        print("\n".join(llm_markdown(result.llm)).strip())
        return 0
    print(markdown(result))
    files = write_results(result, Path(args.out))
    print(f"\nwritten: {', '.join(str(f) for f in files)}")
    return 0


def _bench_live(args: argparse.Namespace) -> int:
    from eval.bench_live import markdown, run_live, write_live

    result = run_live(
        _dataset_folder(args.dataset or NEWS),
        size=args.live_size,
        chats=args.chats,
        interval=args.interval,
        quiet_seconds=args.quiet_seconds,
        library=Path(args.library) if args.library else None,
    )
    print(markdown(result))
    files = write_live(result, Path(args.out))
    print(f"\nwritten: {', '.join(str(f) for f in files)}")
    return 0


DATASETS = Path(__file__).resolve().parent / "datasets"


def _dataset_folder(name: str) -> Path:
    """A dataset folder, or the name of one under ``eval/datasets``."""
    path = Path(name)
    if path.is_dir():
        return path
    if (DATASETS / name).is_dir():
        return DATASETS / name
    known = ", ".join(sorted(p.name for p in DATASETS.iterdir() if p.is_dir()))
    raise ValueError(f"no dataset {name!r}: give a folder, or one of: {known}")


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.dataset import load_dataset
    from eval.gate import DEFAULT_TOLERANCE, baseline_path, check, write_baseline
    from eval.report import summary_table, write_report
    from eval.run import run_eval
    from rag.cli import config_from_args

    data = load_dataset(_dataset_folder(args.dataset), Path(args.corpus) if args.corpus else None)
    config = config_from_args(args)
    run = run_eval(data, mode=args.mode, k=args.k, config=config)
    print(summary_table(run))
    baseline = Path(args.baseline) if args.baseline else baseline_path(run.dataset, run.mode)
    verdict, passed = "", True
    if args.update_baseline:
        write_baseline(baseline, run.metrics, args.tolerance or DEFAULT_TOLERANCE)
        verdict = f"baseline written: {baseline}"
    elif args.check:
        passed, verdict = check(baseline, run.metrics)
    if verdict:
        print(f"\n{verdict}")
    if args.report:
        files = write_report(run, Path(args.report), verdict)
        print(f"\nreport: {', '.join(str(f) for f in files)}")
    # Kept in the home of the settings it ran with, where the page's Evaluation tab shows it.
    write_report(run, latest_report_folder(config.home, run.dataset, run.mode), verdict)
    return 0 if passed else 1


def latest_report_folder(home: Path, dataset: str, mode: str) -> Path:
    """Where ``rag eval`` keeps its last report of ``dataset`` in ``mode``, under ``home``."""
    return home / "eval" / f"{Path(dataset).name}-{mode}"


def register(sub: Any) -> None:
    """Add ``rag bench`` and ``rag eval`` to the CLI."""
    ev = sub.add_parser(
        "eval", help="score answers against a dataset of known facts; gate regressions"
    )
    ev.add_argument(
        "--dataset", default="samples", help="dataset folder, or a name under eval/datasets"
    )
    ev.add_argument("--corpus", help="corpus to ingest instead of the dataset's own")
    ev.add_argument("--mode", choices=["extractive", "llm"], default="extractive")
    ev.add_argument("-k", type=int, default=5, help="passages retrieved per question")
    ev.add_argument(
        "--report", metavar="DIR", help="write report.md, results.json, items.csv, chart.png"
    )
    ev.add_argument(
        "--check", action="store_true", help="exit 1 if a metric fell below its baseline"
    )
    ev.add_argument("--baseline", help="baseline file (default eval/baselines/DATASET-MODE.json)")
    ev.add_argument(
        "--update-baseline", action="store_true", help="write the baseline from this run"
    )
    ev.add_argument("--tolerance", type=float, help=f"with --update-baseline (default {0.02})")
    ev.set_defaults(func=cmd_eval)

    bench = sub.add_parser(
        "bench",
        help="measure ingest and question speed beside raw encoding and LlamaIndex",
    )
    bench.add_argument(
        "--dataset",
        help="dataset folder whose corpus is ingested and whose conversations are asked "
        f"(default {COQA}; with --live {NEWS})",
    )
    bench.add_argument("--repeats", type=int, default=3, help="runs to take the median of")
    bench.add_argument(
        "--sizes",
        help="library sizes in chunks for question latency (default 1000,10000,100000)",
    )
    bench.add_argument("--quick", action="store_true", help="skip the larger ingest corpus")
    bench.add_argument("--out", default="artifacts/bench", help="folder for bench.md/json/png")
    bench.add_argument(
        "--library", help="build the question libraries here and keep them (default: a temp dir)"
    )
    bench.add_argument(
        "--llm-only",
        action="store_true",
        help="only LLM mode with the real small model (needs `make local-llm`)",
    )
    live = bench.add_argument_group("--live: a library that takes in news while chats ask")
    live.add_argument(
        "--live",
        action="store_true",
        help="8 chats ask at once while articles stream in (writes live.md/json/png)",
    )
    live.add_argument("--live-size", type=int, default=100_000, help="library size in chunks")
    live.add_argument("--chats", type=int, default=8, help="chats asking at once")
    live.add_argument(
        "--interval", type=float, default=3.0, help="seconds between streamed articles"
    )
    live.add_argument(
        "--quiet-seconds", type=float, default=30.0, help="length of the quiet question phase"
    )
    bench.set_defaults(func=cmd_bench)
