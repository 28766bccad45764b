"""The python-based ``onnxruntime`` backend's provider choice, loaded outside Triton.

``triton_python_backend_utils`` exists only inside Triton's stub process; a small stand-in
records what the backend logs. This machine has no CUDAExecutionProvider, so a GPU
instance here is exactly the silent CPU fallback that must be reported.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import ClassVar

import pytest
from google.protobuf import json_format

from convert.model_config import OnnxVariant
from tests.data import staged_model

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


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    stub = types.ModuleType("triton_python_backend_utils")
    stub.Logger = _Logger
    stub.TritonError = type("TritonError", (Exception,), {})
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", stub)
    _Logger.lines = []
    spec = importlib.util.spec_from_file_location("onnxruntime_backend_under_test", BACKEND)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _initialize(backend: types.ModuleType, kind: str) -> object:
    model_dir = staged_model(VARIANT.name).parents[1]
    config = json_format.MessageToDict(VARIANT.get_config(), preserving_proto_field_name=True)
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
