"""The int8 variants in the core: their names in the catalogue, their manifest, the bar."""

from __future__ import annotations

import pytest

from u2net.agreement import INT8_BAR, Certified, MaskAgreement, NoiseFloor
from u2net.catalogue import KNOWN_MODELS, REQUEST_NAMES, base_name, parse_models
from u2net.repository.manifests import int8_current, int8_float_nodes, int8_manifest

HELD = [
    Certified(MaskAgreement("rocket.jpg", 0.80, 0.8, 40), NoiseFloor("rocket.jpg", 0.757, 0.85)),
    Certified(MaskAgreement("camera.png", 0.985, 1.5, 90), NoiseFloor("camera.png", 0.996, 0.3)),
]


def test_int8_names_resolve_to_their_model_and_are_requestable() -> None:
    assert KNOWN_MODELS["u2net"].int8_name == "u2net_int8"
    assert base_name("u2netp_int8") == "u2netp"
    assert [m.name for m in parse_models("u2net_int8,u2netp")] == ["u2net", "u2netp"]
    int8 = {name for name in REQUEST_NAMES if name.endswith("_int8")}
    assert int8 == {"u2net_int8", "u2netp_int8"}  # only where a recipe can exist
    assert "u2net_int8" not in KNOWN_MODELS["u2net"].served_names  # u2net stays fp32


@pytest.mark.parametrize(
    ("iou", "mean", "passes", "shortfall"),
    [(0.995, 1.0, True, 0.0), (0.98, 1.0, False, 1.0), (0.99, 3.0, False, 0.5)],
)
def test_the_bar_and_how_far_a_photo_misses_it(iou, mean, passes, shortfall) -> None:
    agreement = MaskAgreement("p", iou, mean, 0)
    assert INT8_BAR.passes(agreement) is passes
    assert INT8_BAR.shortfall(agreement) == pytest.approx(shortfall)


def _manifest(**changes) -> dict:
    kwargs = {
        "model": "u2net",
        "variant": "u2net_int8",
        "source_md5": "abc",
        "converter_version": 1,
        "output_md5": "def",
        "calibration_photos": ["astronaut.png"],
        "calibration_cache": "calibration-0123.json",
        "recipe_digest": "0123",
        "fp32_blocks": ["stage2d"],
        "excluded_nodes": ["serving/x", "Conv_1"],
        "split_convs": [],
        "held_out": HELD,
        "speed": {"speedup": 2.1},
        "passed": True,
        "forced": False,
        "weight_bits": 8,
        "machine": "a CPU",
    }
    return int8_manifest(**{**kwargs, **changes})


def test_the_manifest_records_the_worst_held_out_photo_and_feeds_tensorrt() -> None:
    manifest = _manifest()
    assert manifest["held_out"]["worst_iou"] == 0.8
    assert manifest["held_out"]["worst_mean_abs_diff"] == 1.5
    photos = manifest["held_out"]["photos"]
    assert [(p["name"], p["inside_floor"]) for p in photos] == [
        ("rocket.jpg", True),  # IoU 0.80 against a floor of 0.757
        ("camera.png", False),  # 0.985 against min(0.99, 0.996)
    ]
    assert (photos[0]["floor_iou"], manifest["held_out"]["inside_floor"]) == (0.757, 1)
    assert int8_float_nodes(manifest) == (["serving/x", "Conv_1"], "calibration-0123.json")
    assert int8_current(manifest, "abc", 1, "0123")
    assert not int8_current(manifest, "abc", 2, "0123")
    assert not int8_current(manifest, "abc", 1, "4567")  # the recipe changed
    assert not int8_current(None, "abc", 1, "0123")


def test_a_split_recipe_is_refused_for_tensorrt_which_builds_the_unsplit_graph() -> None:
    with pytest.raises(ValueError, match="expected no split_convs for TensorRT INT8"):
        int8_float_nodes(_manifest(split_convs=["Conv_680"]))


def test_a_manifest_without_the_float_nodes_is_refused() -> None:
    manifest = _manifest()
    del manifest["excluded_nodes"]
    with pytest.raises(ValueError, match="expected excluded_nodes"):
        int8_float_nodes(manifest)
