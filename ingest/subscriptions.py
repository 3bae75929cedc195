"""The feeds and folders a library follows, and what the watcher knows of each (last poll, last
error, entries seen), kept in the library itself: one record per subscription beside the
articles, so that a restart, another process or another machine on the same Chroma server
carries on where the last poll stopped."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.store import Store

KIND = "feeds"
#: Entries remembered per subscription, newest kept: a feed lists its last few dozen entries,
#: and one that has dropped out of it does not come back.
MAX_SEEN = 5_000


def when(stamp: float) -> str:
    """A subscription's time (seconds since the epoch) as local ``YYYY-MM-DD HH:MM``."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "never"


def is_feed_url(ref: str) -> bool:
    return ref.startswith(("http://", "https://"))


def normalise_ref(ref: str) -> str:
    """The form a subscription is kept under: the URL as given, a folder as an absolute path."""
    ref = ref.strip()
    return ref if is_feed_url(ref) else str(Path(ref).expanduser().resolve())


@dataclass
class Subscription:
    """A followed feed (RSS/Atom URL) or folder, and its polling state."""

    ref: str
    kind: str  # "feed" or "folder"
    title: str = ""
    added_at: float = 0.0
    #: Times are seconds since the epoch; 0 means never.
    last_poll: float = 0.0
    last_ok: float = 0.0
    last_error: str = ""
    #: Polls failed in a row: the wait before the next one doubles with each.
    failures: int = 0
    next_poll: float = 0.0
    #: The validators of the feed's last answer, sent back as If-None-Match/If-Modified-Since.
    etag: str = ""
    modified: str = ""
    #: Articles added or replaced from this subscription so far.
    articles: int = 0
    #: Entry key (GUID, canonical URL, or file path) -> the version stored (date or file stamp).
    seen: dict[str, str] = field(default_factory=dict)
    #: Entry key -> fetches that failed; given up on (and marked seen) after a few.
    tries: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return hashlib.sha256(self.ref.encode("utf-8")).hexdigest()[:16]

    def remember(self, key: str, version: str) -> None:
        self.seen.pop(key, None)  # re-inserted last: the dict keeps the newest at the end
        self.seen[key] = version
        self.tries.pop(key, None)
        while len(self.seen) > MAX_SEEN:
            del self.seen[next(iter(self.seen))]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Subscription:
        data = json.loads(text)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


class Subscriptions:
    """The library's subscriptions, read and written through its store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def all(self) -> list[Subscription]:
        """Every subscription, oldest first."""
        subs = [Subscription.from_json(t) for t in self.store.records(KIND).values()]
        return sorted(subs, key=lambda s: (s.added_at, s.ref))

    def get(self, ref: str) -> Subscription | None:
        ref = normalise_ref(ref)
        return next((s for s in self.all() if s.ref == ref), None)

    def save(self, sub: Subscription) -> None:
        self.store.put_record(KIND, sub.key, sub.to_json())

    def remove(self, ref: str) -> bool:
        """Stop following ``ref``; False when it was not followed. Its articles stay."""
        sub = self.get(ref)
        if sub is None:
            return False
        self.store.drop_record(KIND, sub.key)
        return True
