"""Small ONNX networks with the signature of each model family's real files (rembg's
releases cannot be downloaded here): one float NCHW input at the family's size, the fused
sigmoid map first and side maps after it, as U²-Net and IS-Net have them. Seeded random
weights: the maths around the network is what the tests check, not the network."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT = "input.1"  # the real files' input name
OPSET = 11  # theirs


def _conv(name: str, source: str, weight: np.ndarray) -> list:
    return [
        numpy_helper.from_array(weight.astype(np.float32), f"{name}.w"),
        helper.make_node(
            "Conv", [source, f"{name}.w"], [name], pads=[weight.shape[-1] // 2] * 4, name=name
        ),
    ]


def family_net(size: int, side_outputs: int = 2, seed: int = 0) -> onnx.ModelProto:
    """[1,3,size,size] float -> d0 (the fused map) and ``side_outputs`` more, [1,1,size,size]."""
    rng = np.random.default_rng(seed)
    weight, conv = _conv("c1", INPUT, rng.normal(0, 0.5, (4, 3, 3, 3)))
    inits, nodes = [weight], [conv, helper.make_node("Relu", ["c1"], ["r1"], name="r1")]
    outputs = []
    for index in range(1 + side_outputs):
        weight, conv = _conv(f"head{index}", "r1", rng.normal(0, 0.5, (1, 4, 1, 1)))
        inits.append(weight)
        nodes += [conv, helper.make_node("Sigmoid", [f"head{index}"], [f"d{index}"])]
        outputs.append(
            helper.make_tensor_value_info(f"d{index}", TensorProto.FLOAT, [1, 1, size, size])
        )
    graph = helper.make_graph(
        nodes,
        "family_net",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [1, 3, size, size])],
        outputs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 6
    onnx.checker.check_model(model)
    return model
