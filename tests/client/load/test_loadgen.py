"""The load-report maths: windows, stability, tables."""

from __future__ import annotations

import json
import math

import pytest

from client.load.loadgen import Window, stable
from u2net.report import table, to_csv, to_json


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
