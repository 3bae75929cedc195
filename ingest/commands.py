"""``rag ingest`` and ``rag watch`` (registered through the ``rag.commands`` entry point, so
that rag never imports ingest)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import Any


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.progress import progress_for
    from rag.assistant import Assistant
    from rag.cli import config_from_args
    from rag.embeddings import embedding_model_name
    from rag.store import Store

    config = config_from_args(args)
    if args.if_empty:
        existing = Store.open(config, embedding_model_name(config.embed_model)).documents()
        if existing:
            print(f"library has {len(existing)} articles; nothing ingested (--if-empty)")
            return 0
    qa = Assistant.open(config)
    report = qa.ingest(*args.sources, progress=progress_for(sys.stderr))
    print(report.summary())
    return 0 if report.ok else 1


def _print_list(watcher: Any) -> int:
    from ingest.subscriptions import when

    subs = watcher.subscriptions.all()
    if not subs:
        print("the library follows no feeds or folders; add one with: rag watch FEED_URL|FOLDER")
    for s in subs:
        error = f"  last error: {s.last_error}" if s.last_error else ""
        print(
            f"{s.kind:6}  {s.ref}  {s.title!r}  last poll {when(s.last_poll)}, "
            f"{s.articles} articles, {len(s.seen)} entries seen{error}"
        )
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    """The first Ctrl-C (or SIGTERM) ends the watch after the article being stored; a
    second one interrupts at once (the store's all-or-nothing writes still hold)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("rag watch: stopping after the article being stored…", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def cmd_watch(args: argparse.Namespace) -> int:
    from ingest.feeds import Watcher
    from ingest.progress import SilentProgress
    from rag.assistant import Assistant
    from rag.cli import config_from_args

    config = config_from_args(args)
    if args.interval is not None:
        config = config.with_(watch_interval=args.interval)
        config.validate()
    qa = Assistant.open(config)
    watcher = Watcher(qa.store, qa.embedder, qa.config, SilentProgress())
    for ref in args.forget or []:
        found = watcher.unfollow(ref)
        print(f"{ref}: {'no longer followed' if found else 'was not followed'}")
    for ref in args.refs:
        sub = watcher.follow(ref)
        print(f"following {sub.kind} {sub.ref}", file=sys.stderr)
    if args.list or (args.forget and not args.refs):
        return _print_list(watcher)
    if not watcher.subscriptions.all():
        raise ValueError("nothing to watch: give FEED_URL or FOLDER (they are then remembered)")
    stop = threading.Event()
    _stop_on_signals(stop)
    failed = False

    def report(result: Any) -> None:
        nonlocal failed
        failed = failed or bool(result.error)
        print(result.line(), file=sys.stderr, flush=True)

    if args.once:
        for result in watcher.poll_due(stop, force=True):
            report(result)
        return 1 if failed else 0
    print(
        f"watching {len(watcher.subscriptions.all())} feeds and folders every "
        f"{config.watch_interval:g} s; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    watcher.run(stop, report)
    print("rag watch: stopped; every article stored is complete", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    """Add ``rag ingest`` and ``rag watch`` to the CLI."""
    ingest = sub.add_parser("ingest", help="add articles from files, folders, JSONL or URLs")
    ingest.add_argument("sources", nargs="+", metavar="PATH|URL")
    ingest.add_argument(
        "--if-empty", action="store_true", help="do nothing when the library has articles"
    )
    ingest.set_defaults(func=cmd_ingest)

    watch = sub.add_parser(
        "watch",
        help="follow RSS/Atom feeds and folders, ingesting what is new (Ctrl-C stops)",
        description="Follow feeds and folders: the ones given are added to the library's "
        "subscriptions, then every subscription is polled until Ctrl-C.",
    )
    watch.add_argument("refs", nargs="*", metavar="FEED_URL|FOLDER")
    watch.add_argument(
        "--interval", type=float, help="seconds between polls (RAG_WATCH_INTERVAL, default 300)"
    )
    watch.add_argument("--once", action="store_true", help="poll everything once, then exit")
    watch.add_argument("--list", action="store_true", help="list the subscriptions and exit")
    watch.add_argument("--forget", action="append", metavar="REF", help="stop following REF")
    watch.set_defaults(func=cmd_watch)
