"""The only module that touches TensorRT and CUDA: build a plan, run a plan, describe the GPU.

``tensorrt`` is imported lazily (inside :func:`load_tensorrt`) so everything else in
``convert`` works on CPU-only machines. Device memory comes from cuda-python's runtime
bindings (``cuda.bindings.runtime``, or the older ``cuda.cudart``) or, failing that, torch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from client.contract import CONTRACT, ServingContract
from client.errors import EngineBuildError
from convert.graph import _PREFIX as SERVING_PREFIX
from convert.trt_profile import BuildSettings, ShapeProfile

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install TensorRT 10 (`pip install 'u2net-triton[gpu]'`) or run inside the "
    "nvcr.io/nvidia/tensorrt:24.10-py3 container (see docker-compose.yml)"
)


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: str  # "8.6"


def load_tensorrt() -> ModuleType:
    """Import ``tensorrt`` or raise one clear line saying how to get it."""
    try:
        import tensorrt as trt
    except ImportError as e:
        raise EngineBuildError(f"TensorRT is not installed: {INSTALL_HINT}") from e
    except OSError as e:  # the wheel is there but libnvinfer or the CUDA libraries are not
        raise EngineBuildError(f"TensorRT cannot load its libraries ({e}); {INSTALL_HINT}") from e
    return trt


def tensorrt_major(trt: ModuleType) -> int:
    return int(str(trt.__version__).split(".")[0])


# --- CUDA: device info, memory, stream ------------------------------------------------


def _cudart() -> Any | None:
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart  # cuda-python < 12.6
        except ImportError:
            return None
    return cudart


def _torch() -> Any | None:
    try:
        import torch
    except ImportError:
        return None
    return torch


def _error_name(cudart: Any, err: Any) -> str:
    name = cudart.cudaGetErrorName(err)[1]
    return name.decode() if isinstance(name, bytes) else str(name)


def _check(cudart: Any, result: tuple, what: str) -> tuple:
    err, *rest = result
    if err != cudart.cudaError_t.cudaSuccess:
        raise EngineBuildError(f"CUDA {what} failed: {_error_name(cudart, err)}")
    return tuple(rest)


def gpu_info(device: int = 0) -> GpuInfo:
    """Name and compute capability of ``device``; one clear line when there is no GPU."""
    cudart = _cudart()
    if cudart is not None:
        err, count = cudart.cudaGetDeviceCount()
        if err == cudart.cudaError_t.cudaErrorInsufficientDriver:
            raise EngineBuildError(
                "CUDA reports an insufficient driver: no NVIDIA driver, or cuda-python is newer "
                "than the driver's CUDA (install a matching one, e.g. 'cuda-python>=12.6,<13')"
            )
        if err != cudart.cudaError_t.cudaSuccess or count < 1:
            reason = _error_name(cudart, err) if err != cudart.cudaError_t.cudaSuccess else "0"
            raise EngineBuildError(
                f"no CUDA GPU is visible (cudaGetDeviceCount: {reason}); TensorRT engines are "
                "built on the GPU that will serve them"
            )
        (prop,) = _check(cudart, cudart.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
        name = prop.name.split(b"\0", 1)[0].decode() if isinstance(prop.name, bytes) else prop.name
        return GpuInfo(str(name), f"{prop.major}.{prop.minor}")
    torch = _torch()
    if torch is not None:
        if not torch.cuda.is_available():
            raise EngineBuildError("no CUDA GPU is visible to torch; TensorRT needs one")
        major, minor = torch.cuda.get_device_capability(device)
        return GpuInfo(torch.cuda.get_device_name(device), f"{major}.{minor}")
    raise EngineBuildError("need cuda-python (`pip install cuda-python`) or torch to reach the GPU")


class _DeviceMemory:
    """Just enough CUDA for one synchronous inference: alloc, copy in/out, a stream."""

    def __init__(self) -> None:
        self._cudart = _cudart()
        self._torch = None if self._cudart is not None else _torch()
        if self._cudart is None and self._torch is None:
            raise EngineBuildError("need cuda-python or torch to allocate GPU memory")
        self._owned: list[Any] = []
        if self._cudart is not None:
            (self._stream,) = _check(self._cudart, self._cudart.cudaStreamCreate(), "stream")
        else:  # torch's own stream, so its copies and the engine run in order
            self._stream = self._torch.cuda.current_stream()

    @property
    def stream_handle(self) -> int:
        if self._cudart is not None:
            return int(self._stream)
        return int(self._stream.cuda_stream)

    def alloc(self, nbytes: int) -> int:
        if self._cudart is not None:
            (ptr,) = _check(self._cudart, self._cudart.cudaMalloc(nbytes), "cudaMalloc")
            self._owned.append(ptr)
            return int(ptr)
        tensor = self._torch.empty(nbytes, dtype=self._torch.uint8, device="cuda")
        self._owned.append(tensor)
        return int(tensor.data_ptr())

    def upload(self, ptr: int, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        if self._cudart is not None:
            kind = self._cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
            _check(
                self._cudart,
                self._cudart.cudaMemcpy(ptr, array.ctypes.data, array.nbytes, kind),
                "copy in",
            )
            return
        tensor = next(t for t in self._owned if int(t.data_ptr()) == ptr)
        tensor[: array.nbytes].copy_(self._torch.from_numpy(array.reshape(-1).view(np.uint8)))

    def download(self, array: np.ndarray, ptr: int) -> None:
        if self._cudart is not None:
            kind = self._cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
            _check(
                self._cudart,
                self._cudart.cudaMemcpy(array.ctypes.data, ptr, array.nbytes, kind),
                "copy out",
            )
            return
        tensor = next(t for t in self._owned if int(t.data_ptr()) == ptr)
        array.reshape(-1).view(np.uint8)[:] = tensor[: array.nbytes].cpu().numpy()

    def synchronize(self) -> None:
        if self._cudart is not None:
            _check(self._cudart, self._cudart.cudaStreamSynchronize(self._stream), "sync")
        else:
            self._stream.synchronize()

    def close(self) -> None:
        if self._cudart is not None:
            for ptr in self._owned:
                self._cudart.cudaFree(ptr)
            self._cudart.cudaStreamDestroy(self._stream)
        self._owned.clear()

    def __enter__(self) -> _DeviceMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- TensorRT ---------------------------------------------------------------------------


def _logger(trt: ModuleType) -> Any:
    """A TensorRT logger that forwards to :mod:`logging`."""
    severity = trt.ILogger.Severity
    levels = {
        severity.INTERNAL_ERROR: logging.ERROR,
        severity.ERROR: logging.ERROR,
        severity.WARNING: logging.WARNING,
        severity.INFO: logging.DEBUG,
        severity.VERBOSE: logging.DEBUG,
    }

    class _Forward(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity: Any, msg: str) -> None:
            log.log(levels.get(severity, logging.INFO), "TensorRT: %s", msg)

    return _Forward()


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
    logger = _logger(trt)
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


def run_plan(plan: bytes, batch: np.ndarray, contract: ServingContract = CONTRACT) -> np.ndarray:
    """Deserialize ``plan`` and run one batch synchronously; returns the [N,H,W] masks."""
    trt = load_tensorrt()
    logger = _logger(trt)
    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(plan)
    if engine is None:
        raise EngineBuildError("TensorRT could not deserialize the plan it just built")
    context = engine.create_execution_context()
    if context is None or not context.set_input_shape(contract.input_name, batch.shape):
        raise EngineBuildError(f"the engine does not accept a batch of shape {batch.shape}")
    out = np.empty(tuple(context.get_tensor_shape(contract.output_name)), contract.output_np_dtype)
    with _DeviceMemory() as cuda:
        d_in, d_out = cuda.alloc(batch.nbytes), cuda.alloc(out.nbytes)
        cuda.upload(d_in, batch)
        context.set_tensor_address(contract.input_name, d_in)
        context.set_tensor_address(contract.output_name, d_out)
        if not context.execute_async_v3(cuda.stream_handle):
            raise EngineBuildError("TensorRT failed to run the engine")
        cuda.synchronize()
        cuda.download(out, d_out)
    return out


@dataclass(frozen=True)
class TensorRTBackend:
    """What :mod:`convert.trt_stage` needs from the GPU side (tests substitute a fake)."""

    def version(self) -> str:
        return str(load_tensorrt().__version__)

    def gpu(self) -> GpuInfo:
        return gpu_info()

    def build(
        self,
        onnx_path: Path,
        profile: ShapeProfile,
        settings: BuildSettings,
        timing_cache: bytes | None,
    ) -> tuple[bytes, bytes]:
        return build_plan(onnx_path, profile, settings, timing_cache)

    def run(self, plan: bytes, batch: np.ndarray) -> np.ndarray:
        return run_plan(plan, batch)
