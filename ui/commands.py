"""``rag serve``: the page on 127.0.0.1:7860 by default (registered through the
``rag.commands`` entry point, so rag never imports ui)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def cmd_serve(args: argparse.Namespace) -> int:
    from rag.assistant import Assistant
    from rag.cli import config_from_args
    from ui.app import launch
    from ui.guard import Access

    user = os.environ.get("RAG_UI_USER")
    password = os.environ.get("RAG_UI_PASSWORD")
    if bool(user) != bool(password):
        raise ValueError("set both RAG_UI_USER and RAG_UI_PASSWORD for a login, or neither")
    qa = Assistant.open(config_from_args(args))
    print("loading the model and the keyword index…", file=sys.stderr)
    qa.warm_up()
    print(
        f"serving {len(qa.documents())} articles on http://{args.host}:{args.port}", file=sys.stderr
    )
    auth = (user, password) if user and password else None
    token = os.environ.get("RAG_API_TOKEN") or None
    if token and auth is None:
        print(
            "note: RAG_API_TOKEN guards the HTTP API only; the page itself is open "
            "(set RAG_UI_USER and RAG_UI_PASSWORD for a login)",
            file=sys.stderr,
        )
    origins = tuple(
        o.strip() for o in os.environ.get("RAG_CORS_ORIGINS", "").split(",") if o.strip()
    )
    launch(qa, args.host, args.port, Access(auth, token), not args.no_watch, origins)
    return 0


def register(sub: Any) -> None:
    """Add ``rag serve`` to the CLI."""
    from rag.cli import add_model_option

    serve = sub.add_parser("serve", help="the chat page (Gradio) on 127.0.0.1:7860")
    serve.add_argument(
        "--host", default=os.environ.get("RAG_UI_HOST", "127.0.0.1"), help="RAG_UI_HOST"
    )
    serve.add_argument(
        "--port", type=int, default=int(os.environ.get("RAG_UI_PORT", "7860")), help="RAG_UI_PORT"
    )
    add_model_option(serve)
    serve.add_argument(
        "--no-watch",
        action="store_true",
        help="do not poll the library's feeds here (when one `rag watch` does it for all)",
    )
    serve.set_defaults(func=cmd_serve)
