"""Build a TensorRT plan from the serving ONNX (TensorRT is imported lazily, via
:mod:`convert.tensorrt_lib`, so everything else in ``convert`` works on CPU-only machines)."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import Any

from convert.errors import EngineBuildError
from convert.graph import SERVING_PREFIX
from convert.tensorrt_lib import load_tensorrt, make_logger, tensorrt_major
from convert.trt_profile import BuildSettings, ShapeProfile
from u2net.contract import CONTRACT, ServingContract

log = logging.getLogger(__name__)


def _fp16_flag(trt: ModuleType) -> Any:
    flag = getattr(trt.BuilderFlag, "FP16", None)
    if flag is None or tensorrt_major(trt) >= 11:
        raise EngineBuildError(
            f"TensorRT {trt.__version__} has no FP16 builder flag (TensorRT 11 builds strongly "
            "typed networks only); use `--precision fp32`, or TensorRT 10 for fp16"
        )
    return flag


def _pin_serving_layers_fp32(trt: ModuleType, network: Any) -> int:
    """Keep the serving pre/post-processing (normalisation, min-max, x255) in fp32.

    Under fp16 the graph's ``tiny`` guard underflows to 0 and the x255 scale loses
    precision; the U²-Net body itself is free to run in fp16.
    """
    pinned = 0
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if not layer.name.startswith(SERVING_PREFIX):
            continue
        outputs = [layer.get_output(j) for j in range(layer.num_outputs)]
        if all(out.dtype == trt.float32 for out in outputs):
            layer.precision = trt.float32
            for j in range(layer.num_outputs):
                layer.set_output_type(j, trt.float32)
            pinned += 1
    return pinned


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
    network = builder.create_network(0)  # explicit batch; the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineBuildError(f"TensorRT's ONNX parser rejected {onnx_path}: {errors}")
    _check_io(trt, network, contract)

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings.workspace_bytes)
    if settings.precision == "fp16":
        config.set_flag(_fp16_flag(trt))
        prefer = getattr(trt.BuilderFlag, "PREFER_PRECISION_CONSTRAINTS", None)
        if prefer is not None:
            config.set_flag(prefer)
            log.debug("pinned %d serving layers to fp32", _pin_serving_layers_fp32(trt, network))
    if config.add_optimization_profile(profile.to_trt(builder)) < 0:
        raise EngineBuildError(f"TensorRT rejected the optimization profile {profile.as_dict()}")

    cache = config.create_timing_cache(timing_cache or b"")
    if not config.set_timing_cache(cache, ignore_mismatch=False):
        log.warning("timing cache was made on another GPU or TensorRT; starting a fresh one")
        cache = config.create_timing_cache(b"")
        config.set_timing_cache(cache, ignore_mismatch=False)

    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineBuildError(
            f"TensorRT could not build an engine from {onnx_path} (see the TensorRT errors above)"
        )
    return bytes(plan), bytes(cache.serialize())


def _check_io(trt: ModuleType, network: Any, contract: ServingContract) -> None:
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    outputs = [network.get_output(i) for i in range(network.num_outputs)]
    got = ([(t.name, t.dtype) for t in inputs], [(t.name, t.dtype) for t in outputs])
    want = ([(contract.input_name, trt.uint8)], [(contract.output_name, trt.uint8)])
    if got != want:
        raise EngineBuildError(f"the ONNX graph's I/O {got} is not the serving contract's {want}")
