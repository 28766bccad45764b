"""The fp32 serving graph at opset 13, split into what int8 may touch: on rembg's u2netp."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from convert.check import load_onnx
from convert.graph import build_serving_graph
from convert.quantize.body import QDQ_OPSET, U2NET_BLOCKS, body_layout, conv_units, to_qdq_opset
from convert.quantize.measure import Runner
from tests.data import original_model
from u2net.samples import sample_inputs


@pytest.fixture(scope="module")
def serving() -> onnx.ModelProto:
    return build_serving_graph(load_onnx(original_model("u2netp")))


@pytest.fixture(scope="module")
def converted(serving: onnx.ModelProto) -> onnx.ModelProto:
    return to_qdq_opset(serving)


def test_opset_13_gives_the_same_masks(serving: onnx.ModelProto, converted) -> None:
    assert [o.version for o in converted.opset_import if o.domain in ("", "ai.onnx")] == [QDQ_OPSET]
    onnx.checker.check_model(converted)
    _names, images = sample_inputs(("coffee.png",))
    assert np.array_equal(Runner(serving).masks(images), Runner(converted).masks(images))


def test_layout_splits_every_node_once(converted: onnx.ModelProto) -> None:
    layout = body_layout(converted)
    assert [b.name for b in layout.blocks] == list(U2NET_BLOCKS)
    parts = [*layout.serving, *layout.head, *(n for b in layout.blocks for n in b.nodes)]
    assert sorted(parts) == sorted(n.name for n in converted.graph.node)
    ops = {n.name: n.op_type for n in converted.graph.node}
    # each block ends with its residual Add; the head ends with the fused mask's Sigmoid
    assert all(ops[b.nodes[-1]] == "Add" or b.name == "stage1d" for b in layout.blocks)
    head_ops = [ops[n] for n in layout.head]
    assert head_ops.count("Sigmoid") == 1 and head_ops.count("Conv") == 7  # 6 sides + fuse
    assert all(n.startswith("serving/") for n in layout.serving)


def test_excluded_nodes_add_the_chosen_blocks(converted: onnx.ModelProto) -> None:
    layout = body_layout(converted)
    excluded = layout.excluded_nodes(["stage2d"])
    assert set(layout.block("stage2d").nodes) <= set(excluded)
    assert set(layout.fixed_fp32) <= set(excluded)
    assert not set(layout.block("stage1").nodes) & set(excluded)
    with pytest.raises(ValueError, match="expected a block of"):
        layout.excluded_nodes(["stage9"])


def test_conv_units_pair_each_conv_with_its_relu_costliest_first() -> None:
    serving = to_qdq_opset(build_serving_graph(load_onnx(original_model("u2netp"))))
    layout = body_layout(serving)
    nodes = [*layout.block("stage1").nodes, *layout.block("stage4").nodes]
    units = conv_units(serving, nodes)
    convs = [n for n in nodes if n.startswith("Conv")]
    assert sorted(u[0] for u in units) == sorted(convs)
    assert all(len(u) == 2 and u[1].startswith("Relu") for u in units)
    stage1 = set(layout.block("stage1").nodes)
    assert units[0][0] in stage1  # 320 px beats 40 px at u2netp's equal widths
    assert units[-1][0] not in stage1
