"""Which file a model config names: what the server loads and the doctor checks."""

from __future__ import annotations

import pytest
from tritonclient.grpc import model_config_pb2 as mc

from u2net.repository.layout import model_filename


@pytest.mark.parametrize(
    ("fields", "filename"),
    [
        ({"platform": "tensorrt_plan", "default_model_filename": "u2net.engine"}, "u2net.engine"),
        ({"platform": "tensorrt_plan"}, "model.plan"),
        ({"platform": "onnxruntime_onnx"}, "model.onnx"),
        ({"backend": "tensorrt"}, "model.plan"),
        ({"backend": "onnxruntime"}, "model.onnx"),
        ({"backend": "python"}, "model.py"),
        ({"backend": "python", "default_model_filename": "cutout.py"}, "cutout.py"),
        ({}, "model.onnx"),
    ],
)
def test_the_named_file_else_the_platforms_else_the_backends_default(
    fields: dict[str, str], filename: str
) -> None:
    assert model_filename(mc.ModelConfig(**fields)) == filename
