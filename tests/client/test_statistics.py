"""Triton's statistics JSON: deltas over a window, a read once the counters settle, several
replicas summed."""

from __future__ import annotations

import pytest

from client.statistics import cache_note, merge_statistics, settled_statistics, stats_delta


def _stats(inferences: int, executions: int, queue_ns: int, infer_ns: int) -> dict:
    return {
        "model_stats": [
            {"name": "other", "inference_count": "999", "execution_count": "1"},
            {
                "name": "m",
                "inference_count": str(inferences),
                "execution_count": str(executions),
                "inference_stats": {
                    "queue": {"count": str(inferences), "ns": str(queue_ns)},
                    "compute_infer": {"count": str(executions), "ns": str(infer_ns)},
                },
            },
        ]
    }


def test_stats_delta_is_per_request_over_the_window() -> None:
    delta = stats_delta(_stats(10, 10, 0, 0), _stats(18, 12, 8_000_000, 40_000_000), "m")
    assert delta.requests == 8 and delta.executions == 2
    assert delta.avg_batch == 4.0
    assert delta.queue_ms == pytest.approx(1.0) and delta.compute_ms == pytest.approx(5.0)


def test_stats_delta_of_an_idle_model_is_zero() -> None:
    assert stats_delta(_stats(5, 5, 1, 1), _stats(5, 5, 1, 1), "m").avg_batch == 0.0


def test_statistics_are_read_once_triton_has_counted_what_it_answered() -> None:
    """Triton counts a request a moment after answering it, one counter, then the other:
    the reads go on until the inferences sent are counted and two reads agree."""
    reads = iter([_stats(3, 3, 0, 0), _stats(4, 3, 0, 0), _stats(4, 4, 0, 0), _stats(4, 4, 0, 0)])
    settled = settled_statistics(lambda: next(reads), "m", at_least=4)
    assert stats_delta(_stats(2, 2, 0, 0), settled, "m").avg_batch == 1.0
    assert next(reads, None) is None  # every read was needed


def test_statistics_that_never_count_enough_are_taken_as_they_are() -> None:
    """(Another client's requests, or a server that restarted: the counts are what they are.)"""
    settled = settled_statistics(lambda: _stats(1, 1, 0, 0), "m", at_least=4, settle_s=0.05)
    assert stats_delta(_stats(0, 0, 0, 0), settled, "m").requests == 1


def _cached(stats: dict, hits: int) -> dict:
    stats["model_stats"][1]["inference_stats"]["cache_hit"] = {"count": str(hits), "ns": "1"}
    return stats


def test_answers_from_the_response_cache_are_counted_apart_and_noted() -> None:
    """Triton leaves cache hits out of inference_count: a window of 4 requests of which 3
    came from the cache settles at once, and its timings say so."""
    before, after = _cached(_stats(10, 10, 0, 0), 5), _cached(_stats(11, 11, 0, 0), 8)
    reads = iter([after, after])  # a third read fails: the hits must count as sent
    settled = settled_statistics(lambda: next(reads), "m", at_least=14, settle_s=60)
    delta = stats_delta(before, settled, "m")
    assert (delta.requests, delta.cache_hits) == (1, 3)
    assert cache_note(delta, "m", 4) is not None and "3 of 4 requests" in cache_note(delta, "m", 4)
    assert cache_note(stats_delta(before, before, "m"), "m", 4) is None


def test_replicas_statistics_are_summed() -> None:
    def replica(requests: int, executions: int, queue_ns: int) -> dict:
        return {
            "model_stats": [
                {"name": "other", "inference_count": 99},
                {
                    "name": "m",
                    "inference_count": requests,
                    "execution_count": executions,
                    "inference_stats": {"queue": {"count": requests, "ns": queue_ns}},
                },
            ]
        }

    merged = merge_statistics([replica(3, 2, 30), replica(5, 5, 50)], "m")
    (entry,) = merged["model_stats"]
    assert (entry["inference_count"], entry["execution_count"]) == (8, 7)
    assert entry["inference_stats"]["queue"] == {"count": 8, "ns": 80}
    delta = stats_delta(replica(0, 0, 0), merged, "m")
    assert delta.requests == 8 and delta.executions == 7 and delta.queue_ms == 80 / 8 / 1e6
