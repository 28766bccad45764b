"""The pure parts of the gRPC layer: model choice, contract check, retry schedule."""

from __future__ import annotations

import pytest

from client.errors import ModelNotReady
from client.pipeline import map_ordered
from client.triton import resolve_model
from u2net.catalogue import served_candidates
from u2net.contract import CONTRACT, check_metadata
from u2net.errors import ContractMismatch
from u2net.retry import RetryPolicy


@pytest.mark.parametrize(
    ("requested", "ready", "expected"),
    [
        ("u2net", ["u2net_onnx", "u2net_trt"], "u2net_trt"),
        ("u2net", ["u2net_onnx", "u2netp_onnx"], "u2net_onnx"),
        ("u2netp_onnx", ["u2netp_onnx", "u2netp_trt"], "u2netp_onnx"),
    ],
)
def test_resolve_model(requested: str, ready: list[str], expected: str) -> None:
    assert resolve_model(served_candidates(requested), ready) == expected


def test_resolve_model_lists_ready_models() -> None:
    with pytest.raises(ModelNotReady, match=r"ready models: u2netp_onnx$"):
        resolve_model(served_candidates("u2net"), ["u2netp_onnx"])


def _meta(in_shape: list[int], in_dtype: str = "UINT8", out_name: str = "mask") -> dict:
    return {
        "name": "m",
        "inputs": [{"name": CONTRACT.input_name, "datatype": in_dtype, "shape": in_shape}],
        "outputs": [{"name": out_name, "datatype": "UINT8", "shape": ["-1", "320", "320"]}],
    }


def test_contract_accepts_the_served_shape() -> None:
    check_metadata(_meta(["-1", "320", "320", "3"]))


@pytest.mark.parametrize(
    ("meta", "says"),
    [
        (_meta([-1, 3, 320, 320]), "expected inputs [('image', 'UINT8', [-1, 320, 320, 3])]"),
        (_meta([-1, 320, 320, 3], "FP32"), "got [('image', 'FP32'"),
        (_meta([-1, 320, 320, 3], out_name="1959"), "got [('1959', 'UINT8'"),
    ],
    ids=["nchw", "float", "output-name"],
)
def test_contract_mismatch_says_expected_and_got(meta: dict, says: str) -> None:
    with pytest.raises(ContractMismatch) as info:
        check_metadata(meta)
    assert says in str(info.value)


def test_retry_backoff_is_bounded() -> None:
    assert list(
        RetryPolicy(retries=5, first_delay_s=0.5, max_delay_s=2.0, jitter=False).delays()
    ) == [
        0.5,
        1.0,
        2.0,
        2.0,
        2.0,
    ]


def test_map_ordered_keeps_order_and_bounds_lookahead() -> None:
    started: list[int] = []

    def work(i: int) -> int:
        started.append(i)
        if i == 3:
            raise ValueError("three")
        return i * i

    results = map_ordered(work, range(100), workers=2, return_exceptions=True)
    first = next(results)
    assert first == 0 and len(started) <= 4 + 2
    rest = list(results)
    assert [r if isinstance(r, int) else "err" for r in [first, *rest]][:5] == [0, 1, 4, "err", 16]
