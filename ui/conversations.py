"""The HTTP API's conversations, kept by id between requests: at most ``MOST`` at once, each
forgotten after ``IDLE`` seconds without a question, so memory stays bounded however many
clients come and go."""

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
#: Seconds a conversation is kept after its last question.
IDLE = 3600.0


@dataclass
class Conversation:
    id: str
    chat: Chat
    #: One question at a time per conversation: each follows up on the one before.
    turn: threading.Lock = field(default_factory=threading.Lock)
    used: float = field(default_factory=time.monotonic)


class Conversations:
    """Conversations by id, least recently used first."""

    def __init__(self, most: int = MOST, idle: float = IDLE) -> None:
        self.most, self.idle = most, idle
        self._kept: OrderedDict[str, Conversation] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, new_chat: Callable[[], Chat]) -> Conversation:
        conversation = Conversation(uuid.uuid4().hex, new_chat())
        with self._lock:
            self._expire()
            self._kept[conversation.id] = conversation
            while len(self._kept) > self.most:
                self._kept.popitem(last=False)
        return conversation

    def get(self, conversation_id: str) -> Conversation | None:
        with self._lock:
            self._expire()
            conversation = self._kept.get(conversation_id)
            if conversation is not None:
                conversation.used = time.monotonic()
                self._kept.move_to_end(conversation_id)
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
