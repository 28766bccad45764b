"""A staged int8 variant, when there is one: does it still agree with fp32 as its manifest
says, and was it certified against fp32's floor on every held-out photo? (`python -m convert`
stages u2net_int8 from its recipe where it certifies; u2netp has no recipe.)"""

from __future__ import annotations

import pytest

from convert.check import load_onnx
from convert.quantize.measure import Runner, agreements
from tests.data import REPOSITORY, staged_model
from u2net.agreement import NoiseFloor
from u2net.repository.files import md5_of
from u2net.repository.layout import ONNX_FILE, staged_paths
from u2net.repository.manifests import read_manifest
from u2net.samples import HELD_OUT_PHOTOS, sample_inputs

CHECKED = 2  # held-out photos re-measured here (the manifest has them all)


@pytest.mark.parametrize("model", ["u2netp", pytest.param("u2net", marks=pytest.mark.slow)])
def test_the_staged_int8_variant_agrees_as_its_manifest_says(model: str) -> None:
    int8_path, manifest_path = staged_paths(REPOSITORY, f"{model}_int8", ONNX_FILE)
    if not int8_path.is_file():
        pytest.skip(
            f"{model}_int8 is not staged (only where its recipe certifies, or with --force): "
            f"`python -m convert quantize --models {model}`"
        )
    fp32_path = staged_model(f"{model}_onnx")
    manifest = read_manifest(manifest_path)
    assert manifest is not None and manifest["output_md5"] == md5_of(int8_path)
    recorded = {p["name"]: p for p in manifest["held_out"]["photos"]}
    assert list(recorded) == list(HELD_OUT_PHOTOS)
    inside = [p["inside_floor"] for p in recorded.values()]
    assert manifest["passed"] == all(inside) or manifest["forced"]

    names, images = sample_inputs(HELD_OUT_PHOTOS[:CHECKED])
    fp32 = Runner(load_onnx(fp32_path)).masks(images)
    int8 = Runner(load_onnx(int8_path)).masks(images)
    for found in agreements(fp32, int8, names):
        entry = recorded[found.name]
        assert found.iou == pytest.approx(entry["iou"], abs=1e-3)
        assert found.mean_abs_diff == pytest.approx(entry["mean_abs_diff"], abs=0.05)
        floor = NoiseFloor(found.name, entry["floor_iou"], entry["floor_mean_abs_diff"])
        assert floor.bar().passes(found) or manifest["forced"]
