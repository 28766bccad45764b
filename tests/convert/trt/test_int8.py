"""TensorRT INT8's inputs, on CPU: the calibration cache written from ONNX Runtime's ranges,
which layers are pinned to fp16, the builder flags, and what is refused."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from convert.errors import EngineBuildError
from convert.trt.build import apply_precision
from convert.trt.int8 import (
    calibration_cache,
    layers_to_fp16,
    load_int8_inputs,
    source_md5,
    tensorrt_version_tag,
)
from convert.trt.layers import LayerInfo
from convert.trt.profile import BuildSettings
from u2net.catalogue import KNOWN_MODELS
from u2net.repository.layout import ONNX_FILE, quantize_dir, staged_paths
from u2net.repository.manifests import write_manifest

F, U8 = "FLOAT", "UINT8"


@pytest.mark.parametrize(("version", "tag"), [("10.5.0.18", "100500"), ("10.13.2", "101302")])
def test_the_cache_header_names_the_tensorrt_version(version: str, tag: str) -> None:
    assert tensorrt_version_tag(version) == tag
    assert calibration_cache([], version).decode() == f"TRT-{tag}-MinMaxCalibration\n"


def test_each_tensor_gets_its_symmetric_scale_and_empty_ranges_are_left_out() -> None:
    text = calibration_cache(
        [("relu_out", 0.0, 12.7), ("skip", -2.54, 1.0), ("unused", float("inf"), float("-inf"))],
        "10.5.0",
    ).decode()
    lines = dict(line.split(": ") for line in text.splitlines()[1:])
    assert set(lines) == {"relu_out", "skip"}
    scales = {k: struct.unpack(">f", bytes.fromhex(v))[0] for k, v in lines.items()}
    assert scales["relu_out"] == pytest.approx(0.1)
    assert scales["skip"] == pytest.approx(0.02)


def test_the_float_nodes_layers_are_pinned_and_nothing_else() -> None:
    layers = [
        LayerInfo("Conv_787", ("a",), ("b",), (F,), (F,)),
        LayerInfo("Conv_787_1", ("b",), ("c",), (F,), (F,)),  # a second layer of that node
        LayerInfo("Conv_78", ("c",), ("d",), (F,), (F,)),  # another node: not a prefix match
        LayerInfo("Concat_786", ("d",), ("e",), (F,), (F,)),
        LayerInfo("serving/mask", ("e",), ("f",), (F,), (U8,)),  # writes integers
    ]
    assert layers_to_fp16(layers, ["Conv_787", "Concat_786", "serving/mask"]) == [
        "Conv_787",
        "Conv_787_1",
        "Concat_786",
    ]


class _Config:
    def __init__(self) -> None:
        self.set: list[str] = []

    def set_flag(self, flag: str) -> None:
        self.set.append(flag)


def _trt(version: str) -> SimpleNamespace:
    flags = ("INT8", "FP16", "PREFER_PRECISION_CONSTRAINTS", "TF32")
    return SimpleNamespace(
        __version__=version, BuilderFlag=SimpleNamespace(**{f: f for f in flags})
    )


def test_int8_sets_int8_fp16_and_honours_the_pinned_layers() -> None:
    config = _Config()
    assert apply_precision(_trt("10.5.0"), config, "int8", "builder-flag") is True
    assert config.set == ["INT8", "FP16", "PREFER_PRECISION_CONSTRAINTS"]


def test_tensorrt_11_has_no_implicit_int8_and_says_so() -> None:
    with pytest.raises(EngineBuildError, match="TensorRT 11 has no implicit INT8"):
        apply_precision(_trt("11.0.0"), _Config(), "int8", "onnx")


def test_int8_ranges_with_another_precision_are_refused() -> None:
    inputs = SimpleNamespace(ranges=(), float_nodes=(), manifest_md5="x")
    with pytest.raises(EngineBuildError, match="int8 ranges given for a fp16 build"):
        BuildSettings(precision="fp16", int8=inputs)  # type: ignore[arg-type]


def test_without_a_staged_int8_variant_the_error_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(EngineBuildError, match="python -m convert quantize --models u2netp"):
        load_int8_inputs(tmp_path, KNOWN_MODELS["u2netp"])


def test_the_staged_int8_variant_gives_its_ranges_and_float_nodes(tmp_path: Path) -> None:
    from onnxruntime.quantization.calibrate import (
        CalibrationMethod,
        TensorData,
        TensorsData,
        save_tensors_data,
    )

    ranges = {"t1": TensorData(lowest=np.float32(-1.0), highest=np.float32(3.0))}
    cache = quantize_dir(tmp_path, "u2netp_int8") / "calibration-abc.json"
    cache.parent.mkdir(parents=True)
    save_tensors_data(TensorsData(CalibrationMethod.MinMax, ranges), cache)
    _onnx, manifest = staged_paths(tmp_path, "u2netp_int8", ONNX_FILE)
    manifest.parent.mkdir(parents=True)
    write_manifest(manifest, {"excluded_nodes": ["Conv_787"], "calibration": {"cache": cache.name}})
    inputs = load_int8_inputs(tmp_path, KNOWN_MODELS["u2netp"])
    assert inputs.ranges == (("t1", -1.0, 3.0),)
    assert inputs.float_nodes == ("Conv_787",)
    assert source_md5("onnx-md5", inputs) != source_md5("onnx-md5", None) == "onnx-md5"
    write_manifest(manifest, {"excluded_nodes": ["Conv_1"], "calibration": {"cache": cache.name}})
    assert load_int8_inputs(tmp_path, KNOWN_MODELS["u2netp"]).manifest_md5 != inputs.manifest_md5
    assert json.loads(manifest.read_text())["excluded_nodes"] == ["Conv_1"]
