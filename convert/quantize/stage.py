"""Recipe -> int8 serving graph -> certify against fp32's noise floor -> stage.

    convert/quantize/recipes/<model>.json (+ .ranges.json)        the recipe, kept in the repo
    model_repository/<model>_int8/1/model.onnx + manifest.json    when it is certified
    model_repository/<model>_int8/quantize/calibration-<key>.json the ranges it was made with
                                                                  (TensorRT INT8 reads them)
    model_repository/<model>_int8/quantize/search-<key>.json      ``--search``'s cached result
    model_repository/<model>_int8/quantize/verdict-<key>.json     a miss, for this recipe,
                                                                  source and machine

``python -m convert`` builds each model's variant from its recipe (no calibration while the
recipe's ranges hold for the source file and serving graph; no search). ``--search``
calibrates, searches which blocks and then which of their convs stay fp32, and writes the
recipe again (only when it found a set inside the floor). Certification always
runs on the machine at hand: on every held-out photo the variant must agree with fp32 as well
as fp32 agrees with itself under invisible changes (``u2net.agreement``), and one raw request
must be ``INT8_MIN_SPEEDUP`` times faster. A variant that misses is not staged, and the miss
is remembered for that recipe, source, serving graph and machine, so ``python -m convert``
says so again at once; ``python -m convert quantize`` always measures again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import onnx

from convert.check import check_serving, load_onnx
from convert.errors import QuantizeError
from convert.fetch import fetch
from convert.graph import GRAPH_VERSION, build_serving_graph
from convert.model_config import OnnxVariant, write_configs
from convert.quantize.body import BodyLayout, body_layout, conv_units, to_qdq_opset
from convert.quantize.certify import Certification, certify, floors, until_miss
from convert.quantize.cpu import machine_here, weight_bits_here
from convert.quantize.measure import Runner, Speed, agreements
from convert.quantize.qdq import calibrate, quantize
from convert.quantize.recipe import (
    RECIPES,
    Recipe,
    copy_ranges,
    ranges_path,
    read_recipe,
    recipe_digest,
    recipe_path,
    write_recipe,
)
from convert.quantize.search import SearchResult, give_back, read_result, search, write_result
from convert.quantize.split import SPLIT_SUFFIX, split_concat_convs
from u2net.agreement import INT8_MIN_SPEEDUP, MaskAgreement, PhotoBars
from u2net.catalogue import KnownModel
from u2net.repository.files import atomic_write_bytes, md5_of
from u2net.repository.layout import ONNX_FILE, config_path, quantize_dir, staged_paths
from u2net.repository.manifests import (
    INT8_RECIPE,
    certified_photo,
    int8_current,
    int8_manifest,
    read_manifest,
    recorded_photo,
    staged_md5,
    write_manifest,
)
from u2net.samples import (
    CALIBRATION_PHOTOS,
    HELD_OUT_PHOTOS,
    SEARCH_PHOTOS,
    sample_inputs,
    sample_rgb,
)

log = logging.getLogger(__name__)

KEY_CHARS = 12  # hex digits of a hash in a cache file's name


@dataclass(frozen=True)
class Outcome:
    """What became of one variant: staged or not, and why."""

    variant: str
    staged: Path | None
    passed: bool
    certification: Certification | None = None
    recipe: Recipe | None = None
    up_to_date: bool = False
    remembered: Path | None = None  # the verdict file a known miss was read from

    def why(self) -> str:
        """The measured reason, in one clause."""
        if self.certification is None:
            return "no recipe"
        c = self.certification
        parts = [f"inside fp32's noise floor on {c.inside}/{len(c.photos)} held-out photos"]
        if c.ended_early:
            parts = [
                f"inside fp32's noise floor on {c.inside} of the first {len(c.photos)} of "
                f"{c.of} held-out photos (measured until the first miss; `python -m convert "
                "quantize` measures every one)"
            ]
        parts += [
            f"{m.agreement.name} IoU {m.agreement.iou:.3f} / mean |Δ| "
            f"{m.agreement.mean_abs_diff:.2f} against a floor of {m.floor.iou:.3f} / "
            f"{m.floor.mean_abs_diff:.2f}"
            for m in c.outside
        ]
        if c.ended_early:
            parts.append("speed not judged after a miss")
        else:
            parts.append(f"{c.speed.speedup:.2f}x fp32 (bar {INT8_MIN_SPEEDUP}x)")
        return "; ".join(parts)

    def line(self) -> str:
        if self.certification is None:
            model = self.variant.removesuffix("_int8")
            return (
                f"{self.variant}: no recipe in {recipe_path(model)}; "
                f"`python -m convert quantize --search --models {model}` derives one"
            )
        verdict = "certified" if self.passed else "not certified"
        where = f"staged {self.staged}" if self.staged else "not staged (--force stages it)"
        current = ", up to date" if self.up_to_date else ""
        if self.remembered is not None:
            current = (
                f" on this machine before ({self.remembered}; `python -m convert quantize`"
                " measures again)"
            )
        return f"{self.variant}: {verdict}{current}: {self.why()}: {where}"


def work_key(model: KnownModel) -> str:
    """What ``--search``'s calibration and search depend on, as a short hash."""
    parts = [model.md5, str(GRAPH_VERSION), str(INT8_RECIPE), *CALIBRATION_PHOTOS, "|"]
    parts += SEARCH_PHOTOS
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:KEY_CHARS]


