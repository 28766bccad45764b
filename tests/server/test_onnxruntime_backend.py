"""The python-based ``onnxruntime`` backend, loaded outside Triton: its provider choice and
how it splits a batch into ``session.run`` calls.

``triton_python_backend_utils`` exists only inside Triton's stub process; a small stand-in
records what the backend logs and carries tensors and responses. This machine has no
CUDAExecutionProvider, so a GPU instance here is exactly the silent CPU fallback that must
be reported.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import types
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from google.protobuf import json_format
from tritonclient.grpc import model_config_pb2 as mc

from convert.model_config import CPU_BATCHING, OnnxVariant
from tests.data import staged_model
from u2net.contract import CONTRACT
from u2net.repository.layout import INTRA_OP_THREADS_ENV
from u2net.samples import varied_inputs

ROOT = Path(__file__).resolve().parents[2]
BACKEND = ROOT / "server" / "backends" / "onnxruntime" / "model.py"
VARIANT = OnnxVariant("u2netp")


class _Logger:
    lines: ClassVar[list[tuple[str, str]]] = []

    @classmethod
    def log_info(cls, message: str) -> None:
        cls.lines.append(("info", message))

    @classmethod
    def log_warn(cls, message: str) -> None:
        cls.lines.append(("warn", message))


class _Tensor:
    def __init__(self, name: str, array: np.ndarray) -> None:
        self._name, self._array = name, array

    def name(self) -> str:
        return self._name

    def as_numpy(self) -> np.ndarray:
        return self._array


class _Response:
    def __init__(self, output_tensors: list[_Tensor], error: Exception | None = None) -> None:
        self.output_tensors, self.error = output_tensors, error


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    return _load_backend(monkeypatch)


def _load_backend(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    stub = types.ModuleType("triton_python_backend_utils")
    stub.Logger = _Logger
    stub.TritonError = type("TritonError", (Exception,), {})
    stub.Tensor = _Tensor
    stub.InferenceResponse = _Response
    stub.get_input_tensor_by_name = lambda request, name: request.get(name)
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", stub)
    _Logger.lines = []
    spec = importlib.util.spec_from_file_location("onnxruntime_backend_under_test", BACKEND)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _initialize(backend: types.ModuleType, kind: str, config: mc.ModelConfig | None = None) -> Any:
    model_dir = staged_model(VARIANT.name).parents[1]
    config = json_format.MessageToDict(
        config or VARIANT.get_config(), preserving_proto_field_name=True
    )
    model = backend.TritonPythonModel()
    model.initialize(
        {
            "model_config": json.dumps(config),
            "model_repository": str(model_dir),
            "model_version": "1",
            "model_name": VARIANT.name,
            "model_instance_kind": kind,
            "model_instance_device_id": "0",
        }
    )
    return model


def test_gpu_instance_on_the_cpu_warns_once(backend: types.ModuleType) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this ONNX Runtime has CUDA; the fallback cannot be provoked here")
    model = _initialize(backend, "GPU")
    warnings = [message for level, message in _Logger.lines if level == "warn"]
    assert len(warnings) == 1, _Logger.lines
    assert warnings[0].startswith(f"{VARIANT.name}: GPU instance running on the CPU")
    assert model.session.get_providers() == ["CPUExecutionProvider"]


def test_cpu_instance_does_not_warn(backend: types.ModuleType) -> None:
    _initialize(backend, "CPU")
    assert [level for level, _ in _Logger.lines] == ["info"]


@pytest.mark.parametrize(
    ("versions", "available", "reason"),
    [
        (
            {"onnxruntime": "1.23.2", "onnxruntime-gpu": "1.23.2"},
            ["CPUExecutionProvider"],
            "#26996",
        ),
        ({"onnxruntime": "1.23.2", "onnxruntime-gpu": None}, ["CPUExecutionProvider"], "[gpu]"),
        (
            {"onnxruntime": None, "onnxruntime-gpu": "1.22.0"},
            ["CUDAExecutionProvider", "CPUExecutionProvider"],
            "cuDNN 9",
        ),
    ],
    ids=["both-flavours", "cpu-only", "cuda-libraries"],
)
def test_the_warning_names_the_likely_cause(
    backend: types.ModuleType, versions: dict, available: list[str], reason: str
) -> None:
    line = backend.cpu_fallback_warning("u2net_onnx", available, versions)
    assert reason in line
    assert "\n" not in line


class _Recording:
    """The real session, recording how many images each ``run`` got."""

    def __init__(self, session: Any) -> None:
        self.session, self.sizes = session, []

    def run(self, names: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.sizes.append(len(feed[CONTRACT.input_name]))
        return self.session.run(names, feed)


@pytest.fixture(scope="module")
def three_alone() -> tuple[np.ndarray, np.ndarray]:
    """Three different inputs and each one's mask from a session.run of its own."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        model = _initialize(_load_backend(monkeypatch), "CPU", VARIANT.get_config(CPU_BATCHING))
    images = varied_inputs(3)
    names = [CONTRACT.output_name]
    alone = [model.session.run(names, {CONTRACT.input_name: i[None]})[0][0] for i in images]
    return images, np.stack(alone)


@pytest.mark.parametrize(
    ("session_batch", "runs"),
    [(None, [3]), (2, [2, 1]), (1, [1, 1, 1])],
    ids=["whole-batch", "two-at-a-time", "one-at-a-time"],
)
def test_a_batch_runs_in_slices_of_max_session_batch(
    backend: types.ModuleType,
    three_alone: tuple[np.ndarray, np.ndarray],
    session_batch: int | None,
    runs: list[int],
) -> None:
    """Requests of 1 and 2 images, executed together: ``max_session_batch`` images per
    session.run at most (a slice may span both requests), and each request gets its own
    images' masks, as run alone."""
    images, alone = three_alone
    policy = replace(CPU_BATCHING, max_session_batch=session_batch)
    model = _initialize(backend, "CPU", VARIANT.get_config(policy))
    model.session = _Recording(model.session)
    requests = [
        {CONTRACT.input_name: _Tensor(CONTRACT.input_name, b)} for b in (images[:1], images[1:])
    ]
    responses = model.execute(requests)
    assert model.session.sizes == runs
    assert [r.error for r in responses] == [None, None]
    masks = [r.output_tensors[0].as_numpy() for r in responses]
    assert [len(m) for m in masks] == [1, 2]
    np.testing.assert_array_equal(np.concatenate(masks), alone)


@pytest.mark.parametrize(
    ("on_host", "expected"),
    [(None, 3), ("1", 1), ("0", os.cpu_count()), ("many", 3)],
    ids=["config", "host-wins", "host-one-per-core", "not-a-number-keeps-the-config"],
)
def test_the_hosts_intra_op_threads_win_over_the_configs(
    backend: types.ModuleType, monkeypatch: pytest.MonkeyPatch, on_host: str | None, expected: int
) -> None:
    if on_host is None:
        monkeypatch.delenv(INTRA_OP_THREADS_ENV, raising=False)
    else:
        monkeypatch.setenv(INTRA_OP_THREADS_ENV, on_host)
    config = VARIANT.get_config()
    config.parameters["intra_op_thread_count"].string_value = "3"
    model = _initialize(backend, "CPU", config)
    assert model.session.get_session_options().intra_op_num_threads == expected
    warned = [message for level, message in _Logger.lines if level == "warn"]
    assert bool(warned) == (on_host == "many")
