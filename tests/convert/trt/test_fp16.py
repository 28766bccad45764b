"""The fp16-body ONNX (TensorRT 11's fp16), checked on CPU: structure, types and masks.

The masks come from ONNX Runtime's CPU provider running the converted u2netp graph and
must meet the same IoU/|Δ| thresholds a TensorRT engine has to meet against the fp32 graph.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from convert.errors import InvalidModel
from convert.graph import SERVING_PREFIX, build_serving_graph
from convert.trt.fp16 import body_to_fp16
from convert.trt.verify import onnx_reference, verify_batch
from tests.data import cpu_session, staged_model
from u2net.contract import CONTRACT
from u2net.samples import SAMPLE_NAMES, sample_inputs

pytest.importorskip("onnxconverter_common", reason="pip install 'u2net-triton[test]'")

FLOAT, HALF, UINT8 = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.UINT8


def _tiny_u2net() -> onnx.ModelProto:
    """A stand-in with U²-Net's I/O: a 1x1 convolution and a sigmoid."""
    size = CONTRACT.size
    weights = numpy_helper.from_array(np.full((1, 3, 1, 1), 0.01, np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["input.1", "w"], ["fused"], name="Conv_0"),
            helper.make_node("Sigmoid", ["fused"], ["d0"], name="Sigmoid_1"),
        ],
        "tiny",
        [helper.make_tensor_value_info("input.1", FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("d0", FLOAT, ["N", 1, size, size])],
        [weights],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])


@pytest.fixture(scope="module")
def u2netp() -> onnx.ModelProto:
    return onnx.load(str(staged_model("u2netp_onnx")))


@pytest.fixture(scope="module")
def u2netp_fp16(u2netp: onnx.ModelProto) -> onnx.ModelProto:
    return body_to_fp16(u2netp)


def _types(model: onnx.ModelProto) -> dict[str, int]:
    graph = onnx.shape_inference.infer_shapes(model, strict_mode=True).graph
    infos = [*graph.value_info, *graph.input, *graph.output]
    types = {v.name: v.type.tensor_type.elem_type for v in infos}
    return types | {i.name: i.data_type for i in graph.initializer}


def test_passes_the_full_checker(u2netp_fp16: onnx.ModelProto) -> None:
    onnx.checker.check_model(u2netp_fp16, full_check=True)


def test_io_is_unchanged(u2netp: onnx.ModelProto, u2netp_fp16: onnx.ModelProto) -> None:
    assert list(u2netp_fp16.graph.input) == list(u2netp.graph.input)
    assert list(u2netp_fp16.graph.output) == list(u2netp.graph.output)
    assert [i.type.tensor_type.elem_type for i in u2netp_fp16.graph.input] == [UINT8]


def test_every_serving_node_computes_in_float32(u2netp_fp16: onnx.ModelProto) -> None:
    types = _types(u2netp_fp16)
    serving = [n for n in u2netp_fp16.graph.node if n.name.startswith(SERVING_PREFIX)]
    assert len(serving) == 18
    for node in serving:
        tensors = [t for t in (*node.input, *node.output) if t]
        got = {t: types[t] for t in tensors if t not in (CONTRACT.input_name, CONTRACT.output_name)}
        assert set(got.values()) == {FLOAT}, f"{node.name}: {got}"


def test_serving_constants_keep_their_fp32_values(
    u2netp: onnx.ModelProto, u2netp_fp16: onnx.ModelProto
) -> None:
    before = {i.name: i for i in u2netp.graph.initializer if i.name.startswith(SERVING_PREFIX)}
    after = {i.name: i for i in u2netp_fp16.graph.initializer if i.name.startswith(SERVING_PREFIX)}
    assert after == before
    tiny = numpy_helper.to_array(after[SERVING_PREFIX + "tiny"])
    assert tiny.dtype == np.float32 and 0 < tiny < np.finfo(np.float16).smallest_subnormal


def test_the_body_is_fp16_between_two_casts(u2netp_fp16: onnx.ModelProto) -> None:
    graph = u2netp_fp16.graph
    types = _types(u2netp_fp16)
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert convs and all(types[n.input[1]] == HALF and types[n.output[0]] == HALF for n in convs)
    body_in = next(n for n in graph.node if n.name == SERVING_PREFIX + "nchw").output[0]
    body_out = next(n for n in graph.node if n.name == SERVING_PREFIX + "p").input[0]
    readers = [n for n in graph.node if body_in in n.input]
    writer = next(n for n in graph.node if body_out in n.output)
    assert [n.op_type for n in readers] == ["Cast"]
    assert helper.get_attribute_value(readers[0].attribute[0]) == HALF
    assert writer.op_type == "Cast" and helper.get_attribute_value(writer.attribute[0]) == FLOAT


def test_the_input_model_is_left_untouched(u2netp: onnx.ModelProto) -> None:
    before = u2netp.SerializeToString()
    body_to_fp16(u2netp)
    assert u2netp.SerializeToString() == before


def test_masks_agree_with_the_fp32_graph_within_the_engine_thresholds(
    u2netp_fp16: onnx.ModelProto,
) -> None:
    names, images = sample_inputs(SAMPLE_NAMES[:2])  # fp16 on the CPU is slow; two suffice
    reference = onnx_reference(staged_model("u2netp_onnx"), images)
    session = cpu_session(u2netp_fp16.SerializeToString())
    (masks,) = session.run([CONTRACT.output_name], {CONTRACT.input_name: images})
    verification = verify_batch(reference, masks, names)
    assert verification.passed, verification.summary()


def test_a_second_tensor_out_of_the_body_is_refused() -> None:
    model = build_serving_graph(_tiny_u2net())
    model.graph.node.append(helper.make_node("Identity", ["fused"], ["x"], name="serving/peek"))
    with pytest.raises(InvalidModel, match="one tensor into the U²-Net body and one out"):
        body_to_fp16(model)


def test_an_initializer_shared_with_the_serving_graph_is_refused() -> None:
    model = build_serving_graph(_tiny_u2net())
    model.graph.node.append(helper.make_node("Identity", ["w"], ["x"], name="serving/peek"))
    with pytest.raises(InvalidModel, match=r"shared by body and serving nodes, got \['w'\]"):
        body_to_fp16(model)
