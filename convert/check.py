"""Validate ONNX files: rembg's original U²-Net and our serving graph.

Each check appends a line to a report; the first failure raises ``InvalidModel`` with
one line saying what was expected and what was found.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError

from convert.errors import InvalidModel
from u2net.catalogue import model_by_md5
from u2net.contract import CONTRACT, FAMILY_CONTRACTS, ServingContract
from u2net.repository.files import md5_of
from u2net.samples import SAMPLE_NAMES, sample_inputs

log = logging.getLogger(__name__)


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)

    def ok(self, line: str) -> None:
        self.lines.append(f"ok    {line}")


def load_onnx(path: Path) -> onnx.ModelProto:
    """Load an ONNX file, or raise InvalidModel saying why it is not one."""
    path = Path(path)
    if not path.exists():
        raise InvalidModel(f"{path}: no such file")
    if not path.is_file():
        raise InvalidModel(f"{path}: expected an ONNX file, got a directory")
    size = path.stat().st_size
    if size == 0:
        raise InvalidModel(f"{path}: expected an ONNX model, got an empty file")
    try:
        return onnx.load(str(path))
    except (DecodeError, RuntimeError, ValueError, OSError) as e:
        raise InvalidModel(
            f"{path}: expected an ONNX model, got {size:,} bytes that do not parse "
            f"(truncated or not ONNX: {type(e).__name__})"
        ) from e


def _dims(value_info: onnx.ValueInfoProto) -> list[int | str]:
    return [
        d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
        for d in value_info.type.tensor_type.shape.dim
    ]


def _fmt(dims: list[int | str]) -> str:
    return "[" + ",".join(str(d) for d in dims) + "]"


def _validate(model: onnx.ModelProto, path: Path, report: Report) -> onnx.ModelProto:
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InvalidModel(f"{path}: ONNX checker failed: {first}") from e
    report.ok("onnx.checker (full check)")
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except onnx.shape_inference.InferenceError as e:
        raise InvalidModel(f"{path}: shape inference failed: {str(e).splitlines()[0]}") from e
    report.ok("shape inference")
    return inferred


def _graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    initializers = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


def _batch_ok(dim: int | str) -> bool:
    return dim == 1 or isinstance(dim, str)


def family_contract(dims: list[int | str]) -> ServingContract:
    """The family contract whose input size these NCHW dims have; U²-Net's otherwise (its
    check then says what was expected)."""
    sizes = {family.size: family for family in FAMILY_CONTRACTS.values()}
    return sizes.get(dims[-1], CONTRACT) if len(dims) == 4 else CONTRACT


def check_source(path: Path, contract: ServingContract | None = None) -> Report:
    """Full check of an original ONNX file of rembg's (float NCHW in, sigmoid maps out),
    against ``contract``; None: the model's own when rembg ships the file, else the family
    whose input size it has (U²-Net's 320², IS-Net's 1024²)."""
    path = Path(path)
    report = Report()
    model = load_onnx(path)
    known = model_by_md5(md5_of(path))
    report.ok(f"md5 matches rembg's {known.filename}" if known else "md5: not a file rembg ships")
    _validate(model, path, report)

    inputs = _graph_inputs(model)
    if len(inputs) != 1:
        raise InvalidModel(f"{path}: expected 1 input, got {len(inputs)}")
    inp = inputs[0]
    dims = _dims(inp)
    if contract is None:
        contract = known.contract if known else family_contract(dims)
    c, s = contract.channels, contract.size
    elem = inp.type.tensor_type.elem_type
    if elem != onnx.TensorProto.FLOAT:
        raise InvalidModel(
            f"{path}: expected a float input, got {onnx.TensorProto.DataType.Name(elem)}"
        )
    if len(dims) != 4 or not _batch_ok(dims[0]) or dims[1:] != [c, s, s]:
        raise InvalidModel(f"{path}: expected input [N,{c},{s},{s}], got {inp.name} {_fmt(dims)}")
    report.ok(f"input {inp.name} float {_fmt(dims)}")

    if not model.graph.output:
        raise InvalidModel(f"{path}: expected an output [N,1,{s},{s}], got no outputs")
    out = model.graph.output[0]
    odims = _dims(out)
    if len(odims) != 4 or not _batch_ok(odims[0]) or odims[1:] != [1, s, s]:
        raise InvalidModel(
            f"{path}: expected first output [N,1,{s},{s}], got {out.name} {_fmt(odims)}"
        )
    report.ok(f"output {out.name} {_fmt(odims)} (+{len(model.graph.output) - 1} side outputs)")

    (photo,), rgb = sample_inputs(SAMPLE_NAMES[:1], contract)
    pred = _run(model, path, {inp.name: _normalise(rgb[0], contract)})[0]
    pred = np.asarray(pred, dtype=np.float64)[0, 0]
    if not np.isfinite(pred).all() or pred.min() < 0.0 or pred.max() > 1.0:
        raise InvalidModel(
            f"{path}: expected output values in [0,1], got [{pred.min():.3g},{pred.max():.3g}]"
        )
    if float(pred.std()) < 1e-3:
        raise InvalidModel(f"{path}: expected a mask, got a constant output ({pred.mean():.3g})")
    report.ok(f"ONNX Runtime CPU run on {photo}: mask in [0,1], std {pred.std():.3f}")
    return report


def check_serving(
    model: onnx.ModelProto, label: str, contract: ServingContract = CONTRACT
) -> Report:
    """Check a serving graph: checker, contract I/O, and a real run on a photo."""
    path = Path(label)
    report = Report()
    _validate(model, path, report)
    inputs = _graph_inputs(model)
    got = [(i.name, _fmt(_dims(i))) for i in inputs]
    want_in = (contract.input_name, _fmt(["batch", *contract.input_dims]))
    if got != [want_in]:
        raise InvalidModel(f"{label}: expected input {want_in}, got {got}")
    outs = [(o.name, _fmt(_dims(o))) for o in model.graph.output]
    want_out = (contract.output_name, _fmt(["batch", *contract.output_dims]))
    if outs != [want_out]:
        raise InvalidModel(f"{label}: expected output {want_out}, got {outs}")
    (photo,), image = sample_inputs(SAMPLE_NAMES[:1], contract)
    mask = _run(model, path, {contract.input_name: image})[0]
    if mask.dtype != contract.output_np_dtype or mask.shape != (1, *contract.output_dims):
        raise InvalidModel(f"{label}: expected uint8 {want_out[1]}, got {mask.dtype} {mask.shape}")
    if mask.min() != 0 or mask.max() < 250:
        raise InvalidModel(
            f"{label}: expected a min-max normalised mask, got range [{mask.min()},{mask.max()}]"
        )
    report.ok(f"serving run on {photo}: uint8 {mask.shape}, range [0,{mask.max()}]")
    return report


def _normalise(rgb: np.ndarray, contract: ServingContract) -> np.ndarray:
    x = rgb / max(float(rgb.max()), contract.max_floor)
    x = (x - np.asarray(contract.mean)) / np.asarray(contract.std)
    return x.transpose(2, 0, 1)[None].astype(np.float32)


def _run(model: onnx.ModelProto, path: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        return session.run(None, feeds)
    except (
        ort.capi.onnxruntime_pybind11_state.Fail,
        ort.capi.onnxruntime_pybind11_state.InvalidArgument,
        ort.capi.onnxruntime_pybind11_state.InvalidGraph,
        ort.capi.onnxruntime_pybind11_state.RuntimeException,
    ) as e:
        first = str(e).strip().splitlines()[0]
        raise InvalidModel(f"{path}: ONNX Runtime could not run it: {first}") from e
