"""rembg's other one-mask models through convert, each with its family's contract (U²-Net's
320² and ImageNet maths; IS-Net's 1024², mean 0.5, std 1): the serving graph against
rembg's session recipe, the source check, the configs and the TensorRT profile. The real
files cannot be downloaded here, so networks of their signature stand in
(tests/convert/family_nets.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from convert.check import check_source, load_onnx
from convert.errors import InvalidModel
from convert.graph import build_serving_graph
from convert.model_config import OnnxVariant, TrtVariant, to_file
from convert.trt.profile import load_profile
from tests import rembg_reference as ref
from tests.convert.family_nets import family_net
from tests.data import PHOTOS, cpu_session
from u2net.catalogue import KNOWN_MODELS, contract_of
from u2net.contract import FAMILY_CONTRACTS, ISNET_FAMILY, U2NET_FAMILY, ServingContract
from u2net.image.io import open_rgb
from u2net.image.render import mask_to_size, to_model_input

FAMILY_PHOTOS = PHOTOS[:2]


@pytest.fixture(scope="module", params=[U2NET_FAMILY, ISNET_FAMILY])
def family(request, tmp_path_factory) -> tuple[Path, ServingContract]:
    contract = FAMILY_CONTRACTS[request.param]
    path = tmp_path_factory.mktemp("families") / f"{request.param}.onnx"
    onnx.save(family_net(contract.size), path)
    return path, contract


@pytest.mark.parametrize("photo", FAMILY_PHOTOS, ids=[p.name for p in FAMILY_PHOTOS])
def test_the_serving_graph_is_rembgs_session_within_one_grey_level(family, photo) -> None:
    """rembg's u2net_custom and dis_custom recipe (normalize with the session's mean, std
    and size; first output, channel 0, min-max; LANCZOS back) on the original network."""
    path, contract = family
    serving = cpu_session(build_serving_graph(load_onnx(path), contract).SerializeToString())
    rgb = open_rgb(photo)
    mask = serving.run(None, {contract.input_name: to_model_input(rgb, contract)[None]})[0][0]
    assert mask.shape == (contract.size, contract.size)
    with Image.open(photo) as img:
        size = (contract.size, contract.size)
        expected = ref.rembg_mask(cpu_session(path), img, contract.mean, contract.std, size)
    got = np.asarray(mask_to_size(mask, rgb.size), dtype=np.int16)
    wanted = np.asarray(expected, dtype=np.int16)
    assert np.abs(got - wanted).max() <= 1
    assert wanted.max() > 200 and wanted.min() < 50, "the reference mask should not be flat"


def test_the_source_check_takes_the_family_from_the_input_size(family) -> None:
    path, contract = family
    report = check_source(path)
    side = contract.size
    assert any(line.endswith(f"input input.1 float [1,3,{side},{side}]") for line in report.lines)


def test_an_input_of_no_familys_size_is_refused_saying_what_was_expected(tmp_path) -> None:
    path = tmp_path / "odd.onnx"
    onnx.save(family_net(512), path)
    with pytest.raises(
        InvalidModel, match=r"expected input \[N,3,320,320\], got input.1 \[1,3,512,512\]"
    ):
        check_source(path)


@pytest.mark.parametrize("model", ["isnet-general-use", "isnet-anime", "silueta"])
def test_configs_and_the_tensorrt_profile_take_the_models_size(model, tmp_path) -> None:
    side = KNOWN_MODELS[model].contract.size
    config = OnnxVariant(model).get_config()
    assert [list(t.dims) for t in (*config.input, *config.output)] == [
        [side, side, 3],
        [side, side],
    ]
    to_file(TrtVariant(model).get_config(), tmp_path)
    profile = load_profile(tmp_path, model, 1)
    assert profile.max[1:] == (side, side, 3)


def test_every_name_of_a_model_has_its_contract() -> None:
    anime = contract_of("isnet-anime_onnx")
    assert (anime.size, anime.mean, anime.std) == (1024, (0.485, 0.456, 0.406), (1.0, 1.0, 1.0))
    assert contract_of("silueta_trt") == contract_of("u2net") == contract_of("no_such_model")
