"""The fp32 serving graph, seen as what int8 quantization may touch (pure: ONNX in, data out).

opset 11 -> 13        per-channel QDQ needs DequantizeLinear's ``axis`` (opset 13); the
                      conversion is exact (``onnx.version_converter``)
serving nodes         the uint8 pre/post maths (``serving/...``): never quantized
head                  every node from a 1-channel tensor on (the side convs, their Resizes,
                      the 6-channel Concat, the fuse conv, the Sigmoid): kept fp32
blocks                the body's residual U-blocks (RSU), each ending at its Add; the unit
                      of the sensitivity search (``convert/quantize/search.py``)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import shape_inference, version_converter

from convert.graph import SERVING_PREFIX

QDQ_OPSET = 13
CONVERTED_PREFIX = "opset13/"  # names given to the nodes the opset conversion adds
HEAD_CHANNELS = 1  # a tensor with this many channels belongs to the output head
BLOCK_END_OP = "Add"  # every RSU block ends with its residual Add
# U²-Net's RSU blocks in graph order: encoder stages 1..6, decoder stages 5d..1d
U2NET_BLOCKS = (
    "stage1",
    "stage2",
    "stage3",
    "stage4",
    "stage5",
    "stage6",
    "stage5d",
    "stage4d",
    "stage3d",
    "stage2d",
    "stage1d",
)

# the side of each block's feature maps for a 320 px input (U²-Net halves it per stage)
U2NET_BLOCK_PX = dict(
    zip(U2NET_BLOCKS, (320, 160, 80, 40, 20, 10, 20, 40, 80, 160, 320), strict=True)
)


def blocks_above(px: int) -> tuple[str, ...]:
    """U²-Net's blocks working at more than ``px`` pixels a side, in graph order."""
    return tuple(b for b in U2NET_BLOCKS if U2NET_BLOCK_PX[b] > px)


@dataclass(frozen=True)
class Block:
    name: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class BodyLayout:
    """Which nodes of a serving graph int8 may touch: the blocks; the rest stays fp32."""

    blocks: tuple[Block, ...]
    head: tuple[str, ...]
    serving: tuple[str, ...]

    @property
    def fixed_fp32(self) -> tuple[str, ...]:
        """Nodes never quantized: the serving maths and the output head."""
        return (*self.serving, *self.head)

    def block(self, name: str) -> Block:
        found = [b for b in self.blocks if b.name == name]
        if not found:
            raise ValueError(f"expected a block of {[b.name for b in self.blocks]}, got {name!r}")
        return found[0]

    def excluded_nodes(self, fp32_blocks: Sequence[str]) -> list[str]:
        """Every node kept fp32 when ``fp32_blocks`` stay fp32 too."""
        return [*self.fixed_fp32, *(n for b in fp32_blocks for n in self.block(b).nodes)]


def to_qdq_opset(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same graph at opset 13 (a no-op when it is there already)."""
    current = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if current >= QDQ_OPSET:
        return model
    converted = version_converter.convert_version(model, QDQ_OPSET)
    for node in converted.graph.node:  # the converter's new Constants (axes inputs) are unnamed
        if not node.name:
            node.name = CONVERTED_PREFIX + node.output[0]
    return converted


def _channels(model: onnx.ModelProto) -> dict[str, int]:
    """Channel count (dim 1) of every 4-D float tensor shape inference can tell."""
    inferred = shape_inference.infer_shapes(model)
    found = {}
    for info in (*inferred.graph.value_info, *inferred.graph.output):
        dims = info.type.tensor_type.shape.dim
        is_float = info.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        if is_float and len(dims) == 4 and dims[1].HasField("dim_value"):
            found[info.name] = dims[1].dim_value
    return found


def _head(nodes: Sequence[onnx.NodeProto], channels: dict[str, int]) -> set[str]:
    """The nodes writing a 1-channel tensor, and everything downstream of them."""
    tainted: set[str] = set()
    head: set[str] = set()
    for node in nodes:  # topological order
        starts = any(channels.get(o) == HEAD_CHANNELS for o in node.output)
        if starts or any(i in tainted for i in node.input):
            head.add(node.name)
            tainted.update(node.output)
    return head


def _blocks(nodes: Sequence[onnx.NodeProto], skip: set[str]) -> tuple[Block, ...]:
    groups: list[list[str]] = [[]]
    for node in nodes:
        if node.name in skip:
            continue
        groups[-1].append(node.name)
        if node.op_type == BLOCK_END_OP:
            groups.append([])
    if groups[-1] and groups[-2:-1]:  # anything after the last Add joins the last block
        groups[-2].extend(groups.pop())
    groups = [g for g in groups if g]
    names = U2NET_BLOCKS if len(groups) == len(U2NET_BLOCKS) else ()
    return tuple(
        Block(names[i] if names else f"block{i + 1}", tuple(g)) for i, g in enumerate(groups)
    )


def body_layout(model: onnx.ModelProto) -> BodyLayout:
    """The blocks, head and serving nodes of a serving graph (node names unique, as exported)."""
    nodes = list(model.graph.node)
    names = [n.name for n in nodes]
    if len(set(names)) != len(names) or not all(names):
        raise ValueError("expected uniquely named nodes, got unnamed or repeated node names")
    serving = {n for n in names if n.startswith(SERVING_PREFIX)}
    head = _head([n for n in nodes if n.name not in serving], _channels(model))
    return BodyLayout(
        blocks=_blocks(nodes, serving | head),
        head=tuple(n for n in names if n in head),
        serving=tuple(n for n in names if n in serving),
    )


def _spatial_sizes(model: onnx.ModelProto) -> dict[str, int]:
    """Height x width of every 4-D tensor shape inference can tell."""
    inferred = shape_inference.infer_shapes(model)
    found = {}
    for info in (*inferred.graph.value_info, *inferred.graph.output):
        dims = info.type.tensor_type.shape.dim
        if len(dims) == 4 and all(d.HasField("dim_value") for d in dims[2:]):
            found[info.name] = dims[2].dim_value * dims[3].dim_value
    return found


def conv_units(model: onnx.ModelProto, nodes: Sequence[str]) -> list[tuple[str, ...]]:
    """The convs among ``nodes``, each with the Relu that reads it, most multiply-adds first:
    the units a search may give back to int8 one at a time (a conv's cost is its weight's
    size times its output's height x width)."""
    weights = {w.name: int(np.prod(w.dims)) for w in model.graph.initializer}
    sizes = _spatial_sizes(model)
    among = set(nodes)
    by_input = {i: n for n in model.graph.node for i in n.input}
    units = []
    for node in model.graph.node:
        if node.op_type != "Conv" or node.name not in among:
            continue
        cost = weights.get(node.input[1], 0) * sizes.get(node.output[0], 0)
        relu = by_input.get(node.output[0])
        unit = (
            (node.name, relu.name) if relu is not None and relu.op_type == "Relu" else (node.name,)
        )
        units.append((cost, unit))
    return [unit for _cost, unit in sorted(units, key=lambda u: -u[0])]
