"""From a recipe to a staged, certified variant, on real u2netp and real photos: a recipe made
here (its ranges from two photos), built, certified on one held-out image against fp32's own
floor, staged with --force, then left alone while nothing changed."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from convert.graph import GRAPH_VERSION
from convert.quantize.body import body_layout
from convert.quantize.qdq import calibrate
from convert.quantize.recipe import Recipe, write_recipe
from convert.quantize.stage import fp32_graph, stage_int8
from u2net.catalogue import KNOWN_MODELS
from u2net.files import md5_of
from u2net.manifests import int8_float_nodes, read_manifest
from u2net.repository import ONNX_FILE, quantize_dir, staged_paths
from u2net.samples import CALIBRATION_PHOTOS, HELD_OUT_PHOTOS, sample_inputs

MODEL = KNOWN_MODELS["u2netp"]
PHOTOS = CALIBRATION_PHOTOS[:2]
HELD_OUT = ("no_time_for_that_tiny.gif",)  # a 14x25 GIF: the cheapest held-out image


@pytest.fixture(scope="module")
def graph() -> onnx.ModelProto:
    return fp32_graph(MODEL)


@pytest.fixture(scope="module")
def recipes(tmp_path_factory: pytest.TempPathFactory, graph: onnx.ModelProto) -> Path:
    folder = tmp_path_factory.mktemp("recipes")
    ranges = folder / "calibration.json"
    calibrate(graph, sample_inputs(PHOTOS)[1], ranges)
    recipe = Recipe(
        model=MODEL.name,
        source_md5=MODEL.md5,
        graph_version=GRAPH_VERSION,
        fp32_blocks=("stage2d", "stage1d"),
        calibration_photos=PHOTOS,
    )
    write_recipe(recipe, ranges, folder)
    return folder


def test_a_forced_variant_records_every_photo_beside_its_floor_and_is_then_left_alone(
    recipes: Path, graph: onnx.ModelProto, tmp_path: Path
) -> None:
    assert set(HELD_OUT) <= set(HELD_OUT_PHOTOS)
    first = stage_int8(MODEL, tmp_path, force=True, recipes=recipes, held_out=HELD_OUT)
    assert first.staged is not None and first.certification is not None
    assert [c.agreement.name for c in first.certification.photos] == list(HELD_OUT)
    staged, manifest_path = staged_paths(tmp_path, "u2netp_int8", ONNX_FILE)
    manifest = read_manifest(manifest_path)
    assert manifest is not None and manifest["output_md5"] == md5_of(staged)
    photos = manifest["held_out"]["photos"]
    assert [p["name"] for p in photos] == list(HELD_OUT)
    assert all(0 <= p["floor_iou"] <= 1 and p["floor_mean_abs_diff"] >= 0 for p in photos)
    assert manifest["forced"] is not manifest["passed"]
    assert manifest["held_out"]["inside_floor"] == first.certification.inside
    nodes, cache = int8_float_nodes(manifest)  # what TensorRT INT8 reads
    assert (quantize_dir(tmp_path, "u2netp_int8") / cache).is_file()
    stage2d = body_layout(graph).block("stage2d").nodes
    assert set(stage2d) <= set(nodes)

    before = staged.stat().st_mtime_ns
    again = stage_int8(MODEL, tmp_path, recipes=recipes)
    assert again.up_to_date and staged.stat().st_mtime_ns == before
    assert again.line().split(": staged")[0] == first.line().split(": staged")[0].replace(
        "certified:", "certified, up to date:"
    )
