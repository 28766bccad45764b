"""The int8 variants in the embedded server's choice of models: served by default once
staged, skipped quietly (with the command that makes them) while not."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from convert.model_config import CutoutVariant, OnnxVariant, write_configs
from server import models
from u2net.errors import ServerStartError
from u2net.repository.layout import ONNX_FILE, PYTHON_FILE, staged_paths

BACKENDS = ["onnxruntime", "python"]


def _repo(tmp_path: Path, staged_int8: bool) -> list[models.ModelEntry]:
    for variant in (OnnxVariant("u2netp"), OnnxVariant("u2netp", int8=True), CutoutVariant()):
        write_configs(variant, tmp_path)
    names = ["u2netp_onnx", "u2netp_int8"] if staged_int8 else ["u2netp_onnx"]
    for name in names:
        path, _manifest = staged_paths(tmp_path, name, ONNX_FILE)
        path.parent.mkdir(parents=True)
        path.write_bytes(b"stand-in")
    cutout, _manifest = staged_paths(tmp_path, "cutout", PYTHON_FILE)
    cutout.parent.mkdir(parents=True)
    cutout.write_text("")
    return models.scan(tmp_path)


def test_a_staged_int8_variant_is_served_by_default(tmp_path: Path) -> None:
    chosen = models.select(_repo(tmp_path, staged_int8=True), BACKENDS, None)
    assert sorted(chosen) == ["cutout", "u2netp_int8", "u2netp_onnx"]
    assert models.select(_repo(tmp_path / "b", True), BACKENDS, ["u2netp"])[:2] == [
        "u2netp_onnx",
        "u2netp_int8",
    ]


def test_an_unstaged_one_is_skipped_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.models")
    chosen = models.select(_repo(tmp_path, staged_int8=False), BACKENDS, None)
    assert sorted(chosen) == ["cutout", "u2netp_onnx"]
    (record,) = [r for r in caplog.records if "u2netp_int8" in r.message]
    assert record.levelno == logging.INFO and "python -m convert quantize" in record.message


def test_asking_for_an_unstaged_one_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(ServerStartError, match="run `python -m convert quantize` first"):
        models.select(_repo(tmp_path, staged_int8=False), BACKENDS, ["u2netp_int8"])
