"""The ``rag`` command. Heavy imports (torch, the model) happen only in the commands that
need them, so ``rag docs list`` answers at once."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TextIO

from rag.answer import ShortText
from rag.config import EMBED_BACKENDS, Config
from rag.embeddings import EmbeddingError
from rag.store import Store, StoreError


def config_from_args(args: argparse.Namespace) -> Config:
    """The config that the global options and ``RAG_*`` variables describe."""
    gguf = getattr(args, "gguf", None)
    config = Config.from_env(
        home=Path(args.home) if args.home else None,
        chroma_url=args.chroma_url,
        collection=args.collection,
        embed_model=args.embed_model,
        embed_backend=args.embed_backend,
        llm_gguf=Path(gguf) if gguf else None,
    )
    # A model given on the command line is there to answer with.
    return config.with_(answer_mode="llm") if gguf and not getattr(args, "mode", None) else config


def _open_store(config: Config) -> Store:
    """The library for reading and removing, without loading the embedding model."""
    return Store.open(config, None)


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


def _filters(args: argparse.Namespace) -> Any:
    from rag.retrieve import Filters

    return Filters(
        sources=tuple(args.source or ()), date_from=args.date_from or "", date_to=args.date_to or ""
    )


def _print_citations(answer: Any, out: TextIO) -> None:
    for c in answer.citations:
        about = ", ".join(x for x in (c.source, c.published) if x)
        print(f"  [{c.n}] {c.title}" + (f" ({about})" if about else ""), file=out)
        print(f"      \u201c{c.quote}\u201d  [chars {c.start}-{c.end} of {c.article_id}]", file=out)
        if c.url:
            print(f"      {c.url}", file=out)


def _answer_json(answer: Any) -> str:
    return json.dumps(answer.to_dict(), indent=2, ensure_ascii=False)


def _show(stream: Any, out: TextIO) -> Any:
    """Print an answer as it streams, then its citations; return the answer."""
    bold = out.isatty()
    for piece in stream:
        out.write(f"\033[1m{piece}\033[0m" if bold and isinstance(piece, ShortText) else piece)
        out.flush()
    out.write("\n")
    answer = stream.answer
    if answer.dropped_markers:
        print(
            f"  ({answer.dropped_markers} marker(s) dropped: they named no passage, or one "
            "that does not back their sentence)",
            file=out,
        )
    if answer.unsupported:
        fallback = " (the extractive answer stands in)" if answer.mode == "extractive" else ""
        print(
            f"  ({answer.unsupported} sentence(s) of the model's reply held back: no article "
            f"supports them){fallback}",
            file=out,
        )
    if answer.set_apart:
        print("  Not found in the articles:", file=out)
        for sentence in answer.set_apart:
            print(f"    - {sentence}", file=out)
    _print_citations(answer, out)
    return answer


def _assistant(args: argparse.Namespace) -> Any:
    from rag.assistant import Assistant

    config = config_from_args(args)
    if args.mode:
        config = config.with_(answer_mode=args.mode)
    config.validate()
    qa = Assistant.open(config)
    if qa.is_empty():
        raise ValueError("the library is empty; add articles with: rag ingest PATH|URL...")
    return qa


def cmd_model_fetch(args: argparse.Namespace) -> int:
    from rag.model_fetch import FetchError, fetch

    try:
        fetch(args.name)
    except FetchError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    qa = _assistant(args)
    stream = qa.stream(args.question, k=args.k, filters=_filters(args))
    if args.json:
        print(_answer_json(stream.answer))
    else:
        _show(stream, sys.stdout)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from rag.llm import LLMError

    qa = _assistant(args)
    chat = qa.chat(k=args.k, filters=_filters(args))
    interactive = sys.stdin.isatty()
    if interactive:
        print("Ask about the articles. /new starts over, /quit (or Ctrl-D) ends.")
    while True:
        try:
            line = input("you> " if interactive else "")
        except (EOFError, KeyboardInterrupt):
            print()
            break
        question = line.strip()
        if not question:
            continue
        if question in ("/quit", "/exit"):
            break
        if question == "/new":
            chat.reset()
            print("(new conversation)")
            continue
        if not interactive:
            print(f"you> {question}")
        try:
            stream = chat.stream(question)
            print("rag> ", end="", flush=True)
            answer = _show(stream, sys.stdout)
        except LLMError as exc:
            # The chat stays usable: a failed turn is not part of its history.
            print(f"\nrag: error: {exc}", file=sys.stderr)
            continue
        if answer.rewritten:
            print(f"  (searched for: {answer.standalone})")
        on = chat.story_articles()
        if on:
            print("  (on: " + "; ".join(_about(p.title, p.published) for p in on) + ")")
    return 0


def _about(title: str, published: str) -> str:
    return f"{title}, {published}" if published else title


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """``--gguf PATH``: LLM mode on a local GGUF model run in the process."""
    parser.add_argument(
        "--gguf", metavar="PATH", help="answer with this local GGUF chat model (RAG_LLM_GGUF)"
    )


def _add_answer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=["extractive", "llm"], help="RAG_ANSWER_MODE")
    add_model_option(parser)
    parser.add_argument("-k", type=int, help="passages to retrieve (RAG_TOP_K, default 5)")
    parser.add_argument("--source", action="append", help="only this source (repeatable)")
    parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="published on/after")
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="published on/before")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Conversational Q&A over news articles, with cited passages."
    )
    parser.add_argument("--home", help="library folder (RAG_HOME, default ./.rag)")
    parser.add_argument("--chroma-url", help="Chroma server, http://host:port (RAG_CHROMA_URL)")
    parser.add_argument("--collection", help="collection name (RAG_COLLECTION)")
    parser.add_argument("--embed-model", help="embedding model (RAG_EMBED_MODEL)")
    parser.add_argument(
        "--embed-backend",
        choices=EMBED_BACKENDS,
        help="how the bundled model runs (RAG_EMBED_BACKEND, default auto: onnx)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    docs = sub.add_parser("docs", help="list or remove the articles in the library")
    docs_sub = docs.add_subparsers(dest="docs_command", required=True, metavar="ACTION")
    listing = docs_sub.add_parser("list", help="list the articles")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=cmd_docs_list)
    remove = docs_sub.add_parser("remove", help="remove articles by id, id prefix, URL or path")
    remove.add_argument("refs", nargs="+", metavar="ID|URL")
    remove.set_defaults(func=cmd_docs_remove)

    ask = sub.add_parser("ask", help="answer one question, with citations")
    ask.add_argument("question")
    _add_answer_options(ask)
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.set_defaults(func=cmd_ask)

    chat = sub.add_parser("chat", help="a conversation in the terminal (follow-ups understood)")
    _add_answer_options(chat)
    chat.set_defaults(func=cmd_chat)

    model = sub.add_parser("model", help="fetch a local chat model for LLM mode")
    model_sub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    fetch = model_sub.add_parser(
        "fetch", help="download and verify a local GGUF chat model into the cache folder"
    )
    fetch.add_argument("name", choices=["qwen-0.5b", "qwen-1.5b"])
    fetch.set_defaults(func=cmd_model_fetch)

    # Commands of the packages built on rag (eval, ui) come in through entry points, so that
    # rag never imports them.
    for entry in entry_points(group="rag.commands"):
        entry.load()(sub)
    return parser


#: What the process needs before anything it runs starts: offline and quiet (nothing in the
#: default path may phone home or reach a model hub). Set where the process starts, not on
#: import, so that a program using the Python API keeps its own environment.
PROCESS_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def main(argv: Sequence[str] | None = None) -> int:
    from rag.llm import LLMError

    for name, value in PROCESS_DEFAULTS.items():
        os.environ.setdefault(name, value)
    args = build_parser().parse_args(argv)
    try:
        config_from_args(args)  # every command: a bad setting is one line, exit 2
        return int(args.func(args))
    except (StoreError, EmbeddingError, LLMError, ValueError) as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rag: interrupted; articles already stored are complete", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
