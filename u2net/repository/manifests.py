"""The ``manifest.json`` beside each staged model file: what it was staged from, and its md5.

    <repository>/<m>_onnx/1/manifest.json   written by ``python -m convert``
    <repository>/<m>_trt/1/manifest.json    written by ``python -m convert trt``

The one writer and reader of both formats (pure data, plus :func:`read_manifest` and
:func:`write_manifest`): convert writes them and reads them back (is the staged file current?
can this plan load here?); the doctor reads them (does the staged file still match? which
TensorRT and GPU built the plan?).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from u2net.agreement import Certified, MaskAgreement, NoiseFloor
from u2net.catalogue import ONNX_SUFFIX
from u2net.contract import FAMILY_CONTRACTS, U2NET_FAMILY
from u2net.repository.files import atomic_write_bytes
from u2net.repository.layout import MANIFEST, ONNX_FILE, PLAN_FILE, VERSION_DIR

PLAN_MANIFEST_VERSION = 1
# the key under which each manifest records the md5 of the file it sits beside
_STAGED_MD5_KEYS = {ONNX_FILE: "output_md5", PLAN_FILE: "plan_md5"}

Manifest = Mapping[str, Any]


def read_manifest(path: Path) -> dict[str, Any] | None:
    """A staged model's manifest, or None when there is none (or it is not JSON)."""
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Atomically, as indented JSON with a final newline."""
    atomic_write_bytes(path, (json.dumps(manifest, indent=2) + "\n").encode())


def staged_md5(manifest: Manifest | None, filename: str) -> str | None:
    """The md5 a manifest records for the staged ``filename`` (model.onnx, model.plan), if any."""
    key = _STAGED_MD5_KEYS.get(filename)
    value = manifest.get(key) if manifest is not None and key is not None else None
    return value if isinstance(value, str) and value else None


# --- python -m convert: the ONNX serving graph ---------------------------------------------


@dataclass(frozen=True)
class OnnxManifest:
    model: str
    source_md5: str
    converter_version: int
    output_md5: str
    family: str = U2NET_FAMILY  # the contract the graph was built with (u2net.contract)
    custom: bool = False  # staged by `python -m convert custom` from the user's own file

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def custom_models(repository: Path) -> dict[str, str]:
    """The custom models staged in ``repository`` (``python -m convert custom``): base name ->
    family, read from their ONNX manifests."""
    found = {}
    for path in sorted(Path(repository).glob(f"*{ONNX_SUFFIX}/{VERSION_DIR}/{MANIFEST}")):
        manifest = read_manifest(path)
        if manifest and manifest.get("custom") and manifest.get("family") in FAMILY_CONTRACTS:
            found[str(manifest["model"])] = str(manifest["family"])
    return found


def onnx_current(manifest: Manifest | None, source_md5: str, converter_version: int) -> bool:
    """Was the staged graph made from this source by this converter? (Whether the file still
    has the recorded md5 is the caller's second question: :func:`staged_md5`.)"""
    if manifest is None:
        return False
    return (manifest.get("source_md5"), manifest.get("converter_version")) == (
        source_md5,
        converter_version,
    )


# --- python -m convert quantize: the int8 ONNX serving graph ------------------------------

INT8_RECIPE = 2  # bump when the quantization recipe changes; int8 manifests record it


def certified_photo(found: Certified) -> dict[str, Any]:
    """One held-out photo as an int8 manifest records it: the agreement and fp32's floor."""
    return found.as_dict()


def recorded_photo(entry: Mapping[str, Any]) -> Certified:
    """:func:`certified_photo`'s record read back."""
    name = entry["name"]
    agreement = MaskAgreement(name, entry["iou"], entry["mean_abs_diff"], entry["max_abs_diff"])
    return Certified(agreement, NoiseFloor(name, entry["floor_iou"], entry["floor_mean_abs_diff"]))


def int8_manifest(
    *,
    model: str,
    variant: str,
    source_md5: str,
    converter_version: int,
    output_md5: str,
    recipe_digest: str,
    calibration_photos: Sequence[str],
    calibration_cache: str,
    fp32_blocks: Sequence[str],
    excluded_nodes: Sequence[str],
    split_convs: Sequence[str],
    held_out: Sequence[Certified],
    speed: Mapping[str, Any],
    passed: bool,
    forced: bool,
    weight_bits: int,
    machine: str,
) -> dict[str, Any]:
    """The manifest beside an int8 ``model.onnx`` (pure): how it was made and what it measured
    against fp32 on photos its calibration never saw, beside fp32's own floor on each, on which
    machine (``weight_bits``: 8, or 7 where that CPU's int8 kernels saturate 8)."""
    return {
        "model": model,
        "variant": variant,
        "source_md5": source_md5,
        "converter_version": converter_version,
        "int8_recipe": INT8_RECIPE,
        "recipe_digest": recipe_digest,  # convert/quantize/recipes/<model>.json + its ranges
        "output_md5": output_md5,
        "calibration": {
            "photos": list(calibration_photos),
            "method": "MinMax",
            "cache": calibration_cache,  # ONNX Runtime's ranges, in <model>_int8/quantize/
        },
        "fp32_blocks": list(fp32_blocks),
        "excluded_nodes": list(excluded_nodes),
        "split_convs": list(split_convs),
        "weight_bits": weight_bits,
        "held_out": {
            "photos": [certified_photo(c) for c in held_out],
            "inside_floor": sum(c.passed for c in held_out),
            "worst_iou": round(min(c.agreement.iou for c in held_out), 4),
            "worst_mean_abs_diff": round(max(c.agreement.mean_abs_diff for c in held_out), 3),
        },
        "speed": dict(speed),
        "passed": passed,
        "forced": forced,
        "machine": machine,
    }


def int8_current(
    manifest: Manifest | None, source_md5: str, converter_version: int, recipe_digest: str
) -> bool:
    """Was the staged int8 graph made from this source, serving graph and recipe?"""
    return onnx_current(manifest, source_md5, converter_version) and (
        manifest is not None
        and manifest.get("int8_recipe") == INT8_RECIPE
        and manifest.get("recipe_digest") == recipe_digest
    )


def int8_float_nodes(manifest: Manifest) -> tuple[list[str], str]:
    """(the nodes an int8 manifest keeps in float, its calibration cache's file name): what
    TensorRT INT8 reuses. ValueError naming what is missing."""
    nodes = manifest.get("excluded_nodes")
    calibration = manifest.get("calibration")
    if manifest.get("split_convs"):  # TensorRT builds the unsplit graph: not what was certified
        raise ValueError(
            f"expected no split_convs for TensorRT INT8, got {manifest['split_convs']}"
        )
    cache = calibration.get("cache") if isinstance(calibration, Mapping) else None
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        raise ValueError(f"expected excluded_nodes as a list of names, got {nodes!r}")
    if not isinstance(cache, str) or not cache:
        raise ValueError(f"expected calibration.cache as a file name, got {cache!r}")
    return nodes, cache


# --- python -m convert trt: the TensorRT plan ----------------------------------------------


def plan_inputs(
    *,
    build_recipe: int,
    tensorrt_version: str,
    gpu_name: str,
    compute_capability: str,
    profile: Mapping[str, Any],
    precision: str,
    workspace_gb: float,
    source_md5: str,
) -> dict[str, Any]:
    """Everything a plan depends on; a staged plan built from the same inputs is up to date."""
    return {
        "manifest_version": PLAN_MANIFEST_VERSION,
        "build_recipe": build_recipe,
        "tensorrt_version": tensorrt_version,
        "gpu": {"name": gpu_name, "compute_capability": compute_capability},
        "profile": dict(profile),
        "precision": precision,
        "workspace_gb": workspace_gb,
        "source_md5": source_md5,
    }


def plan_manifest(
    *,
    model: str,
    variant: str,
    inputs: Manifest,
    plan: bytes,
    build_seconds: float,
    timing_cache_found: bool,
    verification: Manifest,
    staged_unverified: bool,
    built_at: str,
    fallback_from: str | None = None,
) -> dict[str, Any]:
    """The manifest written beside a plan (pure: no I/O, no clock); ``inputs`` from
    :func:`plan_inputs`, ``verification`` with at least ``passed``."""
    return {
        "model": model,
        "variant": variant,
        **inputs,
        "plan": PLAN_FILE,
        "plan_md5": hashlib.md5(plan).hexdigest(),
        "plan_bytes": len(plan),
        "build_seconds": round(build_seconds, 2),
        "timing_cache_found": timing_cache_found,
        "verification": dict(verification),
        "staged_unverified": staged_unverified,
        "fallback_from": fallback_from,
        "built_at": built_at,
    }


@dataclass(frozen=True)
class PlanFacts:
    """What a plan's manifest says it was built with."""

    tensorrt_version: str
    compute_capability: str
    gpu_name: str
    max_batch: int | None
    precision: str | None
    verified: bool
    staged_unverified: bool

    @property
    def sm(self) -> str:
        return "sm_" + self.compute_capability.replace(".", "")


def plan_max_batch(manifest: Manifest) -> int | None:
    """The largest batch the plan's optimization profile takes, or None when it says none."""
    profile = manifest.get("profile")
    maximum = profile.get("max") if isinstance(profile, Mapping) else None
    return int(maximum[0]) if isinstance(maximum, list) and maximum else None


def parse_plan_manifest(manifest: Manifest) -> PlanFacts:
    """The facts of a ``<m>_trt/1/manifest.json``; ValueError naming what is missing."""
    gpu = manifest.get("gpu")
    version = manifest.get("tensorrt_version")
    capability = gpu.get("compute_capability") if isinstance(gpu, Mapping) else None
    if not isinstance(version, str) or not isinstance(capability, str):
        raise ValueError(
            "expected tensorrt_version and gpu.compute_capability in the plan's manifest, got "
            f"{sorted(manifest)}"
        )
    verification = manifest.get("verification")
    return PlanFacts(
        tensorrt_version=version,
        compute_capability=capability,
        gpu_name=str(gpu.get("name", "?")),
        max_batch=plan_max_batch(manifest),
        precision=manifest.get("precision"),
        verified=bool(isinstance(verification, Mapping) and verification.get("passed")),
        staged_unverified=bool(manifest.get("staged_unverified")),
    )


def plan_up_to_date(manifest: Manifest | None, plan_md5: str | None, inputs: Manifest) -> bool:
    """A staged plan is current when it was built from ``inputs`` and passed verification."""
    if manifest is None or plan_md5 is None:
        return False
    if any(manifest.get(k) != v for k, v in inputs.items()):
        return False
    verification = manifest.get("verification")
    passed = isinstance(verification, Mapping) and bool(verification.get("passed"))
    return passed and staged_md5(manifest, PLAN_FILE) == plan_md5


def plan_loads_with(manifest: Manifest | None, inputs: Manifest) -> bool:
    """Can a staged plan load at all with ``inputs``' TensorRT and GPU? A plan loads only on
    the TensorRT version that built it and a GPU of the same compute capability."""
    if manifest is None:
        return True  # staged by hand: nothing says otherwise
    try:
        built = parse_plan_manifest(manifest)
    except ValueError:
        return False
    here = parse_plan_manifest(inputs)
    return (built.tensorrt_version, built.compute_capability) == (
        here.tensorrt_version,
        here.compute_capability,
    )
