"""Just enough CUDA to describe the GPU and run one engine: device info, memory, a stream.

Device memory comes from cuda-python's runtime bindings (``cuda.bindings.runtime``, or the
older ``cuda.cudart``) or, failing that, torch; both are imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from convert.errors import EngineBuildError


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: str  # "8.6"


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


class DeviceMemory:
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

    def __enter__(self) -> DeviceMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