def calibration_name(key: str) -> str:
    return f"calibration-{key}.json"


def fp32_graph(model: KnownModel) -> onnx.ModelProto:
    """The fp32 serving graph at the opset per-channel QDQ needs (the reference)."""
    return to_qdq_opset(build_serving_graph(load_onnx(fetch(model))))


def excluded_nodes(layout: BodyLayout, recipe: Recipe) -> list[str]:
    """Every node the recipe keeps fp32: serving maths, head, its blocks but the nodes it
    gives back to int8, and its single nodes."""
    kept = [n for n in layout.excluded_nodes(recipe.fp32_blocks) if n not in recipe.int8_nodes]
    return [*kept, *recipe.fp32_nodes]


def derive_recipe(model: KnownModel, repository: Path, recipes: Path = RECIPES) -> Recipe:
    """``--search``: calibrate, search which blocks and convs stay fp32 on the search photos (each
    judged against fp32's floor there) and write the recipe and its ranges to ``recipes``."""
    work = quantize_dir(repository, OnnxVariant(model.name, int8=True).name)
    key = work_key(model)
    cache, result_path = work / calibration_name(key), work / f"search-{key}.json"
    fp32 = fp32_graph(model)
    calibrate(fp32, sample_inputs(CALIBRATION_PHOTOS)[1], cache)
    result = _search(fp32, body_layout(fp32), cache, result_path)
    if not result.passed:
        raise QuantizeError(
            f"{model.name}: expected a set of fp32 blocks that keeps every search photo inside "
            f"fp32's floor, got none (the best kept {', '.join(result.fp32_blocks) or 'none'}); "
            "no recipe written"
        )
    recipe = Recipe(
        model=model.name,
        source_md5=model.md5,
        graph_version=GRAPH_VERSION,
        fp32_blocks=result.fp32_blocks,
        int8_nodes=result.int8_nodes,
        calibration_photos=CALIBRATION_PHOTOS,
    )
    log.info("%s: recipe written to %s", model.name, write_recipe(recipe, cache, recipes))
    return recipe


class _SearchScore:
    """Quantize with a set of nodes kept fp32 and score it on the search photos, each against
    fp32's floor there (what both steps of the search evaluate)."""

    def __init__(self, fp32: onnx.ModelProto, cache: Path) -> None:
        self.fp32, self.cache = fp32, cache
        reference = Runner(fp32)
        self.names, self.images = sample_inputs(SEARCH_PHOTOS)
        photos = sample_rgb(SEARCH_PHOTOS)
        self.bars = PhotoBars.from_floors(floors(reference, self.names, photos))
        self.masks = reference.masks(self.images)

    def __call__(self, kept_fp32: list[str], label: str) -> list[MaskAgreement]:
        int8 = Runner(quantize(self.fp32, self.cache, kept_fp32))
        found = agreements(self.masks, int8.masks(self.images), self.names)
        inside = sum(self.bars.passes(a) for a in found)
        log.info("%s: %d/%d photos inside the floor", label, inside, len(found))
        return found


def _search(
    fp32: onnx.ModelProto, layout: BodyLayout, cache: Path, result_path: Path
) -> SearchResult:
    """Blocks first (``search``), then node by node inside the kept blocks (``give_back``)."""
    if result_path.is_file():
        log.info("reusing the sensitivity search in %s", result_path)
        return read_result(result_path)
    score = _SearchScore(fp32, cache)

    def evaluate(blocks: tuple[str, ...]) -> list[MaskAgreement]:
        return score(layout.excluded_nodes(blocks), f"fp32 blocks [{','.join(blocks)}]")

    result = search([b.name for b in layout.blocks], evaluate, score.bars)
    if result.passed and result.fp32_blocks:
        kept = layout.excluded_nodes(result.fp32_blocks)

        def evaluate_nodes(given: tuple[str, ...]) -> list[MaskAgreement]:
            return score([n for n in kept if n not in given], f"int8 [{','.join(given)}]")

        nodes = [n for b in result.fp32_blocks for n in layout.block(b).nodes]
        units = conv_units(fp32, nodes)
        given, trials = give_back(result.fp32_blocks, units, evaluate_nodes, score.bars)
        result = replace(result, int8_nodes=given, trials=(*result.trials, *trials))
    write_result(result_path, result)
    return result


