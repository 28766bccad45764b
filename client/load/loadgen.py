"""Load generation and its numbers: latency percentiles, throughput, a window's measurements
beside the server's statistics (client.statistics).

The maths (percentiles, stability) is pure; ``drive`` runs requests on threads.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from client.statistics import ServerStats
from u2net.errors import ServingError


@dataclass
class Window:
    """Client-side results of one measurement window."""

    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.latencies_s) / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        return float(np.percentile(np.asarray(self.latencies_s), q) * 1e3)


def measurements(window: Window, server: ServerStats) -> dict[str, float | int]:
    """The numbers every load report shows, client side then server side."""
    return {
        "requests": len(window.latencies_s),
        "errors": len(window.errors),
        "p50_ms": window.percentile_ms(50),
        "p95_ms": window.percentile_ms(95),
        "p99_ms": window.percentile_ms(99),
        "throughput_per_s": window.throughput,
        "server_queue_ms": server.queue_ms,
        "server_compute_ms": server.compute_ms,
        "avg_batch": server.avg_batch,
    }


MEASUREMENT_HEADERS = [
    "requests",
    "errors",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "img/s",
    "queue ms",
    "compute ms",
    "avg batch",
]


def drive(
    send: Callable[[int], object],
    count: int,
    concurrency: int,
    on_result: Callable[[int, object], None] | None = None,
    seconds: float | None = None,
) -> Window:
    """Call ``send(i)`` for i in 0..count-1 with ``concurrency`` calls in flight; with
    ``seconds``, no new call starts after that long (a soak: pass a large ``count``)."""
    window = Window()
    lock = threading.Lock()
    counter = itertools.count()
    deadline = None if seconds is None else time.monotonic() + seconds

    def more() -> bool:
        return deadline is None or time.monotonic() < deadline

    def worker() -> None:
        while (i := next(counter)) < count and more():
            start = time.perf_counter()
            try:
                result = send(i)
            except ServingError as e:
                with lock:
                    window.errors.append(str(e))
                continue
            elapsed = time.perf_counter() - start
            with lock:
                window.latencies_s.append(elapsed)
            if on_result is not None:
                on_result(i, result)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    window.seconds = time.perf_counter() - start
    return window


def stable(throughputs: Sequence[float], tolerance: float = 0.10) -> bool:
    """The last two windows agree within ``tolerance`` (perf_analyzer's idea of stable)."""
    if len(throughputs) < 2:
        return False
    last, prev = throughputs[-1], throughputs[-2]
    return prev > 0 and abs(last - prev) / prev <= tolerance
