"""TensorRT INT8 from what ``python -m convert quantize`` found on the CPU (never run on a
GPU: docs/gpu.md). Written against TensorRT 10.5's Python API:

- the calibration: ONNX Runtime's MinMax ranges of every tensor, from the int8 variant's
  calibration cache, written as TensorRT's own calibration cache and handed to an
  ``IInt8MinMaxCalibrator`` whose ``read_calibration_cache`` returns it (no GPU calibration
  run; ``get_batch`` has nothing to give, so a cache TensorRT refuses fails the build);
- the layers the int8 recipe kept in float (the output head and its fp32 nodes):
  pinned to fp16 with ``layer.precision`` and ``PREFER_PRECISION_CONSTRAINTS``; the serving
  pre/post layers stay fp32 as in every build (:mod:`convert.trt.layers`).

TensorRT deprecated implicit quantization (calibrators) in 10.1 and TensorRT 11 builds
strongly typed networks only; there, int8 is refused with a line saying so.
Pure apart from :func:`make_calibrator` (TensorRT) and :func:`load_int8_inputs` (files).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from convert.errors import EngineBuildError
from convert.model_config import OnnxVariant
from convert.trt.layers import LayerInfo
from u2net.catalogue import KnownModel
from u2net.repository.files import md5_of
from u2net.repository.layout import ONNX_FILE, quantize_dir, staged_paths
from u2net.repository.manifests import int8_float_nodes, read_manifest

INT8_MAX = 127  # TensorRT's symmetric int8: scale = max(|lowest|, |highest|) / 127
CACHE_ALGORITHM = "MinMaxCalibration"


@dataclass(frozen=True)
class Int8Inputs:
    """What an INT8 build takes from the int8 variant's manifest and calibration cache."""

    ranges: tuple[tuple[str, float, float], ...]  # tensor, lowest, highest
    float_nodes: tuple[str, ...]  # the ONNX nodes the recipe kept in float
    manifest_md5: str  # a new int8 build (a new manifest) makes staged INT8 plans stale


def tensorrt_version_tag(version: str) -> str:
    """``10.5.0.18`` -> ``100500``: NV_TENSORRT_VERSION, as calibration caches name it."""
    parts = [int(p) for p in version.split(".")[:3]]
    major, minor, patch = [*parts, 0, 0][:3]
    return str(major * 10000 + minor * 100 + patch)


def calibration_cache(ranges: Iterable[tuple[str, float, float]], tensorrt_version: str) -> bytes:
    """TensorRT's calibration cache: a header line, then ``tensor: <scale>`` per tensor, the
    scale as big-endian float32 hex. Empty or unmeasured ranges are left out."""
    lines = [f"TRT-{tensorrt_version_tag(tensorrt_version)}-{CACHE_ALGORITHM}"]
    for name, lowest, highest in ranges:
        bound = max(abs(lowest), abs(highest))
        if not bound or bound == float("inf") or lowest > highest:
            continue
        lines.append(f"{name}: {struct.pack('>f', bound / INT8_MAX).hex()}")
    return ("\n".join(lines) + "\n").encode()


def layers_to_fp16(layers: Sequence[LayerInfo], float_nodes: Iterable[str]) -> list[str]:
    """The float-computing layers made from ``float_nodes``, in network order. The ONNX
    parser names a layer after its node, and the extra layers of one node ``<node>_<n>``."""
    wanted = set(float_nodes)

    def from_node(name: str) -> bool:
        return name in wanted or name.rsplit("_", 1)[0] in wanted

    return [layer.name for layer in layers if from_node(layer.name) and layer.computes_in_float]


def _ort_ranges(path: Path) -> tuple[tuple[str, float, float], ...]:
    from onnxruntime.quantization.calibrate import load_tensors_data

    data = load_tensors_data(path)
    found = []
    for name, tensor in data.items():
        lowest, highest = (float(v.reshape(-1)[0]) for v in tensor.range_value)
        found.append((name, lowest, highest))
    return tuple(sorted(found))


def load_int8_inputs(repository: Path, model: KnownModel) -> Int8Inputs:
    """The staged int8 variant's float nodes and ranges; EngineBuildError naming the command
    that makes them when they are missing."""
    variant = OnnxVariant(model.name, int8=True).name
    _staged, manifest_path = staged_paths(repository, variant, ONNX_FILE)
    manifest = read_manifest(manifest_path)
    hint = f"run `python -m convert quantize --models {model.name}` first"
    if manifest is None:
        raise EngineBuildError(f"INT8 needs {manifest_path}; {hint}")
    try:
        nodes, cache_name = int8_float_nodes(manifest)
    except ValueError as e:
        raise EngineBuildError(f"{manifest_path}: {e}; {hint}") from e
    cache = quantize_dir(repository, variant) / cache_name
    if not cache.is_file():
        raise EngineBuildError(f"INT8 needs the calibration cache {cache}; {hint}")
    return Int8Inputs(_ort_ranges(cache), tuple(nodes), md5_of(manifest_path))


def source_md5(onnx_md5: str, inputs: Int8Inputs | None) -> str:
    """What a plan is built from: the serving ONNX, and for INT8 the int8 manifest too."""
    if inputs is None:
        return onnx_md5
    return hashlib.md5(f"{onnx_md5}+{inputs.manifest_md5}".encode()).hexdigest()


def make_calibrator(trt: ModuleType, cache: bytes) -> Any:
    """An ``IInt8MinMaxCalibrator`` that answers from ``cache`` and has no batches of its own."""

    class CachedCalibrator(trt.IInt8MinMaxCalibrator):
        def __init__(self) -> None:
            trt.IInt8MinMaxCalibrator.__init__(self)

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: list[str]) -> list[int] | None:
            return None  # everything comes from the cache

        def read_calibration_cache(self) -> bytes:
            return cache

        def write_calibration_cache(self, data: Any) -> None:
            return None

    return CachedCalibrator()


def check_int8_supported(trt_major: int) -> None:
    if trt_major >= 11:
        raise EngineBuildError(
            f"--precision int8 uses TensorRT 10's calibration cache; TensorRT {trt_major} has "
            "no implicit INT8 (build fp16, or stage a QDQ model by hand)"
        )
