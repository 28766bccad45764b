"""From a recipe to a staged, certified variant, on real u2netp and real photos: a recipe made
here (its ranges from one photo; ranges from several: tests/convert/quantize/test_qdq.py),
built, certified on one held-out image against fp32's own floor, staged with --force, then
judged again by a plain run; a certified current variant left alone; a failed search writes
no recipe."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from convert.errors import QuantizeError
from convert.graph import GRAPH_VERSION
from convert.quantize import stage
from convert.quantize.body import body_layout
from convert.quantize.certify import Certification
from convert.quantize.cpu import machine_here, weight_bits_here
from convert.quantize.measure import Speed
from convert.quantize.qdq import calibrate
from convert.quantize.recipe import Recipe, recipe_digest, write_recipe
from convert.quantize.search import SearchResult
from convert.quantize.stage import fp32_graph, stage_int8
from u2net.agreement import Certified, MaskAgreement, NoiseFloor
from u2net.catalogue import KNOWN_MODELS
from u2net.repository.files import md5_of
from u2net.repository.layout import ONNX_FILE, quantize_dir, staged_paths
from u2net.repository.manifests import (
    int8_float_nodes,
    int8_manifest,
    read_manifest,
    write_manifest,
)
from u2net.samples import CALIBRATION_PHOTOS, HELD_OUT_PHOTOS, sample_inputs

MODEL = KNOWN_MODELS["u2netp"]
_STAND_IN = stage.Int8Build(onnx.ModelProto(), None, Path("ranges.json"), onnx.ModelProto())
PHOTOS = CALIBRATION_PHOTOS[:1]
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


def test_a_forced_variant_records_every_photo_beside_its_floor_and_a_plain_run_judges_it(
    monkeypatch: pytest.MonkeyPatch, recipes: Path, graph: onnx.ModelProto, tmp_path: Path
) -> None:
    assert set(HELD_OUT) <= set(HELD_OUT_PHOTOS)
    # a speed bar no variant meets: forced, it is staged anyway; a plain run must then not
    # take it as current (whether it would meet the real bar depends on the machine's load)
    monkeypatch.setattr(stage, "INT8_MIN_SPEEDUP", 1e6)
    first = stage_int8(MODEL, tmp_path, force=True, recipes=recipes, held_out=HELD_OUT)
    assert first.staged is not None and first.certification is not None
    assert [c.agreement.name for c in first.certification.photos] == list(HELD_OUT)
    staged, manifest_path = staged_paths(tmp_path, "u2netp_int8", ONNX_FILE)
    manifest = read_manifest(manifest_path)
    assert manifest is not None and manifest["output_md5"] == md5_of(staged)
    photos = manifest["held_out"]["photos"]
    assert [p["name"] for p in photos] == list(HELD_OUT)
    assert all(0 <= p["floor_iou"] <= 1 and p["floor_mean_abs_diff"] >= 0 for p in photos)
    assert manifest["held_out"]["inside_floor"] == first.certification.inside
    nodes, cache = int8_float_nodes(manifest)  # what TensorRT INT8 reads
    assert (quantize_dir(tmp_path, "u2netp_int8") / cache).is_file()
    stage2d = body_layout(graph).block("stage2d").nodes
    assert set(stage2d) <= set(nodes)

    assert not first.passed and manifest["forced"]
    # the plain run, its build and measurement stood in for (the real ones ran just above)
    builds = []
    monkeypatch.setattr(stage, "build_int8", lambda *args: builds.append(args) or _STAND_IN)
    monkeypatch.setattr(stage, "Runner", lambda graph: graph)
    for judge in ("certify", "until_miss"):
        monkeypatch.setattr(stage, judge, lambda *args, **kwargs: first.certification)
    again = stage_int8(MODEL, tmp_path, recipes=recipes, held_out=HELD_OUT)  # no --force
    assert builds and not again.up_to_date  # a forced variant is measured again, not current
    assert not again.passed and not staged.is_file()  # and, missing the bar, no longer served


def test_a_certified_current_variant_is_left_alone(recipes: Path, tmp_path: Path) -> None:
    staged, manifest_path = staged_paths(tmp_path, "u2netp_int8", ONNX_FILE)
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"stand-in")
    found = Certified(MaskAgreement("coins.png", 0.99, 1.0, 9), NoiseFloor("coins.png", 0.97, 3))
    manifest = int8_manifest(
        model=MODEL.name,
        variant="u2netp_int8",
        source_md5=MODEL.md5,
        converter_version=GRAPH_VERSION,
        output_md5=md5_of(staged),
        recipe_digest=recipe_digest(MODEL.name, recipes),
        calibration_photos=PHOTOS,
        calibration_cache="calibration-x.json",
        fp32_blocks=("stage2d",),
        excluded_nodes=(),
        split_convs=(),
        held_out=(found,),
        speed=Speed(0.3, 0.1, 10).as_dict(),
        passed=True,
        forced=False,
        weight_bits=weight_bits_here(),
        machine=machine_here(),
    )
    write_manifest(manifest_path, manifest)
    outcome = stage_int8(MODEL, tmp_path, recipes=recipes)
    assert outcome.up_to_date and outcome.passed and staged.read_bytes() == b"stand-in"
    assert outcome.certification is not None
    assert outcome.certification.photos == (found,)  # read back as written, verdict included
    assert ": certified, up to date: inside fp32's noise floor on 1/1" in outcome.line()


def test_a_miss_is_remembered_on_this_machine_until_quantize_measures_again(
    monkeypatch: pytest.MonkeyPatch, recipes: Path, tmp_path: Path
) -> None:
    outside = Certified(MaskAgreement("coins.png", 0.5, 9.0, 99), NoiseFloor("coins.png", 0.9, 3))
    missed = Certification((outside,), Speed(0.3, 0.1, 1))
    builds = []
    monkeypatch.setattr(stage, "build_int8", lambda *args: builds.append(args) or _STAND_IN)
    for judge in ("certify", "until_miss"):
        monkeypatch.setattr(stage, judge, lambda *args, **kwargs: missed)
    monkeypatch.setattr(stage, "Runner", lambda graph: graph)
    first = stage_int8(MODEL, tmp_path, recipes=recipes, held_out=HELD_OUT)
    assert not first.passed and first.staged is None and len(builds) == 1

    again = stage_int8(MODEL, tmp_path, recipes=recipes, held_out=HELD_OUT)
    assert len(builds) == 1  # not built nor measured again
    assert again.certification == missed and again.staged is None
    assert "not certified on this machine before" in again.line()
    assert "coins.png IoU 0.500 / mean |Δ| 9.00 against a floor of 0.900 / 3.00" in again.line()

    stage_int8(MODEL, tmp_path, remeasure=True, recipes=recipes, held_out=HELD_OUT)
    assert len(builds) == 2  # `python -m convert quantize` measures again


def test_a_search_that_finds_no_set_writes_no_recipe(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    failed = SearchResult(("stage1",), False, (), ())
    monkeypatch.setattr(stage, "calibrate", lambda *args: None)
    monkeypatch.setattr(stage, "_search", lambda *args: failed)
    with pytest.raises(QuantizeError, match=r"expected a set of fp32 blocks .* got none"):
        stage.derive_recipe(MODEL, tmp_path, tmp_path / "recipes")
    assert not (tmp_path / "recipes").exists()
