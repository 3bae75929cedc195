"""The HTTP API's conversations stay bounded: the least recently used goes past the cap,
one left idle is forgotten, and one client cannot push out the others' conversations."""

from __future__ import annotations

import time
from typing import Any

from ui.conversations import Conversations


def chat() -> Any:
    return object()  # what a conversation holds does not matter to the container


def test_the_least_recently_used_conversation_goes_first_past_the_cap() -> None:
    kept = Conversations(most=2)
    a, b = kept.start(chat), kept.start(chat)
    assert kept.get(a.id) is a  # a is now the most recent
    c = kept.start(chat)
    assert len(kept) == 2 and kept.get(b.id) is None
    assert kept.get(a.id) is a and kept.get(c.id) is c
    assert a.id != c.id


def test_an_idle_conversation_is_forgotten() -> None:
    kept = Conversations(idle=0.2)
    old = kept.start(chat)
    time.sleep(0.3)
    new = kept.start(chat)
    assert kept.get(old.id) is None and kept.get(new.id) is new and len(kept) == 1


def test_one_client_past_its_share_evicts_only_its_own_conversations() -> None:
    kept = Conversations(most=10, per_client=3)
    theirs = [kept.start(chat, owner="other") for _ in range(3)]
    mine = [kept.start(chat, owner="greedy") for _ in range(8)]
    assert all(kept.get(c.id) is c for c in theirs)
    assert [kept.get(c.id) is c for c in mine] == [False] * 5 + [True] * 3
