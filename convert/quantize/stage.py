"""fp32 serving graph -> calibrate -> sensitivity search -> int8 -> certify -> stage.

    model_repository/<model>_int8/1/model.onnx + manifest.json   when it meets the bar
    model_repository/<model>_int8/quantize/calibration-<key>.json ONNX Runtime's range cache
    model_repository/<model>_int8/quantize/search-<key>.json      the search's result

``<key>`` names the source file, the serving graph's and the recipe's versions and the
calibration photos: a rerun with the same ones reads both files instead of measuring again
(the search is most of the time). The photos are split in one place,
:mod:`u2net.samples`: calibration, the search's scoring subset of it, held out.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from convert.check import check_serving, load_onnx
from convert.fetch import fetch
from convert.graph import GRAPH_VERSION, build_serving_graph
from convert.model_config import OnnxVariant, write_configs
from convert.quantize.body import BodyLayout, body_layout, to_qdq_opset
from convert.quantize.measure import Runner, Speed, agreements, interleaved_speed
from convert.quantize.qdq import calibrate, quantize
from convert.quantize.search import SearchResult, read_result, search, write_result
from u2net.agreement import INT8_BAR, INT8_MIN_SPEEDUP, MaskAgreement
from u2net.catalogue import KnownModel
from u2net.files import atomic_write_bytes, md5_of
from u2net.manifests import (
    INT8_RECIPE,
    int8_current,
    int8_manifest,
    read_manifest,
    staged_md5,
    write_manifest,
)
from u2net.repository import ONNX_FILE, config_path, quantize_dir, staged_paths
from u2net.samples import CALIBRATION_PHOTOS, HELD_OUT_PHOTOS, SEARCH_PHOTOS, sample_inputs

log = logging.getLogger(__name__)

SPEED_ROUNDS = 3  # interleaved rounds over the held-out photos


@dataclass(frozen=True)
class Outcome:
    variant: str
    staged: Path | None
    passed: bool
    held_out: tuple[MaskAgreement, ...]
    speed: Speed | None
    fp32_blocks: tuple[str, ...]

    def line(self) -> str:
        worst_iou = min(a.iou for a in self.held_out)
        worst_diff = max(a.mean_abs_diff for a in self.held_out)
        speed = f", {self.speed.speedup:.2f}x fp32" if self.speed else ""
        where = f"staged {self.staged}" if self.staged else "not staged (--force stages it)"
        verdict = "meets the bar" if self.passed else "misses the bar"
        return (
            f"{self.variant}: {verdict} on {len(self.held_out)} held-out photos (worst IoU "
            f"{worst_iou:.4f}, worst mean |Δ| {worst_diff:.2f}{speed}; fp32 blocks: "
            f"{', '.join(self.fp32_blocks) or 'none'}): {where}"
        )


def work_key(model: KnownModel) -> str:
    """What the cached calibration and search depend on, as a short hash."""
    parts = [model.md5, str(GRAPH_VERSION), str(INT8_RECIPE), *CALIBRATION_PHOTOS, "|"]
    parts += SEARCH_PHOTOS
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def calibration_name(model: KnownModel) -> str:
    return f"calibration-{work_key(model)}.json"


def _fp32_graph(model: KnownModel) -> onnx.ModelProto:
    return to_qdq_opset(build_serving_graph(load_onnx(fetch(model))))


def _search(
    fp32: onnx.ModelProto, layout: BodyLayout, cache: Path, result_path: Path
) -> SearchResult:
    if result_path.is_file():
        log.info("reusing the sensitivity search in %s", result_path)
        return read_result(result_path)
    names, images = sample_inputs(SEARCH_PHOTOS)
    reference = Runner(fp32).masks(images)

    def evaluate(blocks: tuple[str, ...]) -> list[MaskAgreement]:
        found = agreements(reference, _masks(fp32, cache, layout, blocks, images), names)
        worst = min(found, key=lambda a: a.iou)
        log.info("fp32 blocks [%s]: worst IoU %.4f (%s)", ",".join(blocks), worst.iou, worst.name)
        return found

    result = search([b.name for b in layout.blocks], evaluate, INT8_BAR)
    write_result(result_path, result)
    return result


def _masks(
    fp32: onnx.ModelProto,
    cache: Path,
    layout: BodyLayout,
    blocks: tuple[str, ...],
    images: np.ndarray,
) -> np.ndarray:
    return Runner(quantize(fp32, cache, layout.excluded_nodes(blocks))).masks(images)


def find_int8(
    model: KnownModel, repository: Path
) -> tuple[onnx.ModelProto, BodyLayout, tuple[Path, SearchResult]]:
    """The fp32 graph, its layout, the calibration cache and the search result (calibrating
    and searching only when the cache has neither)."""
    variant = OnnxVariant(model.name, int8=True).name
    work = quantize_dir(repository, variant)
    key = work_key(model)
    cache, result_path = work / calibration_name(model), work / f"search-{key}.json"
    fp32 = _fp32_graph(model)
    layout = body_layout(fp32)
    calibrate(fp32, sample_inputs(CALIBRATION_PHOTOS)[1], cache)
    return fp32, layout, (cache, _search(fp32, layout, cache, result_path))


def _up_to_date(repository: Path, variant: str, model: KnownModel) -> bool:
    staged, manifest_path = staged_paths(repository, variant, ONNX_FILE)
    recorded = read_manifest(manifest_path)
    if not int8_current(recorded, model.md5, GRAPH_VERSION) or not staged.is_file():
        return False
    return staged_md5(recorded, ONNX_FILE) == md5_of(staged)


def _drop_stale(repository: Path, variant: str) -> None:
    """A variant staged from older inputs that now misses the bar must not stay served."""
    staged, manifest_path = staged_paths(repository, variant, ONNX_FILE)
    if staged.is_file():
        log.warning(
            "%s: removing %s, made from older inputs; the new one misses the bar", variant, staged
        )
        staged.unlink()
        manifest_path.unlink(missing_ok=True)


def _recorded(repository: Path, variant: str) -> Outcome:
    """The outcome a current staged variant's manifest records (a forced one still misses)."""
    staged, manifest_path = staged_paths(repository, variant, ONNX_FILE)
    manifest = read_manifest(manifest_path) or {}
    held = tuple(MaskAgreement(**a) for a in manifest["held_out"]["photos"])
    timing = manifest["speed"]
    speed = Speed(timing["fp32_ms"] / 1e3, timing["int8_ms"] / 1e3, timing["runs"])
    passed = bool(manifest.get("passed"))
    return Outcome(variant, staged, passed, held, speed, tuple(manifest["fp32_blocks"]))


