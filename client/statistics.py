"""Triton's inference statistics (its JSON form) for one model: what a window of requests
did on the server, several replicas' statistics summed, and a read once the counters settle.
Pure, except :func:`settled_statistics`, which reads again until the counters agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerStats:
    """Deltas of Triton's statistics over a measurement window, for one model."""

    requests: int = 0
    executions: int = 0
    queue_ms: float = 0.0  # mean per request
    compute_ms: float = 0.0  # mean per request (input + infer + output)
    cache_hits: int = 0  # answered from the server's response cache: not in the above

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


def _hits(entry: dict) -> int:
    return int(entry.get("inference_stats", {}).get("cache_hit", {}).get("count", 0))


def counted(stats: dict, model: str) -> int:
    """How many requests of ``model`` Triton's statistics JSON counts: the inferences, and
    those answered from its response cache (which ``inference_count`` leaves out)."""
    entry = _model_entry(stats, model)
    return int(entry.get("inference_count", 0)) + _hits(entry)


def _counters(stats: dict, model: str) -> tuple[int, int]:
    entry = _model_entry(stats, model)
    return counted(stats, model), int(entry.get("execution_count", 0))


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
    hits = _hits(a) - _hits(b)
    if requests <= 0:
        return ServerStats(cache_hits=hits)

    def mean_ms(*keys: str) -> float:
        return sum(_ns(a, k) - _ns(b, k) for k in keys) / requests / 1e6

    return ServerStats(
        requests=requests,
        executions=executions,
        queue_ms=mean_ms("queue"),
        compute_ms=mean_ms("compute_input", "compute_infer", "compute_output"),
        cache_hits=hits,
    )


def cache_note(server: ServerStats, model: str, sent: int) -> str | None:
    """The line to warn with when the server answered some of ``sent`` requests from its
    response cache: their timings are the cache's, not the model's."""
    if server.cache_hits <= 0:
        return None
    return (
        f"{model}: the server answered {server.cache_hits} of {sent} requests from its "
        "response cache (python -m server --response-cache-mb), so these timings are not the "
        "model's: measure on a server started without one"
    )
