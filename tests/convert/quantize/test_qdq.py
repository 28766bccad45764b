"""ONNX Runtime's quantization machinery on a slice of u2netp (its first U-block behind the
serving pre-processing), calibrated on two photos. The full search runs in
`python -m convert quantize`, never in the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper, utils

from convert.check import load_onnx
from convert.errors import QuantizeError
from convert.graph import build_serving_graph
from convert.quantize.body import body_layout, to_qdq_opset
from convert.quantize.qdq import calibrate, quantize
from tests.data import cpu_session, original_model
from u2net.contract import CONTRACT
from u2net.samples import CALIBRATION_PHOTOS, HELD_OUT_PHOTOS, SEARCH_PHOTOS, sample_inputs


@pytest.fixture(scope="module")
def block() -> onnx.ModelProto:
    """Image in, the first U-block's residual sum out (float [N,C,320,320])."""
    serving = to_qdq_opset(build_serving_graph(load_onnx(original_model("u2netp"))))
    end = body_layout(serving).blocks[0].nodes[-1]
    output = next(n.output[0] for n in serving.graph.node if n.name == end)
    return utils.Extractor(serving).extract_model([CONTRACT.input_name], [output])


@pytest.fixture(scope="module")
def cache(block: onnx.ModelProto, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("int8") / "calibration.json"
    calibrate(block, sample_inputs(CALIBRATION_PHOTOS[:2])[1], path)
    return path


def test_the_photo_split_never_shows_held_out_photos_to_calibration() -> None:
    assert not set(HELD_OUT_PHOTOS) & set(CALIBRATION_PHOTOS)
    assert set(SEARCH_PHOTOS) <= set(CALIBRATION_PHOTOS)


def test_calibration_is_cached_and_not_run_again(block: onnx.ModelProto, cache: Path) -> None:
    assert cache.stat().st_size > 0
    before = cache.stat().st_mtime_ns
    calibrate(block, sample_inputs(CALIBRATION_PHOTOS[:1])[1], cache)  # other photos: ignored
    assert cache.stat().st_mtime_ns == before


def test_quantize_needs_a_calibration(block: onnx.ModelProto, tmp_path: Path) -> None:
    with pytest.raises(QuantizeError, match="expected a calibration cache"):
        quantize(block, tmp_path / "none.json", [])


def _dequantized(model: onnx.ModelProto) -> set[str]:
    return {o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}


def test_excluded_convs_keep_float_weights_the_rest_is_int8_per_channel(
    block: onnx.ModelProto, cache: Path
) -> None:
    convs = [n.name for n in block.graph.node if n.op_type == "Conv"]
    excluded = convs[:2]
    int8 = quantize(block, cache, excluded)
    nodes = {n.name: n for n in int8.graph.node if n.op_type == "Conv"}
    dequantized = _dequantized(int8)
    assert all(nodes[n].input[1] not in dequantized for n in excluded)
    assert all(set(nodes[n].input[:2]) <= dequantized for n in convs[2:])
    weights = [
        numpy_helper.to_array(w)
        for w in int8.graph.initializer
        if w.data_type == onnx.TensorProto.INT8
    ]
    assert len([w for w in weights if w.ndim == 4]) == len(convs) - 2
    scales = [a.i for n in int8.graph.node if n.op_type == "DequantizeLinear" for a in n.attribute]
    assert scales and set(scales) == {0}  # per output channel


def test_the_int8_slice_computes_nearly_what_fp32_does(block: onnx.ModelProto, cache) -> None:
    _names, images = sample_inputs(HELD_OUT_PHOTOS[:1])
    feed = {CONTRACT.input_name: images}
    outputs = []
    for model in (block, quantize(block, cache, [])):
        session = cpu_session(model.SerializeToString())
        outputs.append(session.run(None, feed)[0])
    fp32, int8 = outputs
    assert np.corrcoef(fp32.ravel(), int8.ravel())[0, 1] > 0.99
