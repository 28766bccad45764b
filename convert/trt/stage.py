"""staged ONNX -> TensorRT plan -> verified against ONNX Runtime -> <model>_trt/1/model.plan.

The GPU work sits behind a small backend (``convert.trt.build.TensorRTBackend``); this
module decides, verifies and writes, so its logic is tested on CPU with a fake backend.
Idempotent like ONNX staging: the manifest beside the plan records what the plan was
built from and on; when all of it still holds, a rerun does nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from convert.custom import CustomModel
from convert.errors import EngineBuildError
from convert.model_config import OnnxVariant, TrtVariant, write_configs
from convert.trt.build import build_plan
from convert.trt.cuda import GpuInfo, gpu_info
from convert.trt.int8 import load_int8_inputs, source_md5
from convert.trt.profile import BuildSettings, ShapeProfile, load_profile
from convert.trt.run import run_plan
from convert.trt.tensorrt_lib import load_tensorrt
from convert.trt.verify import Verification, onnx_reference, sample_batch, verify_batch
from u2net.catalogue import KnownModel
from u2net.contract import CONTRACT, ServingContract
from u2net.repository.files import atomic_write_bytes, md5_of
from u2net.repository.layout import ONNX_FILE, PLAN_FILE, config_path, staged_paths
from u2net.repository.manifests import (
    parse_plan_manifest,
    plan_inputs,
    plan_loads_with,
    plan_manifest,
    plan_up_to_date,
    read_manifest,
    write_manifest,
)

log = logging.getLogger(__name__)

# what an engine is built for: a catalogue model, or one staged by `python -m convert custom`
EngineModel = KnownModel | CustomModel

PLAN = PLAN_FILE
TIMING_CACHE = "model.timing_cache"
# How plans are built; bump when that changes so staged plans are rebuilt. 2: the parser's
# helper layers pinned with the serving layers, TF32 off for fp32, TensorRT 11's fp16.
BUILD_RECIPE = 2


class Backend(Protocol):
    def version(self) -> str: ...

    def gpu(self) -> GpuInfo: ...

    def build(
        self,
        onnx_path: Path,
        profile: ShapeProfile,
        settings: BuildSettings,
        timing_cache: bytes | None,
    ) -> tuple[bytes, bytes]: ...

    def run(self, plan: bytes, batch: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class TensorRTBackend:
    """What :mod:`convert.trt.stage` needs from the GPU side (tests substitute a fake)."""

    def version(self) -> str:
        return str(load_tensorrt().__version__)

    def gpu(self) -> GpuInfo:
        return gpu_info()

    def build(
        self,
        onnx_path: Path,
        profile: ShapeProfile,
        settings: BuildSettings,
        timing_cache: bytes | None,
    ) -> tuple[bytes, bytes]:
        return build_plan(onnx_path, profile, settings, timing_cache)

    def run(self, plan: bytes, batch: np.ndarray) -> np.ndarray:
        return run_plan(plan, batch)


def fingerprint(
    *,
    tensorrt_version: str,
    gpu: GpuInfo,
    profile: ShapeProfile,
    settings: BuildSettings,
    source_md5: str,
) -> dict[str, Any]:
    """Everything a plan depends on (:func:`u2net.repository.manifests.plan_inputs`, from our
    types)."""
    return plan_inputs(
        build_recipe=BUILD_RECIPE,
        tensorrt_version=tensorrt_version,
        gpu_name=gpu.name,
        compute_capability=gpu.compute_capability,
        profile=profile.as_dict(),
        precision=settings.precision,
        workspace_gb=settings.workspace_gb,
        source_md5=source_md5,
    )


def engine_manifest(
    *,
    model: str,
    inputs: dict[str, Any],
    plan: bytes,
    build_seconds: float,
    timing_cache_found: bool,
    verification: Verification,
    forced: bool,
    built_at: str,
    fallback_from: str | None = None,
) -> dict[str, Any]:
    """The manifest written beside the plan (:func:`u2net.repository.manifests.plan_manifest`;
    pure)."""
    return plan_manifest(
        model=model,
        variant=TrtVariant(model).name,
        inputs=inputs,
        plan=plan,
        build_seconds=build_seconds,
        timing_cache_found=timing_cache_found,
        verification=verification.as_dict(),
        staged_unverified=forced and not verification.passed,
        built_at=built_at,
        fallback_from=fallback_from,
    )


def verify_engine(
    backend: Backend,
    plan: bytes,
    onnx_path: Path,
    profile: ShapeProfile,
    contract: ServingContract = CONTRACT,
) -> Verification:
    """Run the engine at batch 1, the sample count and the profile max; compare to ORT."""
    names, images = sample_batch(contract)
    reference = onnx_reference(onnx_path, images, contract)
    count = len(names)
    agreements = []
    for size in sorted({1, min(count, profile.max_batch), profile.max_batch}):
        index = [i % count for i in range(size)]
        masks = backend.run(plan, images[index])
        labels = [f"{names[i]}@batch{size}" for i in index]
        agreements.extend(verify_batch(reference[index], masks, labels).agreements)
    return Verification(tuple(agreements))


def _built(
    backend: Backend,
    name: str,
    paths: tuple[Path, Path],
    profile: ShapeProfile,
    settings: BuildSettings,
    *,
    gpu_name: str,
) -> tuple[bytes, float, bool]:
    """Build with the timing cache beside the plan; returns (plan, seconds, cache was found)."""
    onnx_path, plan_path = paths
    cache_path = plan_path.with_name(TIMING_CACHE)
    cache = cache_path.read_bytes() if cache_path.is_file() else None
    log.info(
        "%s: building %s engine on %s, profile %s (%s)",
        name,
        settings.precision,
        gpu_name,
        profile.as_dict(),
        "reusing timing cache" if cache else "no timing cache yet",
    )
    start = time.perf_counter()
    plan, new_cache = backend.build(onnx_path, profile, settings, cache)
    seconds = time.perf_counter() - start
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    if new_cache:
        atomic_write_bytes(cache_path, new_cache)
    log.info("%s: built in %.1f s (%.1f MB)", name, seconds, len(plan) / 1e6)
    return plan, seconds, cache is not None


def _judge(name: str, verification: Verification, force: bool) -> None:
    """A plan that disagrees with ONNX Runtime is not staged, unless forced."""
    if verification.passed:
        log.info("%s: verified against ONNX Runtime, %s", name, verification.summary())
        return
    message = f"{name}: the engine disagrees with ONNX Runtime: {verification.summary()}"
    if not force:
        raise EngineBuildError(
            f"{message}; not staged (try --precision fp32, or --force to stage it anyway)"
        )
    log.warning("%s; staging anyway because of --force", message)


def _staged_onnx(repository: Path, model: EngineModel) -> Path:
    onnx_path, _ = staged_paths(repository, OnnxVariant(model.name).name, ONNX_FILE)
    if not onnx_path.is_file():
        command = (
            model.stage_command
            if isinstance(model, CustomModel)
            else f"python -m convert --models {model.name}"
        )
        raise EngineBuildError(f"{onnx_path} is missing; stage it first with `{command}`")
    return onnx_path


def _ensure_config(repository: Path, model: EngineModel) -> None:
    """Write ``<model>_trt/config.pbtxt`` from convert.model_config where it is missing: only
    the default models' are committed (rembg's other models and custom ones get theirs when
    their first engine is built, at their family's size)."""
    variant = TrtVariant(model.name, contract=model.contract)
    if config_path(repository, variant.name).is_file():
        return
    for path in write_configs(variant, Path(repository)):
        log.info("%s: writing %s", variant.name, path)


