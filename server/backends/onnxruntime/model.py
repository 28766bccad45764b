"""A python-based Triton backend named ``onnxruntime``: runs ``model.onnx`` with ONNX Runtime.

Triton falls back to ``<backend-directory>/onnxruntime/model.py`` when there is no native
``libtriton_onnxruntime.so``, so the configs written for NVIDIA's container (``backend:
"onnxruntime"``) are served unchanged. Honoured config fields: input/output names and dtypes,
``default_model_filename``, and the ORT backend's ``intra_op_thread_count`` /
``inter_op_thread_count`` parameters (plus ``allow_spinning``, "0"/"1"); ``$U2NET_INTRA_OP_THREADS``
(u2net.repository.layout.INTRA_OP_THREADS_ENV) sets the intra-op threads of every session on the
host, over the configs, for a host whose cores other work shares. GPU-only parameters are
ignored. Every request of a dynamic batch is run in one ``session.run``, or, with the
parameter ``max_session_batch`` (u2net.repository.layout.MAX_SESSION_BATCH), in slices of at most
that many images (the CPU configuration's: a request of 16 images then needs no more of ONNX
Runtime's arena than one of a single image; docs/cpu-batching.md).

Each instance logs the execution provider its session really got (ONNX Runtime falls back to
the CPU when CUDA cannot start) and reports it on Triton's metrics endpoint as the gauge
``u2net_onnxruntime_execution_provider{model,version,instance,provider} 1``, which
``python -m server doctor`` reads.
"""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

from u2net.repository.layout import INTRA_OP_THREADS_ENV, MAX_SESSION_BATCH

PROVIDER_METRIC = "u2net_onnxruntime_execution_provider"

_NP_DTYPES: dict[str, type[np.generic]] = {
    "TYPE_BOOL": np.bool_,
    "TYPE_UINT8": np.uint8,
    "TYPE_UINT16": np.uint16,
    "TYPE_UINT32": np.uint32,
    "TYPE_UINT64": np.uint64,
    "TYPE_INT8": np.int8,
    "TYPE_INT16": np.int16,
    "TYPE_INT32": np.int32,
    "TYPE_INT64": np.int64,
    "TYPE_FP16": np.float16,
    "TYPE_FP32": np.float32,
    "TYPE_FP64": np.float64,
}


def _log(level: str, message: str) -> None:
    logger = getattr(pb_utils, "Logger", None)
    if logger is not None:
        getattr(logger, f"log_{level}")(message)


def _int_parameter(config: dict[str, Any], key: str, default: int) -> int:
    raw = config.get("parameters", {}).get(key, {}).get("string_value")
    try:
        return int(raw) if raw not in (None, "") else default
    except ValueError:
        _log("warn", f"parameter {key}={raw!r} is not an integer; using {default}")
        return default


def _intra_op_threads(config: dict[str, Any]) -> int:
    """``$U2NET_INTRA_OP_THREADS`` if set, else the config's ``intra_op_thread_count``; 0 means
    one thread per core, the ORT backend's convention (os.cpu_count() measured as fast as ORT's
    own default here, and is explicit)."""
    raw = os.environ.get(INTRA_OP_THREADS_ENV, "")
    if raw:
        try:
            return max(int(raw), 0) or (os.cpu_count() or 1)
        except ValueError:
            _log("warn", f"{INTRA_OP_THREADS_ENV}={raw!r} is not an integer; using the config")
    intra = _int_parameter(config, "intra_op_thread_count", 0)
    return intra if intra > 0 else (os.cpu_count() or 1)