def stage_int8(model: KnownModel, repository: Path, force: bool = False) -> Outcome:
    """Make ``<model>_int8`` and stage it when it meets the bar on held-out photos (or when
    ``force``); a staged, current variant is left alone."""
    variant = OnnxVariant(model.name, int8=True)
    if not force and _up_to_date(repository, variant.name, model):
        log.info("%s: up to date", variant.name)
        return _recorded(repository, variant.name)
    fp32, layout, (cache, result) = find_int8(model, repository)
    int8 = quantize(fp32, cache, layout.excluded_nodes(result.fp32_blocks))
    names, images = sample_inputs(HELD_OUT_PHOTOS)
    reference, candidate = Runner(fp32), Runner(int8)
    held = agreements(reference.masks(images), candidate.masks(images), names)
    speed = interleaved_speed(reference, candidate, images, SPEED_ROUNDS)
    passed = all(INT8_BAR.passes(a) for a in held) and speed.speedup >= INT8_MIN_SPEEDUP
    outcome = Outcome(variant.name, None, passed, tuple(held), speed, result.fp32_blocks)
    if not (passed or force):
        _drop_stale(repository, variant.name)
        return outcome
    for line in check_serving(int8, f"{variant.name} serving graph").lines:
        log.info("%s: %s", variant.name, line)
    staged = _write(
        variant,
        repository,
        int8=int8,
        model=model,
        layout=layout,
        result=result,
        held=held,
        speed=speed,
        passed=passed,
        force=force,
    )
    return Outcome(variant.name, staged, passed, tuple(held), speed, result.fp32_blocks)


def _write(
    variant: OnnxVariant,
    repository: Path,
    *,
    int8: onnx.ModelProto,
    model: KnownModel,
    layout: BodyLayout,
    result: SearchResult,
    held: list[MaskAgreement],
    speed: Speed,
    passed: bool,
    force: bool,
) -> Path:
    if not config_path(repository, variant.name).is_file():
        write_configs(variant, repository)
    staged, manifest_path = staged_paths(repository, variant.name, ONNX_FILE)
    staged.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(staged, int8.SerializeToString())
    manifest = int8_manifest(
        model=model.name,
        variant=variant.name,
        source_md5=model.md5,
        converter_version=GRAPH_VERSION,
        output_md5=md5_of(staged),
        calibration_photos=CALIBRATION_PHOTOS,
        calibration_cache=calibration_name(model),
        search_photos=SEARCH_PHOTOS,
        fp32_blocks=result.fp32_blocks,
        excluded_nodes=layout.excluded_nodes(result.fp32_blocks),
        held_out=held,
        speed=speed.as_dict(),
        passed=passed,
        forced=force and not passed,
    )
    write_manifest(manifest_path, manifest)
    log.info("%s: staged %s (%.1f MB)", variant.name, staged, staged.stat().st_size / 1e6)
    return staged
