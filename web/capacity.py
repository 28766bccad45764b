"""Bounded work: ``concurrency`` requests in flight to Triton, ``queue`` more waiting, and every
request beyond that turned away at once (503 + Retry-After) instead of piling up in memory;
and what runs at once within a memory budget, each cut weighed by the bytes it will hold at
its peak (u2net.memory).

A request is admitted before its body is read, so queued bodies are bounded too::

    async with capacity.admit() as admission:   # Overloaded at once when full
        data = await read_body()
        async with admission.running(weight):   # its bytes of the budget, then a slot
            result = await triton.cut(data, parameters)

The budget is first come, first served: a cut that does not fit waits until those before it
have finished, and no later one overtakes it; one that waits longer than ``wait_s`` gets 503
+ Retry-After. A cut heavier than the whole budget is refused before it waits
(``Budget.check``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from web.errors import Overloaded

MB = 1 << 20


class Budget:
    """A weighted first-come-first-served semaphore over ``total`` bytes."""

    def __init__(self, total: int, on_change: Callable[[int], None] = lambda held: None) -> None:
        self.total = total
        self.held = 0
        self.waiting: deque[tuple[int, asyncio.Future[None]]] = deque()
        self.on_change = on_change

    def fits(self, weight: int) -> bool:
        return weight <= self.total

    @asynccontextmanager
    async def hold(self, weight: int, wait_s: float, retry_after_s: int) -> AsyncIterator[None]:
        """``weight`` bytes of the budget (at most ``total``) for the block; Overloaded
        after ``wait_s`` seconds of waiting for them."""
        if self.waiting or self.held + weight > self.total:
            await self._wait(weight, wait_s, retry_after_s)
        else:
            self._take(weight)
        try:
            yield
        finally:
            self._take(-weight)
            self._grant()

    async def _wait(self, weight: int, wait_s: float, retry_after_s: int) -> None:
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (weight, turn)
        self.waiting.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(turn), wait_s)
        except BaseException as e:  # timed out or cancelled: give the turn up
            if turn.done():
                self._take(-weight)  # granted in the meantime: hand it back
            else:
                turn.cancel()
                self.waiting.remove(entry)
            self._grant()
            if isinstance(e, TimeoutError):
                raise Overloaded(
                    f"over capacity: waited {wait_s:g}s for {weight / MB:.0f} MB of the "
                    f"{self.total / MB:.0f} MB memory budget; retry after {retry_after_s}s",
                    retry_after_s,
                ) from e
            raise

    def _take(self, weight: int) -> None:
        self.held += weight
        self.on_change(self.held)

    def _grant(self) -> None:
        """Give the budget to the waiters at the head of the line, in order, while it fits."""
        while self.waiting and self.held + self.waiting[0][0] <= self.total:
            weight, turn = self.waiting.popleft()
            self._take(weight)
            turn.set_result(None)


class Admission:
    def __init__(self, capacity: Capacity) -> None:
        self.capacity = capacity

    @asynccontextmanager
    async def running(self, weight: int = 0) -> AsyncIterator[None]:
        """A slot in flight, once ``weight`` bytes of the memory budget are held for it
        (checked to fit the budget before this: ``Capacity.budget.fits``)."""
        capacity = self.capacity
        hold = capacity.budget.hold(weight, capacity.wait_s, capacity.retry_after_s)
        async with hold, capacity.slots:
            capacity.in_flight += 1
            capacity.changed()
            try:
                yield
            finally:
                capacity.in_flight -= 1
                capacity.changed()


class Capacity:
    def __init__(
        self,
        concurrency: int,
        queue: int,
        retry_after_s: int,
        on_change: Callable[[int, int], None] = lambda in_flight, queued: None,
        *,
        budget: Budget | None = None,
        wait_s: float = 60.0,
    ) -> None:
        self.budget = budget or Budget(1 << 62)
        self.wait_s = wait_s
        self.limit = concurrency + queue
        self.retry_after_s = retry_after_s
        self.slots = asyncio.Semaphore(concurrency)
        self.admitted = 0
        self.in_flight = 0
        self.on_change = on_change

    @property
    def queued(self) -> int:
        return self.admitted - self.in_flight

    def changed(self) -> None:
        self.on_change(self.in_flight, self.queued)

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[Admission]:
        if self.admitted >= self.limit:
            raise Overloaded(
                f"over capacity: expected at most {self.limit} requests in flight and queued, "
                f"got one more; retry after {self.retry_after_s}s",
                self.retry_after_s,
            )
        self.admitted += 1
        self.changed()
        try:
            yield Admission(self)
        finally:
            self.admitted -= 1
            self.changed()
