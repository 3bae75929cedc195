"""The library: chunks with their vectors in one Chroma collection, article texts and their
state in a second. Embedded (``PersistentClient``) or a Chroma server (``HttpClient``), one code
path, chosen by ``Config.chroma_url``.

Several processes may open one embedded library (a `rag serve`, a cron `rag ingest`, a script).
Chroma's embedded mode is not built for that: each process holds its vector index in memory and
never reloads it, and two writers at once can leave a batch out of it. So writers take turns
under a lock file beside the store (``turns``: a second writer waits; each catches up before it
writes), and a reader whose library changed under it, in another process, opens the store afresh
in the background (``freshness``); the Chroma system it replaces is stopped once no read is in
flight on it (``systems``).

The parts: ``facade`` (the ``Store``), ``systems`` (Chroma clients and systems), ``freshness``
(the generation and reopening), ``turns`` (the writers' turn), ``layout`` (the collections and
upgrades of old libraries), ``articles`` (article records), ``chunks`` (chunk rows), ``commits``
(all-or-nothing writes), ``side`` (records beside the articles), ``base`` (what all share)."""

from rag.store.base import (
    MODEL_KEY,
    PAGE,
    PENDING,
    READY,
    ModelMismatchError,
    StoreError,
)
from rag.store.chunks import published_day
from rag.store.facade import Store
from rag.store.freshness import REFRESH_EVERY
from rag.store.systems import chroma_settings, fresh_client, open_client
from rag.store.turns import writers_turn

#: The name ``eval.bench_worker`` imports.
_chroma_settings = chroma_settings

__all__ = [
    "MODEL_KEY",
    "PAGE",
    "PENDING",
    "READY",
    "REFRESH_EVERY",
    "ModelMismatchError",
    "Store",
    "StoreError",
    "chroma_settings",
    "fresh_client",
    "open_client",
    "published_day",
    "writers_turn",
]
