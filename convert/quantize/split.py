"""One Conv per Concat input, summed, for a Conv reading a Concat (pure: ONNX in, ONNX out).

    Conv(Concat(a, b), W, bias) = Conv(a, W_a, bias) + Conv(b, W_b)

where ``W_a``, ``W_b`` are the slices of ``W`` along its input channels that meet ``a`` and
``b``. fp32 is unchanged (up to float summation order); what changes is quantization: a Conv
has one per-tensor input scale, so behind a Concat a branch of small values shares the scale of
a branch of large ones and is crushed to a few levels. Split, each branch gets its own
activation scale, and its own per-channel weight scales.

The Concat stays when something else reads it; the sum keeps the Conv's output name, so what
reads the Conv's output is untouched. The new tensors (each branch's Conv output) have no
entry in a calibration cache made before the split: calibrate the split graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

CHANNEL_AXIS = 1  # NCHW
CHANNEL_AXES = (CHANNEL_AXIS, CHANNEL_AXIS - 4)  # of a 4-D Concat
# ops whose output has the channels of their first input
CHANNEL_KEEPING = frozenset(
    {"Relu", "Resize", "MaxPool", "Add", "Mul", "Sigmoid", "BatchNormalization"}
)
SPLIT_SUFFIX = "/split"  # branch i of Conv_787 is Conv_787/split0, its sum Conv_787/sum1, ...
SUM_SUFFIX = "/sum"


@dataclass(frozen=True)
class _Split:
    """What one split needs: the Conv, the Concat inputs it reads, and each one's channels."""

    conv: onnx.NodeProto
    branches: tuple[str, ...]
    channels: tuple[int, ...]


def _attribute(node: onnx.NodeProto, name: str, default: int) -> int:
    found = [a for a in node.attribute if a.name == name]
    return helper.get_attribute_value(found[0]) if found else default


def _inferred_channels(model: onnx.ModelProto) -> dict[str, int]:
    """Dim 1 of every tensor whose shape inference can tell it."""
    inferred = shape_inference.infer_shapes(model)
    infos = (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)
    found = {}
    for info in infos:
        dims = info.type.tensor_type.shape.dim
        if len(dims) > CHANNEL_AXIS and dims[CHANNEL_AXIS].HasField("dim_value"):
            found[info.name] = dims[CHANNEL_AXIS].dim_value
    return found


def _channel_counts(model: onnx.ModelProto) -> dict[str, int]:
    """Dim 1 of the tensors shape inference can tell, and of those it cannot (a Resize to a
    size computed at run time) from what made them: a Conv's weight, a channel Concat's
    inputs, or the first input of an op that keeps channels."""
    found = _inferred_channels(model)
    weights = {i.name: tuple(i.dims) for i in model.graph.initializer}
    for node in model.graph.node:  # topological order
        if node.output[0] in found or not node.input:
            continue
        if node.op_type == "Conv" and node.input[1] in weights:
            found[node.output[0]] = weights[node.input[1]][0]
        elif node.op_type == "Concat" and _attribute(node, "axis", 0) in CHANNEL_AXES:
            if all(i in found for i in node.input):
                found[node.output[0]] = sum(found[i] for i in node.input)
        elif node.op_type in CHANNEL_KEEPING and node.input[0] in found:
            found[node.output[0]] = found[node.input[0]]
    return found


def _plan(model: onnx.ModelProto, conv_names: Sequence[str]) -> list[_Split]:
    """Each named Conv with its Concat's inputs and their channels; ValueError if one is not a
    plain (group 1) Conv on a channel Concat with its weight an initializer."""
    nodes = {n.name: n for n in model.graph.node}
    producer = {o: n for n in model.graph.node for o in n.output}
    initializers = {i.name for i in model.graph.initializer}
    plans = []
    for name in conv_names:
        conv = nodes.get(name)
        if conv is None or conv.op_type != "Conv":
            raise ValueError(f"expected a Conv named {name!r}, got {conv and conv.op_type}")
        concat = producer.get(conv.input[0])
        if concat is None or concat.op_type != "Concat":
            raise ValueError(f"expected {name} to read a Concat, got {concat and concat.op_type}")
        if _attribute(concat, "axis", 0) not in CHANNEL_AXES:
            raise ValueError(f"expected {concat.name} to concatenate channels (axis 1)")
        if _attribute(conv, "group", 1) != 1 or conv.input[1] not in initializers:
            raise ValueError(f"expected {name} to have group 1 and a constant weight")
        plans.append(_Split(conv, tuple(concat.input), ()))
    counts = _channel_counts(model)
    for i, plan in enumerate(plans):
        missing = [b for b in plan.branches if b not in counts]
        if missing:
            raise ValueError(f"cannot tell the channels of {missing} (read by {plan.conv.name})")
        plans[i] = _Split(plan.conv, plan.branches, tuple(counts[b] for b in plan.branches))
    return plans


