"""The int8 recipe kept in the repository: how ``python -m convert`` rebuilds a certified
variant without searching or calibrating again.

    convert/quantize/recipes/<model>.json         what stays fp32 (blocks, minus the nodes
                                                  given back to int8, plus single nodes) and
                                                  which convs are split by concat branch
    convert/quantize/recipes/<model>.ranges.json  ONNX Runtime's calibration cache (MinMax
                                                  range of every tensor) of the graph the
                                                  recipe describes

The ranges hold for one source file and one serving graph version, both recorded: when either
changes the build calibrates again (about 20 s). ``python -m convert quantize --search``
derives the fp32 set again and rewrites both files. This module is their one reader and
writer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from convert.errors import QuantizeError
from u2net.repository.files import atomic_write_bytes

RECIPES = Path(__file__).with_name("recipes")
RECIPE_FORMAT = 1
RANGES_SUFFIX = ".ranges.json"


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """What one int8 variant is made of (plain data, as written to its JSON file)."""

    model: str
    source_md5: str
    graph_version: int
    fp32_blocks: tuple[str, ...] = ()
    fp32_nodes: tuple[str, ...] = ()  # single nodes kept fp32 besides the blocks and the head
    int8_nodes: tuple[str, ...] = ()  # nodes of the fp32 blocks quantized nonetheless
    split_convs: tuple[str, ...] = ()  # convs over a Concat, split into one conv per branch
    calibration_photos: tuple[str, ...] = ()
    format: int = field(default=RECIPE_FORMAT)

    def ranges_hold_for(self, source_md5: str, graph_version: int) -> bool:
        """Were the recorded ranges measured on this source file and serving graph?"""
        return (self.source_md5, self.graph_version) == (source_md5, graph_version)


def recipe_path(model: str, folder: Path = RECIPES) -> Path:
    return Path(folder) / f"{model}.json"


def ranges_path(model: str, folder: Path = RECIPES) -> Path:
    return Path(folder) / f"{model}{RANGES_SUFFIX}"


def read_recipe(model: str, folder: Path = RECIPES) -> Recipe | None:
    """The recipe of ``model``, or None when the repository has none; QuantizeError when the
    file is not one this code wrote."""
    path = recipe_path(model, folder)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise QuantizeError(f"{path}: expected a JSON object, got {type(data).__name__}")
        if data.get("format") != RECIPE_FORMAT:
            raise QuantizeError(
                f"{path}: expected recipe format {RECIPE_FORMAT}, got {data.get('format')!r}"
            )
        tuples = {k: tuple(v) for k, v in data.items() if isinstance(v, list)}
        return Recipe(**{**data, **tuples})
    except (ValueError, TypeError) as e:
        raise QuantizeError(f"{path}: not an int8 recipe ({e}); rerun with --search") from e


def write_recipe(recipe: Recipe, ranges: Path, folder: Path = RECIPES) -> Path:
    """Write ``recipe`` and a copy of its calibration cache ``ranges`` (atomically)."""
    path = recipe_path(recipe.model, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(asdict(recipe), indent=1) + "\n").encode())
    if Path(ranges) != ranges_path(recipe.model, folder):
        atomic_write_bytes(ranges_path(recipe.model, folder), Path(ranges).read_bytes())
    return path


def copy_ranges(model: str, target: Path, folder: Path = RECIPES) -> Path:
    """The recipe's calibration cache copied to ``target`` (where TensorRT INT8 reads it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, ranges_path(model, folder).read_bytes())
    return target


def recipe_digest(model: str, folder: Path = RECIPES) -> str:
    """One hash of the recipe and its ranges: a staged variant records it, and a rerun with
    the same one has nothing to do."""
    digest = hashlib.md5()
    for path in (recipe_path(model, folder), ranges_path(model, folder)):
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()
