"""Which file a model config names: what the server loads and the doctor checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from tritonclient.grpc import model_config_pb2 as mc

from u2net.repository.layout import (
    REPOSITORY_DIRNAME,
    REPOSITORY_ENV,
    default_repository,
    model_filename,
)


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


def test_a_source_checkout_serves_its_own_repository_from_any_folder(tmp_path, monkeypatch):
    """Run from elsewhere (``cd /tmp; python -m server``), an editable install still finds the
    checkout's model_repository/, not one in the working folder."""
    monkeypatch.delenv(REPOSITORY_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    checkout = Path(__file__).resolve().parents[3]
    assert default_repository() == checkout / REPOSITORY_DIRNAME