def _weight_slices(weight: np.ndarray, channels: Sequence[int]) -> list[np.ndarray]:
    if weight.shape[CHANNEL_AXIS] != sum(channels):
        raise ValueError(f"expected {sum(channels)} input channels, got weight {weight.shape}")
    edges = np.cumsum(channels)[:-1]
    return [np.ascontiguousarray(w) for w in np.split(weight, edges, axis=CHANNEL_AXIS)]


def _split_nodes(
    plan: _Split, weight: np.ndarray
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """The branch Convs and the chain of Adds replacing ``plan.conv``, and their weights."""
    conv = plan.conv
    bias = list(conv.input[2:3])
    nodes, weights, partial = [], [], []
    for i, (branch, w) in enumerate(
        zip(plan.branches, _weight_slices(weight, plan.channels), strict=True)
    ):
        name = f"{conv.name}{SPLIT_SUFFIX}{i}"
        weights.append(numpy_helper.from_array(w, f"{conv.input[1]}{SPLIT_SUFFIX}{i}"))
        inputs = [branch, weights[-1].name, *(bias if i == 0 else [])]
        nodes.append(helper.make_node("Conv", inputs, [name], name=name))
        nodes[-1].attribute.extend(conv.attribute)
        partial.append(name)
    total = partial[0]
    for i, branch in enumerate(partial[1:], start=1):
        last = i == len(partial) - 1
        out = conv.output[0] if last else f"{conv.name}{SUM_SUFFIX}{i}"
        name = f"{conv.name}{SUM_SUFFIX}{i}"
        nodes.append(helper.make_node("Add", [total, branch], [out], name=name))
        total = out
    return nodes, weights


def _drop_unread(model: onnx.ModelProto) -> None:
    """Remove Concats and initializers nothing reads any more (in place)."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    while True:
        read = {i for n in graph.node for i in n.input} | outputs
        dead = [n for n in graph.node if n.op_type == "Concat" and n.output[0] not in read]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    read = {i for n in graph.node for i in n.input} | outputs
    for init in [i for i in graph.initializer if i.name not in read]:
        graph.initializer.remove(init)


def split_concat_convs(model: onnx.ModelProto, conv_names: Sequence[str]) -> onnx.ModelProto:
    """A copy of ``model`` with each Conv of ``conv_names`` split per Concat input (see the
    module docstring); the nodes stay in topological order."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    plans = {p.conv.name: p for p in _plan(out, conv_names)}
    weights = {i.name: i for i in out.graph.initializer}
    rewritten: list[onnx.NodeProto] = []
    for node in out.graph.node:
        plan = plans.get(node.name)
        if plan is None:
            rewritten.append(node)
            continue
        nodes, new_weights = _split_nodes(plan, numpy_helper.to_array(weights[node.input[1]]))
        rewritten.extend(nodes)
        out.graph.initializer.extend(new_weights)
    del out.graph.node[:]
    out.graph.node.extend(rewritten)
    _drop_unread(out)
    return out


def concat_convs(model: onnx.ModelProto, among: Sequence[str] | None = None) -> list[str]:
    """The Convs (of ``among``, or all) whose data input is a Concat's output, in graph order."""
    producer = {o: n.op_type for n in model.graph.node for o in n.output}
    wanted = None if among is None else set(among)
    return [
        n.name
        for n in model.graph.node
        if n.op_type == "Conv"
        and producer.get(n.input[0]) == "Concat"
        and (wanted is None or n.name in wanted)
    ]
