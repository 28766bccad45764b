"""Engines per model family, on CPU: rembg's other models and custom ones get a TensorRT
config at their size, a profile at their size with their family's opt batch, and are built,
verified and staged like u2net (TensorRT replaced by ONNX Runtime running the same graph).

The networks are small ones of each family's signature (tests/convert/family_nets.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from convert.custom import CustomModel, stage_custom
from convert.errors import EngineBuildError
from convert.model_config import TrtVariant
from convert.trt.cuda import GpuInfo
from convert.trt.profile import FAMILY_OPT_BATCH, BuildSettings, ShapeProfile, trt_config_path
from convert.trt.stage import PLAN, stage_trt
from convert.trt.verify import onnx_reference
from tests.convert.family_nets import family_net
from u2net.catalogue import KNOWN_MODELS
from u2net.contract import FAMILY_CONTRACTS, ISNET_FAMILY, U2NET_FAMILY, ServingContract
from u2net.repository.layout import read_config, staged_paths
from u2net.samples import SAMPLE_NAMES

FAKE_PLAN = b"an engine stand-in"


class OnnxBackend:
    """TensorRT's stand-in: the 'engine' is ONNX Runtime running the staged serving graph."""

    def __init__(self, onnx_path: Path, contract: ServingContract) -> None:
        self.onnx_path = onnx_path
        self.contract = contract
        self.builds: list[tuple[ShapeProfile, BuildSettings]] = []
        self.run_batches: list[int] = []

    def version(self) -> str:
        return "10.5.0"

    def gpu(self) -> GpuInfo:
        return GpuInfo("Fake GPU", "8.9")

    def build(
        self, onnx_path: Path, profile: ShapeProfile, settings: BuildSettings, cache: bytes | None
    ) -> tuple[bytes, bytes]:
        self.builds.append((profile, settings))
        return FAKE_PLAN, b"timing cache"

    def run(self, plan: bytes, batch: np.ndarray) -> np.ndarray:
        self.run_batches.append(batch.shape[0])
        return onnx_reference(self.onnx_path, batch, self.contract)


def _stage(tmp_path: Path, name: str, family: str) -> tuple[CustomModel, OnnxBackend]:
    source = tmp_path / f"{name}.onnx"
    onnx.save(family_net(FAMILY_CONTRACTS[family].size), source)
    staged = stage_custom(name, family, source, tmp_path / "repo")
    model = CustomModel(name, family)
    return model, OnnxBackend(staged, model.contract)


@pytest.mark.parametrize("family", [U2NET_FAMILY, ISNET_FAMILY])
def test_a_custom_model_gets_an_engine_at_its_familys_size(tmp_path: Path, family: str) -> None:
    model, backend = _stage(tmp_path, f"mine-{family}", family)
    repo = tmp_path / "repo"
    assert not trt_config_path(repo, model.name).exists()  # convert custom writes ONNX configs

    plan = stage_trt(model, repo, BuildSettings(precision="fp32"), backend=backend)

    side = FAMILY_CONTRACTS[family].size
    config = read_config(trt_config_path(repo, model.name))  # written at the family's size
    assert config.name == f"{model.name}_trt"
    assert [list(t.dims) for t in (*config.input, *config.output)] == [
        [side, side, 3],
        [side, side],
    ]
    ((profile, settings),) = backend.builds
    opt = FAMILY_OPT_BATCH[family]
    assert settings.opt_batch == opt
    assert profile.as_dict()["opt"] == [opt, side, side, 3]
    assert profile.max == (config.max_batch_size, side, side, 3)
    assert backend.run_batches == [1, len(SAMPLE_NAMES), config.max_batch_size]
    manifest = json.loads(plan.with_name("manifest.json").read_text())
    assert (manifest["model"], manifest["verification"]["passed"]) == (model.name, True)
    assert plan == staged_paths(repo, TrtVariant(model.name).name, PLAN)[0]


def test_the_users_opt_batch_wins_over_the_familys(tmp_path: Path) -> None:
    model, backend = _stage(tmp_path, "mine", ISNET_FAMILY)
    stage_trt(model, tmp_path / "repo", BuildSettings("fp32", opt_batch=7), backend=backend)
    ((profile, settings),) = backend.builds
    assert settings.opt_batch == profile.opt[0] == 7


def test_a_catalogue_isnet_without_a_staged_graph_says_how_to_stage_it(tmp_path: Path) -> None:
    with pytest.raises(EngineBuildError) as caught:
        stage_trt(KNOWN_MODELS["isnet-general-use"], tmp_path, backend=None)
    assert str(caught.value).endswith(
        "is missing; stage it first with `python -m convert --models isnet-general-use`"
    )
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_a_custom_model_without_a_staged_graph_says_how_to_stage_it(tmp_path: Path) -> None:
    with pytest.raises(EngineBuildError, match=r"python -m convert custom my_dis --family isnet"):
        stage_trt(CustomModel("my_dis", ISNET_FAMILY), tmp_path)


def test_int8_is_refused_for_a_custom_model(tmp_path: Path) -> None:
    model = CustomModel("my_dis", ISNET_FAMILY)
    with pytest.raises(EngineBuildError, match=r"expected --precision fp16 or fp32 .* got int8"):
        stage_trt(model, tmp_path, BuildSettings(precision="int8"))


@pytest.mark.parametrize("model", sorted(KNOWN_MODELS))
def test_every_catalogue_models_trt_config_is_at_its_size(model: str) -> None:
    contract = KNOWN_MODELS[model].contract
    config = TrtVariant(model).get_config()
    assert config.name == KNOWN_MODELS[model].trt_name
    assert list(config.input[0].dims) == list(contract.input_dims)
    assert FAMILY_OPT_BATCH[KNOWN_MODELS[model].family] <= config.max_batch_size
