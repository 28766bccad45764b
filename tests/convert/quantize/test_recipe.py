"""The int8 recipe kept in the repository: written and read in one place, refused when it is
not one, and the committed u2net recipe is one that ``python -m convert`` can build from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convert.errors import QuantizeError
from convert.graph import GRAPH_VERSION
from convert.quantize.body import U2NET_BLOCKS
from convert.quantize.recipe import (
    Recipe,
    copy_ranges,
    ranges_path,
    read_recipe,
    recipe_digest,
    recipe_path,
    write_recipe,
)
from u2net.catalogue import KNOWN_MODELS
from u2net.samples import CALIBRATION_PHOTOS, HELD_OUT_PHOTOS

RECIPE = Recipe(
    model="u2netp",
    source_md5="abc",
    graph_version=3,
    fp32_blocks=("stage2d",),
    fp32_nodes=("Conv_0",),
    int8_nodes=("Conv_680", "Relu_681"),
    calibration_photos=("astronaut.png",),
)


@pytest.fixture
def written(tmp_path: Path) -> Path:
    ranges = tmp_path / "calibration.json"
    ranges.write_text('{"CLS": "TensorsData", "data": {}}')
    write_recipe(RECIPE, ranges, tmp_path / "recipes")
    return tmp_path / "recipes"


def test_a_recipe_reads_back_as_written(written: Path) -> None:
    assert read_recipe("u2netp", written) == RECIPE
    assert ranges_path("u2netp", written).read_text().startswith('{"CLS"')
    assert read_recipe("u2net", written) is None  # no recipe: None, not an error


def test_the_digest_follows_the_recipe_and_its_ranges(written: Path) -> None:
    before = recipe_digest("u2netp", written)
    assert recipe_digest("u2netp", written) == before
    ranges_path("u2netp", written).write_text('{"CLS": "TensorsData", "data": {"x": 1}}')
    assert recipe_digest("u2netp", written) != before


def test_the_ranges_hold_only_for_their_source_and_graph() -> None:
    assert RECIPE.ranges_hold_for("abc", 3)
    assert not RECIPE.ranges_hold_for("abd", 3) and not RECIPE.ranges_hold_for("abc", 4)


def test_copied_ranges_are_the_recipe_s(written: Path, tmp_path: Path) -> None:
    copied = copy_ranges("u2netp", tmp_path / "work" / "calibration-x.json", written)
    assert copied.read_bytes() == ranges_path("u2netp", written).read_bytes()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not an int8 recipe"),
        ('{"format": 99}', "expected recipe format 1, got 99"),
        ('{"format": 1, "model": "u2netp"}', "not an int8 recipe"),
    ],
)
def test_a_file_that_is_not_a_recipe_is_refused(tmp_path: Path, text: str, message: str) -> None:
    recipe_path("u2netp", tmp_path).write_text(text)
    with pytest.raises(QuantizeError, match=message):
        read_recipe("u2netp", tmp_path)


def test_the_committed_u2net_recipe_builds_on_today_s_graph() -> None:
    recipe = read_recipe("u2net")
    assert recipe is not None
    assert recipe.ranges_hold_for(KNOWN_MODELS["u2net"].md5, GRAPH_VERSION)
    assert set(recipe.fp32_blocks) <= set(U2NET_BLOCKS)
    assert recipe.calibration_photos == CALIBRATION_PHOTOS
    assert not set(recipe.calibration_photos) & set(HELD_OUT_PHOTOS)
    ranges = json.loads(ranges_path("u2net").read_text())
    assert ranges["CLS"] == "TensorsData" and len(ranges["data"]) > 400


def test_a_json_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    recipe_path("u2netp", tmp_path).write_text("[]")
    with pytest.raises(QuantizeError, match="expected a JSON object, got list"):
        read_recipe("u2netp", tmp_path)
