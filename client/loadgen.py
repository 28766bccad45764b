"""Load generation and its numbers: latency percentiles, throughput, server-side stats.

The maths (percentiles, statistics deltas) is pure; ``drive`` runs requests on threads.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from u2net.errors import ServingError


@dataclass(frozen=True)
class ServerStats:
    """Deltas of Triton's statistics over a measurement window, for one model."""

    requests: int = 0
    executions: int = 0
    queue_ms: float = 0.0  # mean per request
    compute_ms: float = 0.0  # mean per request (input + infer + output)

    @property
    def avg_batch(self) -> float:
        return self.requests / self.executions if self.executions else 0.0


def _model_entry(stats: dict, model: str) -> dict:
    entries = [s for s in stats.get("model_stats", []) if s.get("name") == model]
    return entries[0] if entries else {}


def _ns(entry: dict, key: str) -> int:
    return int(entry.get("inference_stats", {}).get(key, {}).get("ns", 0))


def merge_statistics(replicas: Sequence[dict], model: str) -> dict:
    """Several replicas' statistics JSON for ``model`` -> one, counts and times summed."""
    entries = [_model_entry(stats, model) for stats in replicas]
    keys = {k for e in entries for k in e.get("inference_stats", {})}
    inference_stats = {
        key: {
            field: sum(
                int(e.get("inference_stats", {}).get(key, {}).get(field, 0)) for e in entries
            )
            for field in ("count", "ns")
        }
        for key in sorted(keys)
    }
    merged = {
        "name": model,
        "inference_count": sum(int(e.get("inference_count", 0)) for e in entries),
        "execution_count": sum(int(e.get("execution_count", 0)) for e in entries),
        "inference_stats": inference_stats,
    }
    return {"model_stats": [merged]}


STATS_SETTLE_S = 2.0  # at most this long for Triton's counters to catch up with its answers


def counted(stats: dict, model: str) -> int:
    """How many inferences of ``model`` Triton's statistics JSON counts."""
    return int(_model_entry(stats, model).get("inference_count", 0))


def _counters(stats: dict, model: str) -> tuple[int, int]:
    entry = _model_entry(stats, model)
    return int(entry.get("inference_count", 0)), int(entry.get("execution_count", 0))


def settled_statistics(
    read: Callable[[], dict], model: str, at_least: int, settle_s: float = STATS_SETTLE_S
) -> dict:
    """``read()``'s statistics once they count ``at_least`` inferences of ``model`` and the
    next read has the same counters. Triton updates its counters a moment after answering,
    so a read right after the last answer can hold part of an execution's counts (a
    window's average batch came out below 1). After ``settle_s``, the last read."""
    deadline = time.monotonic() + settle_s
    stats = read()
    while time.monotonic() < deadline:
        if counted(stats, model) >= at_least:
            again = read()
            if _counters(again, model) == _counters(stats, model):
                return again
            stats = again
        else:
            time.sleep(0.01)
            stats = read()
    return stats


def stats_delta(before: dict, after: dict, model: str) -> ServerStats:
    """Triton statistics JSON (before, after) -> what happened in between."""
    a, b = _model_entry(after, model), _model_entry(before, model)
    requests = int(a.get("inference_count", 0)) - int(b.get("inference_count", 0))
    executions = int(a.get("execution_count", 0)) - int(b.get("execution_count", 0))
    if requests <= 0:
        return ServerStats()

    def mean_ms(*keys: str) -> float:
        return sum(_ns(a, k) - _ns(b, k) for k in keys) / requests / 1e6

    return ServerStats(
        requests=requests,
        executions=executions,
        queue_ms=mean_ms("queue"),
        compute_ms=mean_ms("compute_input", "compute_infer", "compute_output"),
    )


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
