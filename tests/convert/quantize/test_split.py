"""Splitting a Conv on a Concat into one Conv per Concat input, summed: the serving graph of
u2netp gives the same masks on real photos, and the graph has the nodes it should."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest

from convert.check import load_onnx
from convert.graph import build_serving_graph
from convert.quantize.body import to_qdq_opset
from convert.quantize.measure import Runner
from convert.quantize.split import SPLIT_SUFFIX, concat_convs, split_concat_convs
from tests.data import original_model
from u2net.samples import HELD_OUT_PHOTOS, sample_inputs

PHOTOS = HELD_OUT_PHOTOS[:3]
GREY_LEVELS = 1  # float summation order may move a mask pixel across a rounding edge


@pytest.fixture(scope="module")
def serving() -> onnx.ModelProto:
    """u2netp's fp32 serving graph at opset 13, as ``convert quantize`` stages it."""
    return to_qdq_opset(build_serving_graph(load_onnx(original_model("u2netp"))))


def _ops(model: onnx.ModelProto) -> Counter[str]:
    return Counter(n.op_type for n in model.graph.node)


def _concat_inputs(model: onnx.ModelProto, conv: str) -> int:
    producer = {o: n for n in model.graph.node for o in n.output}
    node = next(n for n in model.graph.node if n.name == conv)
    return len(producer[node.input[0]].input)


def test_every_split_leaves_the_fp32_masks_as_they_were(serving: onnx.ModelProto) -> None:
    split = split_concat_convs(serving, concat_convs(serving))
    onnx.checker.check_model(split)
    _, images = sample_inputs(PHOTOS)
    before = Runner(serving).masks(images).astype(np.int16)
    after = Runner(split).masks(images).astype(np.int16)
    assert np.abs(before - after).max() <= GREY_LEVELS


def test_the_named_convs_become_one_conv_per_concat_input_and_their_sum(
    serving: onnx.ModelProto,
) -> None:
    names = concat_convs(serving)[-2:]  # the last decoder conv and the 6-way fuse conv
    branches = [_concat_inputs(serving, n) for n in names]
    split = split_concat_convs(serving, names)
    kept = {n.name for n in split.graph.node}
    assert not kept & set(names)
    assert _ops(split)["Conv"] == _ops(serving)["Conv"] + sum(branches) - len(names)
    assert _ops(split)["Add"] == _ops(serving)["Add"] + sum(b - 1 for b in branches)
    assert _ops(split)["Concat"] < _ops(serving)["Concat"]  # the Concats nothing reads go
    for name, count in zip(names, branches, strict=True):
        assert {f"{name}{SPLIT_SUFFIX}{i}" for i in range(count)} <= kept
    assert [o.name for o in split.graph.output] == [o.name for o in serving.graph.output]


def test_the_bias_goes_on_the_first_branch_only(serving: onnx.ModelProto) -> None:
    name = concat_convs(serving)[0]
    split = split_concat_convs(serving, [name])
    branches = [n for n in split.graph.node if n.name.startswith(f"{name}{SPLIT_SUFFIX}")]
    assert [len(n.input) for n in branches] == [3] + [2] * (len(branches) - 1)


def test_a_conv_that_does_not_read_a_concat_is_refused(serving: onnx.ModelProto) -> None:
    first = next(n.name for n in serving.graph.node if n.op_type == "Conv")
    with pytest.raises(ValueError, match="Concat"):
        split_concat_convs(serving, [first])
