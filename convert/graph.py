"""Rewrite rembg's U²-Net ONNX into the serving graph (pure: ModelProto in, ModelProto out).

    image uint8 [N,320,320,3]
      -> float, / max(per-image max, 1e-6), (x - mean) / std, NHWC -> NCHW
      -> the original network (input ``input.1``), fused output d0 only
      -> per-image min-max, x255, clip, floor (= truncation), uint8
    mask uint8 [N,320,320]

Side outputs d1..d6 and the nodes only they need are dropped. Every op here exists in
opset 11, the models' own opset, so the graph runs wherever the original runs.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from u2net.contract import CONTRACT, ServingContract

BATCH = "batch"
GRAPH_VERSION = 1  # bump when the rewrite changes; staged manifests record it
SERVING_PREFIX = "serving/"


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), SERVING_PREFIX + name)


def _node(op: str, inputs: list[str], output: str, **attrs: object) -> onnx.NodeProto:
    return helper.make_node(
        op, inputs, [SERVING_PREFIX + output], name=SERVING_PREFIX + output, **attrs
    )


def _p(name: str) -> str:
    return SERVING_PREFIX + name


def _constants(contract: ServingContract) -> list[onnx.TensorProto]:
    mean = np.asarray(contract.mean, dtype=np.float32).reshape(1, 1, 1, -1)
    std = np.asarray(contract.std, dtype=np.float32).reshape(1, 1, 1, -1)
    return [
        _const("max_floor", np.float32(contract.max_floor)),
        _const("mean", mean),
        _const("std", std),
        _const("zero", np.float32(0.0)),
        _const("tiny", np.float32(np.finfo(np.float32).tiny)),
        _const("scale", np.float32(255.0)),
    ]


def _pre_nodes(contract: ServingContract, net_input: str) -> list[onnx.NodeProto]:
    """uint8 NHWC -> / per-image max -> ImageNet normalisation -> NCHW float (``net_input``)."""
    return [
        _node("Cast", [contract.input_name], "x", to=TensorProto.FLOAT),
        _node("ReduceMax", [_p("x")], "xmax", axes=[1, 2, 3], keepdims=1),
        _node("Max", [_p("xmax"), _p("max_floor")], "xmax_floor"),
        _node("Div", [_p("x"), _p("xmax_floor")], "x01"),
        _node("Sub", [_p("x01"), _p("mean")], "centred"),
        _node("Div", [_p("centred"), _p("std")], "normed"),
        helper.make_node(
            "Transpose", [_p("normed")], [net_input], name=_p("nchw"), perm=[0, 3, 1, 2]
        ),
    ]


def _post_nodes(contract: ServingContract, net_output: str) -> list[onnx.NodeProto]:
    """d0 -> per-image min-max -> x255, clip, floor -> uint8 mask."""
    return [
        _node("Squeeze", [net_output], "p", axes=[1]),
        _node("ReduceMin", [_p("p")], "pmin", axes=[1, 2], keepdims=1),
        _node("ReduceMax", [_p("p")], "pmax", axes=[1, 2], keepdims=1),
        _node("Sub", [_p("p"), _p("pmin")], "pshift"),
        _node("Sub", [_p("pmax"), _p("pmin")], "prange"),
        # A constant prediction would divide by zero (NaN in rembg); keep it finite.
        _node("Max", [_p("prange"), _p("tiny")], "prange_safe"),
        _node("Div", [_p("pshift"), _p("prange_safe")], "pnorm"),
        _node("Mul", [_p("pnorm"), _p("scale")], "p255"),
        _node("Clip", [_p("p255"), _p("zero"), _p("scale")], "pclip"),
        _node("Floor", [_p("pclip")], "pfloor"),  # astype(uint8) truncates; say so explicitly
        helper.make_node(
            "Cast", [_p("pfloor")], [contract.output_name], name=_p("mask"), to=TensorProto.UINT8
        ),
    ]


def _serving_io(contract: ServingContract) -> tuple[list, list]:
    inputs = [
        helper.make_tensor_value_info(
            contract.input_name, TensorProto.UINT8, [BATCH, *contract.input_dims]
        )
    ]
    outputs = [
        helper.make_tensor_value_info(
            contract.output_name, TensorProto.UINT8, [BATCH, *contract.output_dims]
        )
    ]
    return inputs, outputs


def _check_one_input(src: onnx.GraphProto) -> None:
    initializer_names = {init.name for init in src.initializer}
    for extra in src.input[1:]:
        if extra.name not in initializer_names:
            raise ValueError(f"expected one network input, got extra input {extra.name!r}")


def build_serving_graph(
    model: onnx.ModelProto, contract: ServingContract = CONTRACT
) -> onnx.ModelProto:
    """Return a new model that follows ``contract``; ``model`` is left untouched."""
    src = model.graph
    _check_one_input(src)
    net_input = src.input[0].name
    net_output = src.output[0].name  # d0, the fused mask
    body = _live_nodes(list(src.node), net_output)
    inputs, outputs = _serving_io(contract)
    graph = helper.make_graph(
        nodes=_pre_nodes(contract, net_input) + body + _post_nodes(contract, net_output),
        name=f"{src.name or 'u2net'}_serving",
        inputs=inputs,
        outputs=outputs,
        initializer=[*_constants(contract), *src.initializer],
    )
    # Old value_info pinned the batch to 1; shape inference recomputes what it needs.
    del graph.value_info[:]
    out = helper.make_model(
        graph, opset_imports=list(model.opset_import), producer_name="u2net-triton convert"
    )
    out.ir_version = model.ir_version
    return out


def _live_nodes(nodes: list[onnx.NodeProto], output: str) -> list[onnx.NodeProto]:
    """Keep only the nodes that ``output`` depends on, in their original order."""
    producer = {out: i for i, node in enumerate(nodes) for out in node.output}
    needed: set[int] = set()
    stack = [output]
    while stack:
        idx = producer.get(stack.pop())
        if idx is None or idx in needed:
            continue
        needed.add(idx)
        stack.extend(nodes[idx].input)
    return [node for i, node in enumerate(nodes) if i in needed]
