"""Which layers of a parsed network an fp16 build keeps in fp32: pure, over plain layer data.

TensorRT's ONNX parser names a layer after its ONNX node, so the serving graph's pre/post
layers carry :data:`~convert.graph.SERVING_PREFIX` (and constant layers the initializer's
name, ``serving/tiny``). It also adds helper layers of its own, named ``ONNXTRT_<what>``
and made unique with ``_<n>``: for a 0-D constant in an elementwise op, an
``ONNXTRT_Broadcast`` shuffle reshapes it to the other input's rank (onnx-tensorrt,
``broadcastTensor`` and ``generateUniqueName``). Left to run in fp16, that shuffle turns
the 1.2e-38 divide guard into 0, and a constant prediction gives 0/0. So the pinned set is
the serving layers plus every parser helper whose outputs feed only pinned layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from convert.graph import SERVING_PREFIX

PARSER_HELPER_PREFIX = "ONNXTRT_"
FLOAT = "FLOAT"  # TensorRT's DataType name for fp32


@dataclass(frozen=True)
class LayerInfo:
    """One network layer as plain data: its name, the tensors it reads and writes, and the
    DataType names (``FLOAT``, ``HALF``, ``INT64``, ``UINT8``...) of what it reads and writes."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    input_dtypes: tuple[str, ...] = ()
    output_dtypes: tuple[str, ...] = ()

    @property
    def computes_in_float(self) -> bool:
        """Writes only fp32 and reads fp32 data (a shuffle's second input is its shape)."""
        data_in = self.input_dtypes[:1]
        return bool(self.output_dtypes) and all(d == FLOAT for d in (*data_in, *self.output_dtypes))


def on_serving_paths(layers: Sequence[LayerInfo]) -> set[str]:
    """Names of the serving layers and of the parser helpers that only feed them."""
    consumers: dict[str, set[str]] = {}
    for layer in layers:
        for tensor in layer.inputs:
            consumers.setdefault(tensor, set()).add(layer.name)
    found = {layer.name for layer in layers if layer.name.startswith(SERVING_PREFIX)}
    helpers = [layer for layer in layers if layer.name.startswith(PARSER_HELPER_PREFIX)]
    grew = True
    while grew:  # helpers can chain (a constant's cast, then its broadcast)
        grew = False
        for layer in helpers:
            users = {user for out in layer.outputs for user in consumers.get(out, ())}
            if layer.name not in found and users and users <= found:
                found.add(layer.name)
                grew = True
    return found


def layers_to_pin(layers: Sequence[LayerInfo]) -> list[str]:
    """The float layers on the serving paths, in network order: these stay fp32 under fp16.

    Casts from the uint8 image and to the uint8 mask are left alone: one reads, the other
    writes integers, and their float side is pinned through their neighbours.
    """
    wanted = on_serving_paths(layers)
    return [layer.name for layer in layers if layer.name in wanted and layer.computes_in_float]
