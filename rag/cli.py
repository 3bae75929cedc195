"""The ``rag`` command. Heavy imports (torch, the model) happen only in the commands that
need them, so ``rag docs list`` answers at once."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from importlib.metadata import entry_points
from pathlib import Path

import rag  # noqa: F401  (sets the offline and no-telemetry defaults first)
from rag.config import Config
from rag.embeddings import EmbeddingError, embedding_model_name
from rag.store import Store, StoreError


def config_from_args(args: argparse.Namespace) -> Config:
    """The config that the global options and ``RAG_*`` variables describe."""
    return Config.from_env(
        home=Path(args.home) if args.home else None,
        chroma_url=args.chroma_url,
        collection=args.collection,
        embed_model=args.embed_model,
    )


def _open_store(config: Config) -> Store:
    """The library for reading and removing, without loading the embedding model."""
    return Store.open(config, None)


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.progress import progress_for
    from rag.assistant import Assistant

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


def cmd_docs_list(args: argparse.Namespace) -> int:
    docs = _open_store(config_from_args(args)).documents()
    if args.json:
        print(json.dumps([asdict(d) for d in docs], indent=2))
        return 0
    if not docs:
        print("the library is empty; add articles with: rag ingest PATH|URL...")
        return 0
    print(f"{'id':<16}  {'published':<10}  {'source':<18}  {'chunks':>6}  title")
    for d in docs:
        source = (d.source or "-")[:18]
        print(f"{d.id:<16}  {d.published or '-':<10}  {source:<18}  {d.chunks:>6}  {d.title}")
    print(f"{len(docs)} articles, {sum(d.chunks for d in docs)} chunks")
    return 0


def cmd_docs_remove(args: argparse.Namespace) -> int:
    store = _open_store(config_from_args(args))
    missing = 0
    for ref in args.refs:
        found = store.find(ref)
        if not found:
            print(f"not found: {ref} (give an id, an id prefix, a URL or a path)", file=sys.stderr)
            missing += 1
        for info in found:
            store.remove(info.id)
            print(f"removed {info.id}  {info.title}")
    return 1 if missing else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Conversational Q&A over news articles, with cited passages."
    )
    parser.add_argument("--home", help="library folder (RAG_HOME, default ./.rag)")
    parser.add_argument("--chroma-url", help="Chroma server, http://host:port (RAG_CHROMA_URL)")
    parser.add_argument("--collection", help="collection name (RAG_COLLECTION)")
    parser.add_argument("--embed-model", help="embedding model (RAG_EMBED_MODEL)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = sub.add_parser("ingest", help="add articles from files, folders, JSONL or URLs")
    ingest.add_argument("sources", nargs="+", metavar="PATH|URL")
    ingest.add_argument(
        "--if-empty", action="store_true", help="do nothing when the library has articles"
    )
    ingest.set_defaults(func=cmd_ingest)

    docs = sub.add_parser("docs", help="list or remove the articles in the library")
    docs_sub = docs.add_subparsers(dest="docs_command", required=True, metavar="ACTION")
    listing = docs_sub.add_parser("list", help="list the articles")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=cmd_docs_list)
    remove = docs_sub.add_parser("remove", help="remove articles by id, id prefix, URL or path")
    remove.add_argument("refs", nargs="+", metavar="ID|URL")
    remove.set_defaults(func=cmd_docs_remove)

    # Commands of the packages built on rag (eval, ui) come in through entry points, so that
    # rag never imports them.
    for entry in entry_points(group="rag.commands"):
        entry.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (StoreError, EmbeddingError, ValueError) as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rag: interrupted; articles already stored are complete", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
