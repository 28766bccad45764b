"""Real TensorRT on a real GPU: build a u2netp engine into a tmp repository and verify it.

Skipped (with the reason) wherever tensorrt is not importable or no GPU is visible;
this file has never run on the CPU-only machine the project is developed on.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from convert.model_config import OnnxVariant, TrtVariant, to_file
from convert.trt.profile import BuildSettings, trt_config_path
from tests.convert.trt.gpu import gpu_skip_reason
from tests.data import REPOSITORY
from u2net.catalogue import KNOWN_MODELS
from u2net.contract import CONTRACT
from u2net.repository.layout import read_config, staged_paths

MODEL = KNOWN_MODELS["u2netp"]
STAGED_ONNX, _ = staged_paths(REPOSITORY, OnnxVariant(MODEL.name).name, "model.onnx")


def _gpu_skip_reason() -> str | None:
    reason = gpu_skip_reason()
    if reason is None and not STAGED_ONNX.is_file():
        return f"{STAGED_ONNX} not staged; run `python -m convert --models u2netp`"
    return reason


SKIP_REASON = _gpu_skip_reason()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(SKIP_REASON is not None, reason=str(SKIP_REASON))]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trt_repo")
    onnx_path, _ = staged_paths(root, OnnxVariant(MODEL.name).name, "model.onnx")
    onnx_path.parent.mkdir(parents=True)
    shutil.copyfile(STAGED_ONNX, onnx_path)
    to_file(read_config(trt_config_path(REPOSITORY, MODEL.name)), root)
    return root


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_build_and_verify_u2netp(repo: Path, precision: str) -> None:
    from convert.trt.stage import TIMING_CACHE, stage_trt

    settings = BuildSettings(precision=precision, opt_batch=4, workspace_gb=2)
    plan = stage_trt(MODEL, repo, settings, force=True)

    manifest = json.loads(plan.with_name("manifest.json").read_text())
    assert plan.stat().st_size > 1_000_000
    assert plan.with_name(TIMING_CACHE).stat().st_size > 0
    assert manifest["verification"]["passed"] is True
    assert manifest["staged_unverified"] is False
    assert manifest["precision"] == precision
    assert (
        manifest["profile"]["max"][0]
        == read_config(trt_config_path(repo, MODEL.name)).max_batch_size
    )
    assert manifest["gpu"]["name"]


def test_engine_io_follows_the_contract(repo: Path) -> None:
    from convert.trt.stage import PLAN, stage_trt
    from convert.trt.tensorrt_lib import load_tensorrt

    plan_path, _ = staged_paths(repo, TrtVariant(MODEL.name).name, PLAN)
    if not plan_path.is_file():
        stage_trt(MODEL, repo, BuildSettings(precision="fp32", opt_batch=4))
    trt = load_tensorrt()
    engine = trt.Runtime(trt.Logger(trt.Logger.ERROR)).deserialize_cuda_engine(
        plan_path.read_bytes()
    )
    modes = {
        engine.get_tensor_name(i): engine.get_tensor_mode(engine.get_tensor_name(i))
        for i in range(engine.num_io_tensors)
    }
    assert modes == {
        CONTRACT.input_name: trt.TensorIOMode.INPUT,
        CONTRACT.output_name: trt.TensorIOMode.OUTPUT,
    }
    assert engine.get_tensor_dtype(CONTRACT.input_name) == trt.uint8
    assert engine.get_tensor_dtype(CONTRACT.output_name) == trt.uint8
    _min, _opt, max_shape = engine.get_tensor_profile_shape(CONTRACT.input_name, 0)
    max_batch = read_config(trt_config_path(repo, MODEL.name)).max_batch_size
    assert tuple(max_shape) == (max_batch, *CONTRACT.input_dims)


def test_the_real_parser_pins_the_serving_paths_with_their_broadcasts() -> None:
    """What tests/convert/trt/onnx_layers.py emulates on CPU, with TensorRT's own parser."""
    from convert.trt.build import layer_infos
    from convert.trt.layers import layers_to_pin
    from convert.trt.tensorrt_lib import load_tensorrt, make_logger

    trt = load_tensorrt()
    logger = make_logger(trt)
    network = trt.Builder(logger).create_network(0)
    assert trt.OnnxParser(network, logger).parse_from_file(str(STAGED_ONNX))
    layers = layer_infos(network)
    pinned = set(layers_to_pin(layers))
    feeding_serving = {
        layer.name
        for layer in layers
        if layer.name.startswith("ONNXTRT_Broadcast")
        and any(
            other.name.startswith("serving/") and set(layer.outputs) & set(other.inputs)
            for other in layers
        )
    }
    assert len(feeding_serving) >= 3, [layer.name for layer in layers][-40:]
    assert feeding_serving <= pinned
    assert {"serving/xmax_floor", "serving/prange_safe", "serving/p255"} <= pinned


def test_int8_from_the_staged_int8_variant(repo: Path) -> None:
    """INT8 reuses `python -m convert quantize`'s calibration and float nodes (docs/int8.md)."""
    from convert.trt.stage import stage_trt

    int8 = OnnxVariant(MODEL.name, int8=True).name
    source = REPOSITORY / int8
    if not (source / "1" / "manifest.json").is_file():
        pytest.skip(f"{int8} is not staged; run `python -m convert quantize --models u2netp`")
    shutil.copytree(source / "1", repo / int8 / "1", dirs_exist_ok=True)
    shutil.copytree(source / "quantize", repo / int8 / "quantize", dirs_exist_ok=True)
    settings = BuildSettings(precision="int8", opt_batch=4, workspace_gb=2)
    plan = stage_trt(MODEL, repo, settings, force=True)
    manifest = json.loads(plan.with_name("manifest.json").read_text())
    assert manifest["precision"] == "int8"
    assert manifest["verification"]["passed"] is True