def _engine_settings(model: EngineModel, settings: BuildSettings | None) -> BuildSettings:
    """The user's settings with the family's opt batch where none was given; INT8 only for
    catalogue models (it reuses their int8 variant)."""
    settings = (settings or BuildSettings()).for_family(model.family)
    if settings.precision == "int8" and isinstance(model, CustomModel):
        raise EngineBuildError(
            f"{model.name}: expected --precision fp16 or fp32 for a custom model (INT8 reuses"
            " a catalogue model's int8 variant), got int8"
        )
    return settings


def _build_and_stage(
    backend: Backend,
    model: EngineModel,
    paths: tuple[Path, Path, Path],
    profile: ShapeProfile,
    settings: BuildSettings,
    *,
    inputs: dict[str, Any],
    force: bool,
    fallback_from: str | None = None,
) -> Path:
    """Build, verify (raising unless ``force``) and write the plan and its manifest."""
    onnx_path, plan_path, manifest_path = paths
    name = TrtVariant(model.name).name
    plan, seconds, cache_found = _built(
        backend, name, (onnx_path, plan_path), profile, settings, gpu_name=inputs["gpu"]["name"]
    )
    verification = verify_engine(backend, plan, onnx_path, profile, model.contract)
    _judge(name, verification, force)
    atomic_write_bytes(plan_path, plan)
    manifest = engine_manifest(
        model=model.name,
        inputs=inputs,
        plan=plan,
        build_seconds=seconds,
        timing_cache_found=cache_found,
        verification=verification,
        forced=force,
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        fallback_from=fallback_from,
    )
    write_manifest(manifest_path, manifest)
    log.info("%s: staged %s", name, plan_path)
    return plan_path


