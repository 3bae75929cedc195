"""Conversations kept between requests, by key: the HTTP API's (a random id it hands out) and
the OpenAI endpoint's (a hash of the turns so far). At most ``MOST`` at once and ``PER_CLIENT``
of one client, each forgotten after ``IDLE`` seconds without a question, so memory stays
bounded however many clients come and go, and one client that starts many conversations
pushes out its own oldest, not everyone's."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.chat import Chat

#: Conversations kept at once; the least recently used goes first past it. A chat holds a few
#: answers and the passages of its story: well under 1 MB each.
MOST = 1000
#: Conversations one client (one address) may keep; its own least recently used goes first.
PER_CLIENT = 100
#: Seconds a conversation is kept after its last question.
IDLE = 3600.0


@dataclass
class Conversation:
    id: str
    chat: Chat
    #: Who started it (the client's address), for the per-client bound.
    owner: str = ""
    #: One question at a time per conversation: each follows up on the one before.
    turn: threading.Lock = field(default_factory=threading.Lock)
    used: float = field(default_factory=time.monotonic)


class Conversations:
    """Conversations by key, least recently used first."""

    def __init__(self, most: int = MOST, idle: float = IDLE, per_client: int = PER_CLIENT):
        self.most, self.idle, self.per_client = most, idle, per_client
        self._kept: OrderedDict[str, Conversation] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, new_chat: Callable[[], Chat], owner: str = "") -> Conversation:
        """A new conversation under a random id."""
        return self.put(uuid.uuid4().hex, new_chat(), owner)

    def put(self, key: str, chat: Chat, owner: str = "") -> Conversation:
        """Keep ``chat`` under ``key`` (replacing what was there)."""
        conversation = Conversation(key, chat, owner)
        with self._lock:
            self._expire()
            self._kept.pop(key, None)
            self._kept[key] = conversation
            mine = [k for k, c in self._kept.items() if c.owner == owner]
            for oldest in mine[: max(0, len(mine) - self.per_client)]:
                del self._kept[oldest]
            while len(self._kept) > self.most:
                self._kept.popitem(last=False)
        return conversation

    def get(self, key: str) -> Conversation | None:
        with self._lock:
            self._expire()
            conversation = self._kept.get(key)
            if conversation is not None:
                conversation.used = time.monotonic()
                self._kept.move_to_end(key)
            return conversation

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._kept)

    def _expire(self) -> None:
        now = time.monotonic()
        while self._kept:
            oldest = next(iter(self._kept.values()))
            if now - oldest.used < self.idle:
                return
            self._kept.popitem(last=False)
