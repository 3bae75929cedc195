"""The library's write turn: one writer at a time, across the threads of a process (a lock) and
across processes (a lock file beside an embedded library)."""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def writers_turn(home: Path) -> Iterator[None]:
    """Hold the embedded library's write turn across processes (a lock file beside it)."""
    with open(home / "write.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class WriteTurn:
    """One store's write turn: its writing threads take turns, and on an embedded library
    they take turns with other processes too, each catching up before it writes."""

    def __init__(self, home: Path | None, catch_up: Callable[[], object]) -> None:
        #: The folder of an embedded library (its lock file); None for a Chroma server.
        self._home = home
        #: Opens the store afresh when another process committed since this one last looked.
        self._catch_up = catch_up
        #: Guards no field: held for the whole turn, so one thread of this process writes at a
        #: time (on a Chroma server, the only turn there is).
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        """Hold the turn: each writer writes on an index that holds every earlier writer's work."""
        with self._lock:
            if self._home is None:
                yield
                return
            with writers_turn(self._home):
                self._catch_up()
                yield
