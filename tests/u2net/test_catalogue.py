"""Choosing the served model a request's name resolves to."""

from __future__ import annotations

import pytest

from u2net.catalogue import first_ready, served_candidates


class NoneReady(Exception):
    pass


@pytest.mark.parametrize(
    ("requested", "ready", "expected"),
    [
        ("u2net", ["u2net_onnx", "u2net_trt"], "u2net_trt"),  # in candidate order
        ("u2net", ["u2netp_trt", "u2net_onnx"], "u2net_onnx"),
        ("u2net", ["u2net_int8", "u2netp_onnx"], None),  # the base name is fp32 only
        ("u2net_int8", ["u2net_trt", "u2net_int8"], "u2net_int8"),
        ("u2net", [], None),
    ],
)
def test_the_first_ready_candidate_is_chosen(
    requested: str, ready: list[str], expected: str | None
) -> None:
    assert first_ready(served_candidates(requested), ready) == expected


def test_none_ready_raises_the_callers_error_and_only_then() -> None:
    made: list[str] = []

    def none_ready() -> Exception:
        made.append("error")
        return NoneReady("model u2net_trt or u2net_onnx is not loaded")

    assert first_ready(served_candidates("u2net"), {"u2net_onnx"}, none_ready) == "u2net_onnx"
    assert made == []
    with pytest.raises(NoneReady, match="u2net_trt or u2net_onnx is not loaded"):
        first_ready(served_candidates("u2net"), {"u2netp_onnx"}, none_ready)
