"""What TensorRT's ONNX parser (onnx-tensorrt 10.x) makes of a graph, as plain LayerInfo data.

Just enough of its naming to test the fp16 pinning on CPU, from onnx-tensorrt's sources:
one layer per node, named after the node (``registerLayer``); ONNX ``Constant`` nodes and
initializers are weights, and an elementwise op turns them into a constant layer named
after the initializer (``convertToTensor``); an elementwise input of lower rank goes
through an ``ONNXTRT_Broadcast`` shuffle whose shape comes from int64 ``ONNXTRT_Shape*``
layers (``broadcastTensor``); a name already taken gets ``_<n>`` from one counter
(``generateUniqueName``). Data types come from ONNX shape inference.
"""

from __future__ import annotations

import onnx
from onnx import TensorProto

from convert.trt.layers import LayerInfo

ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Sum", "Mean"}
TYPE_NAMES = {
    TensorProto.FLOAT: "FLOAT",
    TensorProto.FLOAT16: "HALF",
    TensorProto.UINT8: "UINT8",
    TensorProto.INT32: "INT32",
    TensorProto.INT64: "INT64",
    TensorProto.BOOL: "BOOL",
}


class _Parse:
    def __init__(self, model: onnx.ModelProto) -> None:
        graph = onnx.shape_inference.infer_shapes(model).graph
        self.types = {
            v.name: (v.type.tensor_type.elem_type, len(v.type.tensor_type.shape.dim))
            for v in (*graph.value_info, *graph.input, *graph.output)
        }
        consts = {n.output[0]: n.attribute[0].t for n in graph.node if n.op_type == "Constant"}
        self.weights = {w.name: w for w in graph.initializer} | consts
        self.types |= {name: (w.data_type, len(w.dims)) for name, w in self.weights.items()}
        self.graph = graph
        self.layers: list[LayerInfo] = []
        self.names: set[str] = set()
        self.counter = 0
        self.constants: dict[str, str] = {}

    def unique(self, base: str) -> str:
        name = base
        while name in self.names:
            name = f"{base}_{self.counter}"
            self.counter += 1
        self.names.add(name)
        return name

    def add(self, base: str, inputs: list[str], outputs: list[str], out_types: list[str]) -> None:
        in_types = tuple(TYPE_NAMES[self.types[t][0]] for t in inputs)
        self.layers.append(
            LayerInfo(self.unique(base), tuple(inputs), tuple(outputs), in_types, tuple(out_types))
        )

    def as_tensor(self, name: str, rank: int) -> str:
        """An elementwise input: weights become a constant layer, low ranks a broadcast."""
        if name in self.weights and name not in self.constants:
            self.constants[name] = name
            self.add(name, [], [name], [TYPE_NAMES[self.types[name][0]]])
        if self.types[name][1] >= rank:
            return name
        shape = f"shape#{len(self.layers)}"
        self.types[shape] = (TensorProto.INT64, 1)
        self.add("ONNXTRT_ShapeConcat", [], [shape], ["INT64"])
        out = f"(Unnamed Layer* {len(self.layers)}) [Shuffle]_output"
        self.types[out] = (self.types[name][0], rank)
        self.add("ONNXTRT_Broadcast", [name, shape], [out], [TYPE_NAMES[self.types[name][0]]])
        return out

    def node(self, node: onnx.NodeProto) -> None:
        if node.op_type == "Constant":
            return
        inputs = [t for t in node.input if t]
        if node.op_type in ELEMENTWISE:
            rank = max(self.types[t][1] for t in inputs)
            inputs = [self.as_tensor(t, rank) for t in inputs]
        else:
            inputs = [t for t in inputs if t not in self.weights]
        out_types = [TYPE_NAMES[self.types[t][0]] for t in node.output]
        self.add(node.name, inputs, list(node.output), out_types)


def parsed_layers(model: onnx.ModelProto) -> list[LayerInfo]:
    parse = _Parse(model)
    for node in parse.graph.node:
        parse.node(node)
    return parse.layers