def _provider_gauge(args: dict[str, str], provider: str) -> tuple[Any, Any] | None:
    """(family, metric) of the provider gauge; None where the python backend has no metrics."""
    family_type = getattr(pb_utils, "MetricFamily", None)
    if family_type is None:
        return None
    family = family_type(
        name=PROVIDER_METRIC,
        description="1 for the ONNX Runtime execution provider each instance runs on",
        kind=family_type.GAUGE,
    )
    labels = {
        "model": args["model_name"],
        "version": str(args["model_version"]),
        "instance": args.get("model_instance_name", args["model_name"]),
        "provider": provider,
    }
    metric = family.Metric(labels=labels)
    metric.set(1)
    return family, metric


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def cpu_fallback_warning(
    model_name: str, available: list[str], versions: dict[str, str | None]
) -> str:
    """The one line a GPU instance logs when it runs on the CPU, with the likely reason.

    ``versions``: the installed ``onnxruntime`` and ``onnxruntime-gpu`` (None: absent).
    """
    cpu, gpu = versions.get("onnxruntime"), versions.get("onnxruntime-gpu")
    if cpu and gpu:
        why = (
            f"onnxruntime {cpu} and onnxruntime-gpu {gpu} are both installed; they share one "
            "module and CUDAExecutionProvider goes missing (onnxruntime issue #26996): "
            "`pip uninstall -y onnxruntime onnxruntime-gpu` then install u2net-triton[gpu]"
        )
    elif not gpu:
        why = "onnxruntime-gpu is not installed (install u2net-triton[gpu], not [cpu])"
    elif "CUDAExecutionProvider" in available:
        why = (
            f"onnxruntime-gpu {gpu} could not create it: 1.19-1.26 need the CUDA 12 and "
            "cuDNN 9 libraries and a driver for CUDA 12 (ONNX Runtime's log says which failed)"
        )
    else:
        why = f"onnxruntime-gpu {gpu} lists no CUDA provider (a build for another platform?)"
    return (
        f"{model_name}: GPU instance running on the CPU, without CUDAExecutionProvider "
        f"(ONNX Runtime's providers: {', '.join(available)}); {why} "
        "(`python -m server doctor` checks the rest)"
    )


def _open_session(path: Path, options: Any, args: dict[str, str]) -> ort.InferenceSession:
    """CUDA first on a GPU instance; one warning when such an instance ends up on the CPU."""
    providers: list[Any] = ["CPUExecutionProvider"]
    on_gpu = args.get("model_instance_kind") == "GPU"
    available = ort.get_available_providers()
    if on_gpu and "CUDAExecutionProvider" in available:
        device = int(args.get("model_instance_device_id", 0))
        providers = [("CUDAExecutionProvider", {"device_id": device}), *providers]
    session = ort.InferenceSession(str(path), options, providers=providers)
    if on_gpu and session.get_providers()[0] != "CUDAExecutionProvider":
        versions = {name: _installed(name) for name in ("onnxruntime", "onnxruntime-gpu")}
        _log("warn", cpu_fallback_warning(args["model_name"], available, versions))
    return session


def _invalid(message: str) -> pb_utils.TritonError:
    code = getattr(pb_utils.TritonError, "INVALID_ARG", None)
    return pb_utils.TritonError(message) if code is None else pb_utils.TritonError(message, code)


