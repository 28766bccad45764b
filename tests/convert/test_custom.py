"""convert/custom.py without a network: which names `python -m convert trt --models` takes
(the catalogue's and the custom models staged in the repository), and a custom model's
contract (its family's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convert.custom import CustomModel, resolve_models
from u2net.catalogue import KNOWN_MODELS
from u2net.contract import FAMILY_CONTRACTS, ISNET_FAMILY, U2NET_FAMILY
from u2net.errors import UsageError
from u2net.repository.layout import ONNX_FILE, staged_paths
from u2net.repository.manifests import OnnxManifest, write_manifest


def _stage_manifest(repository: Path, name: str, family: str) -> None:
    _staged, manifest = staged_paths(repository, f"{name}_onnx", ONNX_FILE)
    manifest.parent.mkdir(parents=True)
    write_manifest(manifest, OnnxManifest(name, "src", 1, "out", family, custom=True).as_dict())


def test_catalogue_and_staged_custom_names_resolve_in_order(tmp_path: Path) -> None:
    _stage_manifest(tmp_path, "my_dis", ISNET_FAMILY)
    got = resolve_models("isnet-general-use_trt, my_dis,u2net,my_dis_onnx", tmp_path)
    assert got == [
        KNOWN_MODELS["isnet-general-use"],
        CustomModel("my_dis", ISNET_FAMILY),
        KNOWN_MODELS["u2net"],
    ]


@pytest.mark.parametrize("family", [U2NET_FAMILY, ISNET_FAMILY])
def test_a_custom_models_contract_is_its_familys(family: str) -> None:
    model = CustomModel("mine", family)
    assert model.contract == FAMILY_CONTRACTS[family]
    assert model.stage_command.startswith(f"python -m convert custom mine --family {family} ")


@pytest.mark.parametrize("text", ["not_staged", "", "u2net,u2net_cloth_seg"])
def test_other_names_are_one_usage_error_naming_what_is_staged(tmp_path: Path, text: str) -> None:
    _stage_manifest(tmp_path, "my_dis", ISNET_FAMILY)
    with pytest.raises(UsageError) as caught:
        resolve_models(text, tmp_path)
    message = str(caught.value)
    assert message.startswith("--models: expected model names from u2net, u2netp")
    assert f"or a custom model staged in {tmp_path} (my_dis), got {text!r}" in message
    assert "\n" not in message
