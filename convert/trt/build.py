"""Build a TensorRT plan from the serving ONNX (TensorRT is imported lazily, via
:mod:`convert.trt.tensorrt_lib`, so everything else in ``convert`` works on CPU-only machines).

The decisions are plain functions over duck-typed objects, tested on CPU with fakes:
which fp16 method a TensorRT version gets (:func:`fp16_method`), the builder flags
(:func:`apply_precision`), the timing cache and its fallback (:func:`attach_timing_cache`)
and, through :mod:`convert.trt.layers`, which layers an fp16 build keeps in fp32.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import onnx

from convert.errors import EngineBuildError
from convert.trt.fp16 import body_to_fp16
from convert.trt.int8 import (
    Int8Inputs,
    calibration_cache,
    check_int8_supported,
    layers_to_fp16,
    make_calibrator,
)
from convert.trt.layers import LayerInfo, layers_to_pin
from convert.trt.profile import BuildSettings, Precision, ShapeProfile
from convert.trt.tensorrt_lib import load_tensorrt, make_logger, tensorrt_major
from u2net.contract import CONTRACT, ServingContract

log = logging.getLogger(__name__)

Fp16Method = Literal["builder-flag", "onnx"]


def fp16_method(trt_major: int) -> Fp16Method:
    """TensorRT 10 lowers precision with the FP16 builder flag; TensorRT 11 builds strongly
    typed networks only (no FP16 flag), so its fp16 comes from an fp16 ONNX body."""
    return "onnx" if trt_major >= 11 else "builder-flag"


def _flag(trt: ModuleType, name: str) -> Any | None:
    return getattr(trt.BuilderFlag, name, None)


def apply_precision(trt: ModuleType, config: Any, precision: Precision, method: Fp16Method) -> bool:
    """Set the builder flags for ``precision``; True when the serving layers must be pinned.

    fp32 clears TF32 (on by default, it rounds convolution inputs to 10-bit mantissas on
    Ampere and newer). fp16 by builder flag also asks TensorRT to honour the layer
    precisions set on the serving layers. An fp16 ONNX needs no flag: its types decide.
    """
    if precision == "int8":  # TensorRT 10's implicit INT8 (convert/trt/int8.py)
        check_int8_supported(tensorrt_major(trt))
        config.set_flag(trt.BuilderFlag.INT8)
        config.set_flag(trt.BuilderFlag.FP16)  # the float nodes run in fp16
        config.set_flag(trt.BuilderFlag.PREFER_PRECISION_CONSTRAINTS)
        return True
    if precision == "fp32":
        tf32 = _flag(trt, "TF32")
        if tf32 is None:
            log.warning("TensorRT %s has no TF32 flag to clear; fp32 may use TF32", trt.__version__)
        else:
            config.clear_flag(tf32)
        return False
    if method == "onnx":
        return False
    fp16 = _flag(trt, "FP16")
    if fp16 is None:
        raise EngineBuildError(
            f"TensorRT {trt.__version__} has no FP16 builder flag; use `--precision fp32`"
        )
    config.set_flag(fp16)
    prefer = _flag(trt, "PREFER_PRECISION_CONSTRAINTS")
    if prefer is None:
        log.warning(
            "TensorRT %s has no PREFER_PRECISION_CONSTRAINTS flag: the serving pre/post "
            "layers cannot be kept in fp32, and verification will decide",
            trt.__version__,
        )
        return False
    config.set_flag(prefer)
    return True


def attach_timing_cache(config: Any, serialized: bytes | None) -> Any | None:
    """Attach the saved timing cache, or a fresh one when it is stale, foreign or damaged.

    ``create_timing_cache`` gives None for data it cannot read (e.g. after an image upgrade)
    and ``set_timing_cache`` False for another GPU's; returns the attached cache, or None
    when TensorRT cannot make one at all (the build then runs without).
    """
    if serialized:
        cache = config.create_timing_cache(serialized)
        if cache is not None and config.set_timing_cache(cache, ignore_mismatch=False):
            return cache
        reason = "unreadable" if cache is None else "made on another GPU or TensorRT"
        log.warning("timing cache (%d bytes) is %s; starting a fresh one", len(serialized), reason)
    cache = config.create_timing_cache(b"")
    if cache is None or not config.set_timing_cache(cache, ignore_mismatch=False):
        log.warning("TensorRT could not make a timing cache; building without one")
        return None
    return cache


def _dtype_name(dtype: Any) -> str:
    return str(getattr(dtype, "name", str(dtype).rsplit(".", 1)[-1]))


def _tensors(layer: Any, count: int, get: str) -> list[Any]:
    found = (getattr(layer, get)(i) for i in range(count))
    return [tensor for tensor in found if tensor is not None]  # optional inputs are None


def layer_infos(network: Any) -> list[LayerInfo]:
    """The network's layers as plain data for :func:`convert.trt.layers.layers_to_pin`."""
    infos = []
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        ins = _tensors(layer, layer.num_inputs, "get_input")
        outs = _tensors(layer, layer.num_outputs, "get_output")
        infos.append(
            LayerInfo(
                name=layer.name,
                inputs=tuple(t.name for t in ins),
                outputs=tuple(t.name for t in outs),
                input_dtypes=tuple(_dtype_name(t.dtype) for t in ins),
                output_dtypes=tuple(_dtype_name(t.dtype) for t in outs),
            )
        )
    return infos