class TritonPythonModel:
    """ONNX Runtime session for one model instance."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.max_batch_size = int(config.get("max_batch_size", 0))
        # images per session.run; 0 (absent): the whole batch
        self.max_session_batch = max(_int_parameter(config, MAX_SESSION_BATCH, 0), 0)
        self.inputs = [
            (t["name"], _NP_DTYPES[t["data_type"]], [int(d) for d in t["dims"]])
            for t in config["input"]
        ]
        self.outputs = [(t["name"], _NP_DTYPES[t["data_type"]]) for t in config["output"]]
        model_dir = Path(args["model_repository"])
        version = args["model_version"]
        filename = config.get("default_model_filename") or "model.onnx"
        path = model_dir / version / filename
        if not path.exists():
            path = model_dir / filename  # some launchers pass the version folder itself
        options = ort.SessionOptions()
        inter = _int_parameter(config, "inter_op_thread_count", 0)
        options.intra_op_num_threads = _intra_op_threads(config)
        options.inter_op_num_threads = inter if inter > 0 else 1
        options.execution_mode = (
            ort.ExecutionMode.ORT_PARALLEL if inter > 1 else ort.ExecutionMode.ORT_SEQUENTIAL
        )
        spinning = _int_parameter(config, "allow_spinning", 1)
        options.add_session_config_entry(
            "session.intra_op.allow_spinning", str(int(bool(spinning)))
        )
        self.session = _open_session(path, options, args)
        provider = self.session.get_providers()[0]
        _log(
            "info",
            f"{args['model_name']}: {path} on {provider} "
            f"(intra_op={options.intra_op_num_threads}, inter_op={options.inter_op_num_threads}, "
            f"spinning={int(bool(spinning))}, "
            f"{MAX_SESSION_BATCH}={self.max_session_batch or 'whole batch'})",
        )
        self._provider_gauge = _provider_gauge(args, provider)

    def _check(self, request: Any) -> list[np.ndarray] | str:
        """The request's inputs as arrays, or an error message."""
        arrays = []
        for name, dtype, dims in self.inputs:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is None:
                return f"missing input {name!r}"
            array = tensor.as_numpy()
            if array.dtype != dtype:
                return f"input {name!r} has dtype {array.dtype}, expected {np.dtype(dtype)}"
            shape = list(array.shape[1:] if self.max_batch_size > 0 else array.shape)
            if len(shape) != len(dims) or any(
                d not in (-1, s) for d, s in zip(dims, shape, strict=True)
            ):
                return f"input {name!r} has shape {list(array.shape)}, expected [batch, *{dims}]"
            arrays.append(array)
        return arrays

    def execute(self, requests: list[Any]) -> list[Any]:
        responses: list[Any] = [None] * len(requests)
        good: list[tuple[int, list[np.ndarray]]] = []
        for i, request in enumerate(requests):
            checked = self._check(request)
            if isinstance(checked, str):
                error = _invalid(checked)
                responses[i] = pb_utils.InferenceResponse(output_tensors=[], error=error)
            else:
                good.append((i, checked))
        # A dynamic batch runs as one session.run; without a batch dimension, one by one.
        groups = [good] if self.max_batch_size > 0 else [[g] for g in good]
        for group in groups:
            if group:
                answers = self._run([arrays for _, arrays in group])
                for (i, _), response in zip(group, answers, strict=True):
                    responses[i] = response
        return responses

    def _run(self, batch: list[list[np.ndarray]]) -> list[Any]:
        """Concatenate the requests' inputs, run once, split the outputs back."""
        feed = {
            name: batch[0][k] if len(batch) == 1 else np.concatenate([a[k] for a in batch])
            for k, (name, _, _) in enumerate(self.inputs)
        }
        try:
            results = self._session_runs(feed)
        except Exception as e:  # noqa: BLE001 - ORT's message goes back to every request
            error = pb_utils.TritonError(f"onnxruntime failed: {e}")
            return [pb_utils.InferenceResponse(output_tensors=[], error=error) for _ in batch]
        sizes = [arrays[0].shape[0] if self.max_batch_size > 0 else 1 for arrays in batch]
        offsets = np.cumsum([0, *sizes])
        responses = []
        for j in range(len(batch)):
            tensors = [
                pb_utils.Tensor(
                    name,
                    np.ascontiguousarray(
                        result if len(batch) == 1 else result[offsets[j] : offsets[j + 1]],
                        dtype=dtype,
                    ),
                )
                for (name, dtype), result in zip(self.outputs, results, strict=True)
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses

    def _session_runs(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The outputs for ``feed``: one ``session.run``, or one per slice of at most
        ``max_session_batch`` images, joined again."""
        names = [name for name, _ in self.outputs]
        images = next(iter(feed.values())).shape[0] if self.max_batch_size > 0 else 0
        step = self.max_session_batch
        if not step or images <= step:
            return self.session.run(names, feed)
        parts = [
            self.session.run(names, {k: v[start : start + step] for k, v in feed.items()})
            for start in range(0, images, step)
        ]
        return [np.concatenate(outputs) for outputs in zip(*parts, strict=True)]

    def finalize(self) -> None:
        if self._provider_gauge is not None:
            family, metric = self._provider_gauge
            self._provider_gauge = None
            del metric  # Triton wants a metric deleted before its family
            del family
        self.session = None
