"""``rag serve``: the page on 127.0.0.1:7860 by default (registered through the
``rag.commands`` entry point, so rag never imports ui)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def cmd_serve(args: argparse.Namespace) -> int:
    from rag.assistant import Assistant
    from rag.cli import config_from_args
    from ui.app import launch
    from ui.guard import Access

    config = config_from_args(args)
    host = args.host or config.ui_host
    port = args.port or config.ui_port
    qa = Assistant.open(config)
    print("loading the model and the keyword index…", file=sys.stderr)
    qa.warm_up()
    print(f"serving {len(qa.documents())} articles on http://{host}:{port}", file=sys.stderr)
    if config.api_token and config.login is None:
        print(
            "note: RAG_API_TOKEN guards the HTTP API only; the page itself is open "
            "(set RAG_UI_USER and RAG_UI_PASSWORD for a login)",
            file=sys.stderr,
        )
    access = Access(config.login, config.api_token)
    launch(qa, host, port, access, not args.no_watch, config.cors_origins)
    return 0


def register(sub: Any) -> None:
    """Add ``rag serve`` to the CLI."""
    from rag.cli import add_model_option

    serve = sub.add_parser("serve", help="the chat page (Gradio) on 127.0.0.1:7860")
    serve.add_argument("--host", help="address to listen on (RAG_UI_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (RAG_UI_PORT, default 7860)")
    add_model_option(serve)
    serve.add_argument(
        "--no-watch",
        action="store_true",
        help="do not poll the library's feeds here (when one `rag watch` does it for all)",
    )
    serve.set_defaults(func=cmd_serve)