def _ranges_cover(path: Path, recipe: Recipe) -> bool:
    """Does the calibration cache at ``path`` hold the ranges of the recipe's split convs?"""
    if not recipe.split_convs:
        return True
    tensors = json.loads(path.read_text()).get("data", {})
    return all(f"{conv}{SPLIT_SUFFIX}0" in tensors for conv in recipe.split_convs)


def _ranges(
    model: KnownModel, recipe: Recipe, graph: onnx.ModelProto, work: Path, recipes: Path
) -> Path:
    """The recipe's calibration ranges where they hold for this source and graph, else
    ``graph`` calibrated again on the recipe's photos (cached per recipe), saying why."""
    kept = ranges_path(model.name, recipes)
    if not kept.is_file():
        why = f"{kept} is missing"
    elif not recipe.ranges_hold_for(model.md5, GRAPH_VERSION):
        why = "they were measured on another source file or serving graph"
    elif not _ranges_cover(kept, recipe):
        why = "they lack the split convs' tensors"
    else:
        return kept
    log.warning(
        "%s: calibrating again: the recipe's ranges do not hold (%s); "
        "`python -m convert quantize --search` refreshes them",
        model.name,
        why,
    )
    digest = recipe_digest(model.name, recipes)
    key = f"{model.md5[:KEY_CHARS]}-{GRAPH_VERSION}-{digest[:KEY_CHARS]}"
    cache = work / calibration_name(key)
    calibrate(graph, sample_inputs(recipe.calibration_photos or CALIBRATION_PHOTOS)[1], cache)
    return cache


def _up_to_date(repository: Path, variant: str, model: KnownModel, digest: str) -> bool:
    staged, manifest_path = staged_paths(repository, variant, ONNX_FILE)
    recorded = read_manifest(manifest_path)
    if not int8_current(recorded, model.md5, GRAPH_VERSION, digest) or not staged.is_file():
        return False
    assert recorded is not None  # int8_current said so
    if recorded.get("weight_bits") != weight_bits_here() or not recorded.get("passed"):
        return False
    return staged_md5(recorded, ONNX_FILE) == md5_of(staged)


def verdict_path(work: Path, model: KnownModel, digest: str, held_out: tuple[str, ...]) -> Path:
    """Where a miss of this recipe, source, serving graph, held-out set and machine is kept."""
    parts = [model.md5, str(GRAPH_VERSION), str(INT8_RECIPE), digest, machine_here(), *held_out]
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:KEY_CHARS]
    return work / f"verdict-{key}.json"


