"""Real TensorRT on a real GPU, per model family: a small network of each family's signature
(tests/convert/family_nets.py) staged with `convert custom`, then built at its family's
size and opt batch (1024² and 3 for IS-Net), verified against ONNX Runtime and staged.

Skipped (with the reason) wherever tensorrt is not importable or no GPU is visible; this
file has never run on the CPU-only machine the project is developed on."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from convert.custom import CustomModel, stage_custom
from convert.trt.profile import FAMILY_OPT_BATCH, BuildSettings
from tests.convert.family_nets import family_net
from tests.convert.trt.gpu import gpu_skip_reason
from u2net.contract import FAMILY_CONTRACTS

SKIP_REASON = gpu_skip_reason()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(SKIP_REASON is not None, reason=str(SKIP_REASON))]


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("family", sorted(FAMILY_CONTRACTS))
def test_an_engine_at_each_familys_size(tmp_path: Path, family: str, precision: str) -> None:
    from convert.trt.stage import stage_trt
    from convert.trt.tensorrt_lib import load_tensorrt

    contract = FAMILY_CONTRACTS[family]
    source = tmp_path / "net.onnx"
    onnx.save(family_net(contract.size), source)
    stage_custom("net", family, source, tmp_path / "repo")
    plan = stage_trt(CustomModel("net", family), tmp_path / "repo", BuildSettings(precision))

    manifest = json.loads(plan.with_name("manifest.json").read_text())
    assert manifest["verification"]["passed"] is True
    assert manifest["profile"]["opt"] == [FAMILY_OPT_BATCH[family], *contract.input_dims]
    trt = load_tensorrt()
    engine = trt.Runtime(trt.Logger(trt.Logger.ERROR)).deserialize_cuda_engine(plan.read_bytes())
    _min, _opt, max_shape = engine.get_tensor_profile_shape(contract.input_name, 0)
    assert tuple(max_shape) == (contract.max_batch, *contract.input_dims)
