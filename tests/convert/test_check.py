"""`python -m convert check`: the real model passes; every bad input gets one clear line."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from tests.cli_run import assert_one_line_error, run_cli
from tests.data import PHOTOS, original_model


def test_real_u2netp_passes() -> None:
    done = run_cli("convert", "check", original_model("u2netp"))
    assert done.returncode == 0, done.stderr
    assert "md5 matches rembg's u2netp.onnx" in done.stdout
    assert "ONNX Runtime CPU run on" in done.stdout


def _tiny_model(inputs: list[tuple[str, list[int]]], out_shape: list[int]) -> onnx.ModelProto:
    """A valid ONNX that is not U²-Net: sigmoid of a slice of its first input."""
    vis = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs]
    starts = helper.make_tensor("starts", TensorProto.INT64, [1], [0])
    ends = helper.make_tensor("ends", TensorProto.INT64, [1], [1])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    nodes = [
        helper.make_node("Slice", [inputs[0][0], "starts", "ends", "axes"], ["s"]),
        helper.make_node("Sigmoid", ["s"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "not_u2net",
        vis,
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, out_shape)],
        initializer=[starts, ends, axes],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])


def _sigmoid_only() -> onnx.ModelProto:
    """A valid ONNX with the right input whose only output has three channels."""
    shape = [1, 3, 320, 320]
    graph = helper.make_graph(
        [helper.make_node("Sigmoid", ["x"], ["out"])],
        "not_u2net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, shape)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])


def _save(model: onnx.ModelProto) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / "model.onnx"
        onnx.save(model, str(path))
        return path

    return make


def _missing(tmp: Path) -> Path:
    return tmp / "nope.onnx"


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.onnx"
    path.write_bytes(b"")
    return path


def _truncated(tmp: Path) -> Path:
    data = original_model("u2netp").read_bytes()
    path = tmp / "u2netp.onnx"
    path.write_bytes(data[: len(data) // 2])
    return path


def _jpeg(tmp: Path) -> Path:
    path = tmp / "photo.onnx"
    shutil.copy(next(p for p in PHOTOS if p.suffix == ".jpg"), path)
    return path


BAD_INPUTS = {
    "missing": (_missing, "no such file"),
    "zero-byte": (_empty, "empty file"),
    "truncated-u2netp": (_truncated, "do not parse"),
    "jpeg-renamed": (_jpeg, "do not parse"),
    "input-224": (
        _save(_tiny_model([("x", [1, 3, 224, 224])], [1, 1, 224, 224])),
        "expected input [N,3,320,320], got x [1,3,224,224]",
    ),
    "input-1-channel": (
        _save(_tiny_model([("x", [1, 1, 320, 320])], [1, 1, 320, 320])),
        "expected input [N,3,320,320], got x [1,1,320,320]",
    ),
    "two-inputs": (
        _save(_tiny_model([("x", [1, 3, 320, 320]), ("y", [1, 3, 320, 320])], [1, 1, 320, 320])),
        "expected 1 input, got 2",
    ),
    "wrong-output": (
        _save(_sigmoid_only()),
        "expected first output [N,1,320,320], got out [1,3,320,320]",
    ),
}


@pytest.mark.parametrize(("make", "says"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_gets_one_clear_line(tmp_path: Path, make: Callable, says: str) -> None:
    path = make(tmp_path)
    done = run_cli("convert", "check", path)
    assert_one_line_error(done, says)
