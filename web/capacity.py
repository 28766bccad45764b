"""Bounded work: ``concurrency`` requests in flight to Triton, ``queue`` more waiting, and every
request beyond that turned away at once (503 + Retry-After) instead of piling up in memory.

A request is admitted before its body is read, so queued bodies are bounded too::

    async with capacity.admit() as admission:   # Overloaded at once when full
        data = await read_body()
        async with admission.running():         # waits for a slot in flight
            result = await triton.cut(data, parameters)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from web.errors import Overloaded


class Admission:
    def __init__(self, capacity: Capacity) -> None:
        self.capacity = capacity

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        capacity = self.capacity
        async with capacity.slots:
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
    ) -> None:
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