def _drop_if_unloadable(
    name: str, manifest: dict[str, Any] | None, inputs: dict[str, Any], paths: tuple[Path, Path]
) -> None:
    """Remove a plan this TensorRT or GPU cannot load, so a failed rebuild leaves nothing
    that would stop Triton from starting (it then serves the ONNX variant alone)."""
    plan_path, manifest_path = paths
    if plan_loads_with(manifest, inputs) or not plan_path.exists():
        return
    try:
        facts = parse_plan_manifest(manifest or {})
        built = (
            f"built by TensorRT {facts.tensorrt_version} "
            f"for compute capability {facts.compute_capability}"
        )
    except ValueError as e:
        built = str(e)
    log.warning("%s: removing %s, %s; it cannot load here", name, plan_path, built)
    plan_path.unlink()
    manifest_path.unlink(missing_ok=True)


def stage_trt(
    model: EngineModel,
    repository: Path,
    settings: BuildSettings | None = None,
    *,
    force: bool = False,
    backend: Backend | None = None,
    fallback_fp32: bool = False,
) -> Path:
    """Build, verify and stage ``<model>_trt/1/model.plan``; returns its path.

    ``force`` rebuilds even when up to date and stages a plan that failed verification
    (the manifest then says ``staged_unverified: true``). ``fallback_fp32``: when an fp16
    build fails (or, without ``force``, fails verification), build fp32 instead; the
    manifest then says ``fallback_from: "fp16"`` and reruns keep that plan while it is
    current.
    """
    settings = _engine_settings(model, settings)
    if settings.precision == "int8" and settings.int8 is None:
        settings = replace(settings, int8=load_int8_inputs(Path(repository), model))
    name = TrtVariant(model.name).name
    onnx_path = _staged_onnx(Path(repository), model)
    _ensure_config(Path(repository), model)
    profile = load_profile(repository, model.name, settings.opt_batch, model.contract)
    backend = backend or TensorRTBackend()
    facts = {"tensorrt_version": backend.version(), "gpu": backend.gpu()}
    source = source_md5(md5_of(onnx_path), settings.int8)

    def inputs_for(chosen: BuildSettings) -> dict[str, Any]:
        return fingerprint(**facts, profile=profile, settings=chosen, source_md5=source)

    plan_path, manifest_path = staged_paths(repository, name, PLAN)
    manifest = read_manifest(manifest_path)
    plan_md5 = md5_of(plan_path) if plan_path.is_file() else None
    fp32 = replace(settings, precision="fp32", int8=None)
    wanted = [inputs_for(settings)]
    if fallback_fp32 and (manifest or {}).get("fallback_from") == settings.precision:
        wanted.append(inputs_for(fp32))  # an earlier run fell back; that plan still counts
    if not force and any(plan_up_to_date(manifest, plan_md5, inputs) for inputs in wanted):
        log.info("%s: up to date (%s)", name, plan_path)
        return plan_path
    _drop_if_unloadable(name, manifest, inputs_for(settings), (plan_path, manifest_path))
    paths = (onnx_path, plan_path, manifest_path)
    try:
        return _build_and_stage(
            backend, model, paths, profile, settings, inputs=inputs_for(settings), force=force
        )
    except EngineBuildError as e:
        if not fallback_fp32 or settings.precision == "fp32":
            raise
        log.warning(
            "%s: the %s engine failed (%s); building fp32 instead", name, settings.precision, e
        )
    return _build_and_stage(
        backend,
        model,
        paths,
        profile,
        fp32,
        inputs=inputs_for(fp32),
        force=force,
        fallback_from=settings.precision,
    )