def _remember_miss(path: Path, certification: Certification) -> None:
    record = {
        "machine": machine_here(),
        "held_out": [certified_photo(c) for c in certification.photos],
        "of": certification.of,
        "speed": certification.speed.as_dict(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(record, indent=2).encode())


def _known_miss(path: Path) -> Certification | None:
    """The certification a remembered miss recorded (None: none, or unreadable)."""
    record = read_manifest(path)
    if record is None:
        return None
    try:
        photos = tuple(recorded_photo(p) for p in record["held_out"])
        return Certification(photos, Speed.from_dict(record["speed"]), record.get("of"))
    except (KeyError, TypeError) as e:
        log.warning("%s: ignoring an unreadable verdict (%s); measuring again", path, e)
        return None


def _drop_stale(repository: Path, variant: str) -> None:
    """A variant staged before that is not certified now must not stay served."""
    staged, manifest_path = staged_paths(repository, variant, ONNX_FILE)
    if staged.is_file():
        log.warning("%s: removing %s: it is not certified on this machine now", variant, staged)
        staged.unlink()
        manifest_path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Int8Build:
    """A recipe built: the fp32 reference, its layout, the ranges used, the int8 graph."""

    fp32: onnx.ModelProto
    layout: BodyLayout
    ranges: Path
    int8: onnx.ModelProto


def build_int8(model: KnownModel, recipe: Recipe, work: Path, recipes: Path = RECIPES) -> Int8Build:
    """The int8 serving graph a recipe describes (its convs split, its ranges or the split
    graph calibrated again, its fp32 nodes excluded)."""
    fp32 = fp32_graph(model)
    graph = split_concat_convs(fp32, recipe.split_convs) if recipe.split_convs else fp32
    layout = body_layout(fp32)  # a split conv's parts are int8: no block needs their names
    ranges = _ranges(model, recipe, graph, work, recipes)
    return Int8Build(fp32, layout, ranges, quantize(graph, ranges, excluded_nodes(layout, recipe)))


def stage_int8(
    model: KnownModel,
    repository: Path,
    *,
    force: bool = False,
    search: bool = False,
    remeasure: bool = False,
    recipes: Path = RECIPES,
    held_out: tuple[str, ...] = HELD_OUT_PHOTOS,
) -> Outcome:
    """Make ``<model>_int8`` from its recipe in ``recipes`` (``search``: derive the recipe
    first) and stage it when certified on ``held_out`` (or when ``force``); a staged variant
    made from the same recipe, source and serving graph is left alone, and so is a miss
    remembered on this machine unless ``remeasure``."""
    variant = OnnxVariant(model.name, int8=True)
    if search:
        derive_recipe(model, repository, recipes)
    recipe = read_recipe(model.name, recipes)
    if recipe is None:
        return Outcome(variant.name, None, False)
    digest = recipe_digest(model.name, recipes)
    if not force and _up_to_date(repository, variant.name, model, digest):
        return _recorded(repository, variant.name, recipe)
    verdict = verdict_path(quantize_dir(repository, variant.name), model, digest, held_out)
    known = None if force or remeasure else _known_miss(verdict)
    if known is not None:
        _drop_stale(repository, variant.name)
        return Outcome(variant.name, None, False, known, recipe, remembered=verdict)
    build = build_int8(model, recipe, quantize_dir(repository, variant.name), recipes)
    photos = sample_rgb(held_out)
    judge = certify if force or remeasure else until_miss  # a build stops at its first miss
    certification = judge(Runner(build.fp32), Runner(build.int8), list(held_out), photos)
    passed = certification.passed(INT8_MIN_SPEEDUP)
    outcome = Outcome(variant.name, None, passed, certification, recipe)
    verdict.unlink(missing_ok=True)
    if not (passed or force):
        _drop_stale(repository, variant.name)
        _remember_miss(verdict, certification)
        return outcome
    for line in check_serving(build.int8, f"{variant.name} serving graph").lines:
        log.info("%s: %s", variant.name, line)
    work = quantize_dir(repository, variant.name)
    kept = work / calibration_name(digest[:KEY_CHARS])
    cache = build.ranges if build.ranges.parent == work else copy_ranges(model.name, kept, recipes)
    staged = _write(
        variant,
        repository,
        int8=build.int8,
        model=model,
        layout=build.layout,
        recipe=recipe,
        certification=certification,
        cache=cache,
        digest=digest,
        force=force,
    )
    return Outcome(variant.name, staged, passed, certification, recipe)


def _recorded(repository: Path, variant: str, recipe: Recipe) -> Outcome:
    """The outcome a current staged variant's manifest records (a forced one still misses)."""
    staged, manifest_path = staged_paths(repository, variant, ONNX_FILE)
    manifest = read_manifest(manifest_path) or {}
    photos = tuple(recorded_photo(p) for p in manifest["held_out"]["photos"])
    certification = Certification(photos, Speed.from_dict(manifest["speed"]))
    passed = bool(manifest.get("passed"))
    return Outcome(variant, staged, passed, certification, recipe, up_to_date=True)


def _write(
    variant: OnnxVariant,
    repository: Path,
    *,
    int8: onnx.ModelProto,
    model: KnownModel,
    layout: BodyLayout,
    recipe: Recipe,
    certification: Certification,
    cache: Path,
    digest: str,
    force: bool,
) -> Path:
    if not config_path(repository, variant.name).is_file():
        write_configs(variant, repository)
    staged, manifest_path = staged_paths(repository, variant.name, ONNX_FILE)
    staged.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(staged, int8.SerializeToString())
    passed = certification.passed(INT8_MIN_SPEEDUP)
    manifest = int8_manifest(
        model=model.name,
        variant=variant.name,
        source_md5=model.md5,
        converter_version=GRAPH_VERSION,
        output_md5=md5_of(staged),
        recipe_digest=digest,
        calibration_photos=recipe.calibration_photos,
        calibration_cache=cache.name,
        fp32_blocks=recipe.fp32_blocks,
        excluded_nodes=excluded_nodes(layout, recipe),
        split_convs=recipe.split_convs,
        held_out=certification.photos,
        speed=certification.speed.as_dict(),
        passed=passed,
        forced=force and not passed,
        weight_bits=weight_bits_here(),
        machine=machine_here(),
    )
    write_manifest(manifest_path, manifest)
    log.info("%s: staged %s (%.1f MB)", variant.name, staged, staged.stat().st_size / 1e6)
    return staged
