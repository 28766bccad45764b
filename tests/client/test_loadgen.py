"""The load-report maths: statistics deltas, windows, stability, tables."""

from __future__ import annotations

import json
import math

import pytest

from client.loadgen import Window, merge_statistics, settled_statistics, stable, stats_delta
from u2net.report import table, to_csv, to_json


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


def test_window_percentiles_and_throughput() -> None:
    window = Window(latencies_s=[i / 1000 for i in range(1, 101)], seconds=2.0)
    assert window.throughput == 50.0
    assert window.percentile_ms(50) == pytest.approx(50.5)
    assert window.percentile_ms(99) == pytest.approx(99.01)
    assert math.isnan(Window().percentile_ms(50))


@pytest.mark.parametrize(
    ("throughputs", "expected"),
    [([10.0], False), ([10.0, 10.5], True), ([10.0, 12.0], False), ([0.0, 0.0], False)],
)
def test_stable(throughputs: list[float], expected: bool) -> None:
    assert stable(throughputs) is expected


def test_table_csv_json() -> None:
    rows = [[1, 2.5, float("nan")], [16, 123.456, "x"]]
    text = table(["a", "b", "c"], rows).splitlines()
    assert len(text) == 4 and all(line.count("|") == 4 for line in text)
    assert "123.5" in text[3] and "-" in text[2]
    assert to_csv(["a", "b", "c"], rows).splitlines()[0] == "a,b,c"
    assert json.loads(to_json({"x": float("nan"), "y": [1.5]})) == {"x": None, "y": [1.5]}


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
