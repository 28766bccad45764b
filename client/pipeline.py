"""Bounded, ordered parallel map: while some items wait on the server, others are decoded;
and a step that the threads take in the items' order."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_ordered(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int,
    return_exceptions: bool = False,
) -> Iterator[R | Exception]:
    """``map(fn, items)`` on ``workers`` threads; results in input order.

    At most ``2 * workers`` items are started ahead of the consumer, so memory stays
    bounded however many items there are. With ``return_exceptions`` an item's exception
    is yielded in its place (the rest carry on); otherwise the first one is raised.
    """
    if workers < 1:
        raise ValueError(f"expected at least 1 worker, got {workers}")
    pending: deque[Future[R]] = deque()

    def take() -> R | Exception:
        future = pending.popleft()
        error = future.exception()
        if error is None:
            return future.result()
        if return_exceptions and isinstance(error, Exception):
            return error
        raise error

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cut") as pool:
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= 2 * workers:
                    yield take()
            while pending:
                yield take()
        finally:
            for future in pending:
                future.cancel()


class InTurn:
    """A step that threads take in the order of their items' indexes (0, 1, 2, ...), each
    waiting for the one before: an ordered step inside :func:`map_ordered`'s parallel work
    (``frames --smooth``).

    With ``map_ordered`` this cannot wait forever: its pool starts items in order, so when
    item ``i`` runs, every item before it has started and will take or :meth:`skip` its
    turn; items never started (cancelled) all come after any that did.
    """

    def __init__(self) -> None:
        self.turn = 0
        self.changed = threading.Condition()

    def take(self, index: int, step: Callable[[T], R], value: T) -> R:
        """``step(value)`` once every item before ``index`` has taken or skipped its turn."""
        with self.changed:
            self.changed.wait_for(lambda: self.turn == index)
            try:
                return step(value)
            finally:
                self.turn += 1
                self.changed.notify_all()

    def skip(self, index: int) -> None:
        """Item ``index`` failed before its step: let the next ones have theirs."""
        self.take(index, lambda value: value, None)
