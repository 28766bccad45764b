"""The serving graph with its U²-Net body in fp16 and the rest untouched (pure: ModelProto in,
ModelProto out).

TensorRT 11 builds strongly typed networks only: each tensor keeps the type the ONNX gives
it, and there is no FP16 builder flag. So an fp16 engine starts from an fp16 ONNX. The body
(every node not named with :data:`~convert.graph.SERVING_PREFIX`) is converted by
onnxconverter-common as a model of its own, with float32 I/O kept (one Cast into the body,
one out of it); the serving pre/post-processing, its constants and the uint8 image and
mask stay as they are, so the divide guard and the x255 scale keep their fp32 values.
"""

from __future__ import annotations

import logging
import warnings

import onnx
from onnx import TensorProto, helper

from convert.errors import EngineBuildError, InvalidModel
from convert.graph import SERVING_PREFIX

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'u2net-triton[ngc]' (or 'onnxconverter-common>=1.16')"


def _is_serving(node: onnx.NodeProto) -> bool:
    return node.name.startswith(SERVING_PREFIX)


def _boundary(graph: onnx.GraphProto) -> tuple[str, str]:
    """The one tensor the serving graph hands the body, and the one the body hands back."""
    body = [n for n in graph.node if not _is_serving(n)]
    serving = [n for n in graph.node if _is_serving(n)]
    from_serving = {t for n in serving for t in n.output} | {i.name for i in graph.input}
    to_serving = {t for n in serving for t in n.input} | {o.name for o in graph.output}
    ins = list(dict.fromkeys(t for n in body for t in n.input if t in from_serving))
    outs = list(dict.fromkeys(t for n in body for t in n.output if t in to_serving))
    if len(ins) != 1 or len(outs) != 1:
        raise InvalidModel(
            f"expected one tensor into the U²-Net body and one out of it, got {ins} and {outs}"
        )
    return ins[0], outs[0]


def _split_initializers(
    graph: onnx.GraphProto,
) -> tuple[list[onnx.TensorProto], list[onnx.TensorProto]]:
    """(the body's, the serving graph's) initializers; none may be shared."""
    used_by_body = {t for n in graph.node if not _is_serving(n) for t in n.input}
    used_by_serving = {t for n in graph.node if _is_serving(n) for t in n.input}
    shared = sorted(i.name for i in graph.initializer if i.name in used_by_body & used_by_serving)
    if shared:
        raise InvalidModel(
            f"expected no initializer shared by body and serving nodes, got {shared}"
        )
    body = [i for i in graph.initializer if i.name in used_by_body]
    return body, [i for i in graph.initializer if i.name not in used_by_body]


def _convert_body(body: onnx.ModelProto) -> onnx.ModelProto:
    try:
        from onnxconverter_common import float16
    except ImportError as e:
        raise EngineBuildError(f"fp16 via ONNX needs onnxconverter-common: {INSTALL_HINT}") from e
    with warnings.catch_warnings(record=True) as clamped:
        warnings.simplefilter("always")
        converted = float16.convert_float_to_float16(body, keep_io_types=True)
    # each warning: weights beyond fp16's range (|w| < 1e-7 or > 1e4) clamped to its edge
    log.debug("fp16 body: %d weight tensors clamped to fp16's range", len(clamped))
    return converted


def body_to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a new model whose non-serving nodes compute in fp16; ``model`` is untouched."""
    graph = model.graph
    into, out_of = _boundary(graph)
    body_inits, serving_inits = _split_initializers(graph)
    body = helper.make_model(
        helper.make_graph(
            [n for n in graph.node if not _is_serving(n)],
            "u2net_body",
            [helper.make_tensor_value_info(into, TensorProto.FLOAT, None)],
            [helper.make_tensor_value_info(out_of, TensorProto.FLOAT, None)],
            body_inits,
        ),
        opset_imports=list(model.opset_import),
    )
    body.ir_version = model.ir_version
    converted = _convert_body(body)
    first = next(i for i, n in enumerate(graph.node) if not _is_serving(n))
    pre = [n for n in graph.node[:first] if _is_serving(n)]
    post = [n for n in graph.node[first:] if _is_serving(n)]
    out = helper.make_model(
        helper.make_graph(
            [*pre, *converted.graph.node, *post],
            graph.name,
            list(graph.input),
            list(graph.output),
            [*serving_inits, *converted.graph.initializer],
        ),
        opset_imports=list(model.opset_import),
        producer_name="u2net-triton convert (fp16 body)",
    )
    out.ir_version = model.ir_version
    return out
