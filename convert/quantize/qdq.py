"""ONNX Runtime's static quantization of the serving graph: calibrate once, quantize often.

The settings (measured: docs/int8.md): QDQ format, per-channel symmetric int8 weights
(8 bits, or 7 where this CPU's kernels would saturate 8: ``convert.quantize.cpu``), asymmetric
uint8 activations, MinMax calibration on real photos. Calibration runs the graph once per
photo and writes ONNX Runtime's own JSON cache of every tensor's range; each quantization
after that (the sensitivity search builds a dozen) reads the cache instead of running the
photos again.

``onnxruntime.quantization`` is imported here only, inside the functions.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import onnx

from convert.errors import QuantizeError
from convert.quantize.cpu import REDUCED_BITS, weight_bits_here
from u2net.contract import CONTRACT, ServingContract

log = logging.getLogger(__name__)

PER_CHANNEL = True
ADVICE = "Please consider"  # quantize_static's pre-processing advice
INSTALL_HINT = "pip install onnxruntime (its onnxruntime.quantization package)"


def _quantization() -> ModuleType:
    try:
        import onnxruntime.quantization as q
    except ImportError as e:
        raise QuantizeError(f"int8 quantization needs ONNX Runtime; run `{INSTALL_HINT}`") from e
    return q


def _reader(q: ModuleType, images: np.ndarray, contract: ServingContract) -> Any:
    """One calibration batch per photo, as the serving graph takes it (uint8 NHWC)."""

    class PhotoReader(q.CalibrationDataReader):
        def __init__(self) -> None:
            self._batches: Iterator[np.ndarray] = iter(images[:, None])

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {contract.input_name: batch}

        def __len__(self) -> int:
            return len(images)

    return PhotoReader()


class _NoAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(ADVICE)


@contextmanager
def _quiet_advice() -> Iterator[None]:
    """quantize_static logs, on the root logger, advice to pre-process that does not apply
    here (the graph is ONNX Runtime-optimised when a session loads it): drop that line."""
    advice = _NoAdvice()
    logging.getLogger().addFilter(advice)
    try:
        yield
    finally:
        logging.getLogger().removeFilter(advice)


def quantize(
    model: onnx.ModelProto, cache: Path, exclude: Sequence[str], weight_bits: int | None = None
) -> onnx.ModelProto:
    """The QDQ model with every node but ``exclude`` in int8, ranges read from ``cache``, the
    weights in ``weight_bits`` (None: what this CPU needs, ``weight_bits_here``)."""
    q = _quantization()
    bits = weight_bits_here() if weight_bits is None else weight_bits
    if not cache.is_file():
        raise QuantizeError(f"expected a calibration cache at {cache}, got none; calibrate first")
    with tempfile.TemporaryDirectory(prefix="u2net-int8-") as tmp:
        # a path, not the proto: quantize_static moves a proto's weights to external files
        source, out = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(source))
        with _quiet_advice():
            q.quantize_static(
                source,
                out,
                None,  # the ranges come from the cache
                quant_format=q.QuantFormat.QDQ,
                per_channel=PER_CHANNEL,
                reduce_range=bits == REDUCED_BITS,
                activation_type=q.QuantType.QUInt8,
                weight_type=q.QuantType.QInt8,
                nodes_to_exclude=list(exclude),
                calibrate_method=q.CalibrationMethod.MinMax,
                calibration_cache_path=cache,
            )
        return onnx.load(str(out))


def calibrate(
    model: onnx.ModelProto, images: np.ndarray, cache: Path, contract: ServingContract = CONTRACT
) -> None:
    """Write ``cache``: every tensor's MinMax range over ``images`` (uint8 [N,H,W,3]), in ONNX
    Runtime's own format; nothing to do when it is there. (``quantize_static`` would also
    quantize; calibration alone skips that.)"""
    if cache.is_file():
        return
    q = _quantization()
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    log.info("calibrating on %d photos -> %s", len(images), cache)
    with tempfile.TemporaryDirectory(prefix="u2net-calibrate-") as tmp:
        source = Path(tmp) / "fp32.onnx"
        onnx.save(model, str(source))
        calibrator = create_calibrator(
            source,
            sorted({*QLinearOpsRegistry, *QDQRegistry}),  # quantize_static's default
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=q.CalibrationMethod.MinMax,
        )
        calibrator.collect_data(_reader(q, images, contract))
        ranges = calibrator.compute_data()
    cache.parent.mkdir(parents=True, exist_ok=True)
    save_tensors_data(ranges, cache)