def pin_serving_layers(trt: ModuleType, network: Any) -> list[str]:
    """Keep the serving pre/post layers and their parser helpers in fp32; returns their names."""
    pinned = set(layers_to_pin(layer_infos(network)))
    pin_layers(trt, network, pinned, trt.float32)
    return sorted(pinned)


def pin_layers(trt: ModuleType, network: Any, names: set[str], dtype: Any) -> None:
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if layer.name in names:
            layer.precision = dtype
            for j in range(layer.num_outputs):
                layer.set_output_type(j, dtype)


def apply_int8(trt: ModuleType, network: Any, config: Any, inputs: Int8Inputs) -> None:
    """The calibration cache, and the recipe's float nodes pinned to fp16 (convert/trt/int8.py)."""
    layers = layer_infos(network)
    fp16 = set(layers_to_fp16(layers, inputs.float_nodes)) - set(layers_to_pin(layers))
    pin_layers(trt, network, fp16, trt.float16)
    log.debug("kept %d layers in fp16 for int8: %s", len(fp16), ", ".join(sorted(fp16)))
    config.int8_calibrator = make_calibrator(trt, calibration_cache(inputs.ranges, trt.__version__))


def _parse(trt: ModuleType, network: Any, logger: Any, onnx_path: Path, fp16_onnx: bool) -> None:
    parser = trt.OnnxParser(network, logger)
    if fp16_onnx:
        ok = parser.parse(body_to_fp16(onnx.load(str(onnx_path))).SerializeToString())
    else:
        ok = parser.parse_from_file(str(onnx_path))
    if not ok:
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineBuildError(f"TensorRT's ONNX parser rejected {onnx_path}: {errors}")


def build_plan(
    onnx_path: Path,
    profile: ShapeProfile,
    settings: BuildSettings,
    timing_cache: bytes | None = None,
    contract: ServingContract = CONTRACT,
) -> tuple[bytes, bytes]:
    """Build a serialized engine from ``onnx_path``; returns (plan, timing cache)."""
    trt = load_tensorrt()
    logger = make_logger(trt)
    try:
        builder = trt.Builder(logger)
    except (TypeError, RuntimeError) as e:  # pybind: "factory function returned nullptr"
        raise EngineBuildError(f"TensorRT cannot create a builder (no usable GPU?): {e}") from e
    method = fp16_method(tensorrt_major(trt))
    fp16_onnx = settings.precision == "fp16" and method == "onnx"
    network = builder.create_network(0)  # explicit batch (TensorRT 10); strongly typed (11)
    _parse(trt, network, logger, onnx_path, fp16_onnx)
    _check_io(trt, network, contract)

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings.workspace_bytes)
    if apply_precision(trt, config, settings.precision, method):
        pinned = pin_serving_layers(trt, network)
        log.debug("kept %d serving layers in fp32: %s", len(pinned), ", ".join(pinned))
    if settings.precision == "int8":
        if settings.int8 is None:
            raise EngineBuildError("an INT8 build needs the int8 variant's ranges; none given")
        apply_int8(trt, network, config, settings.int8)
    if config.add_optimization_profile(profile.to_trt(builder)) < 0:
        raise EngineBuildError(f"TensorRT rejected the optimization profile {profile.as_dict()}")
    cache = attach_timing_cache(config, timing_cache)

    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineBuildError(
            f"TensorRT could not build an engine from {onnx_path} (see the TensorRT errors above)"
        )
    return bytes(plan), b"" if cache is None else bytes(cache.serialize())


def _check_io(trt: ModuleType, network: Any, contract: ServingContract) -> None:
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    outputs = [network.get_output(i) for i in range(network.num_outputs)]
    got = ([(t.name, t.dtype) for t in inputs], [(t.name, t.dtype) for t in outputs])
    want = ([(contract.input_name, trt.uint8)], [(contract.output_name, trt.uint8)])
    if got != want:
        raise EngineBuildError(f"the ONNX graph's I/O {got} is not the serving contract's {want}")
