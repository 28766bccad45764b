"""The staged-model manifests: what convert writes is what convert and the doctor read back."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from u2net.repository.layout import ONNX_FILE, PLAN_FILE
from u2net.repository.manifests import (
    OnnxManifest,
    PlanFacts,
    onnx_current,
    parse_plan_manifest,
    plan_inputs,
    plan_loads_with,
    plan_manifest,
    plan_max_batch,
    plan_up_to_date,
    read_manifest,
    staged_md5,
    write_manifest,
)

PROFILE = {
    "input": "input.1",
    "min": [1, 3, 320, 320],
    "opt": [8, 3, 320, 320],
    "max": [16, 3, 320, 320],
}


def _inputs(**changes: Any) -> dict[str, Any]:
    kwargs = {
        "build_recipe": 2,
        "tensorrt_version": "10.5.0",
        "gpu_name": "NVIDIA H100 80GB HBM3",
        "compute_capability": "9.0",
        "profile": PROFILE,
        "precision": "fp16",
        "workspace_gb": 4.0,
        "source_md5": "0c926c1de58d2568624a1f81fdbc4c37",
    } | changes
    return plan_inputs(**kwargs)


def _plan(passed: bool = True, forced: bool = False, **changes: Any) -> dict[str, Any]:
    return plan_manifest(
        model="u2netp",
        variant="u2netp_trt",
        inputs=_inputs(**changes),
        plan=b"plan bytes",
        build_seconds=41.333,
        timing_cache_found=False,
        verification={"passed": passed},
        staged_unverified=forced and not passed,
        built_at="2024-11-02T10:00:00+00:00",
    )


def test_a_written_manifest_reads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    write_manifest(path, _plan())
    assert read_manifest(path) == _plan()
    assert path.read_text().endswith("}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temp file left


@pytest.mark.parametrize("content", [None, "{not json", ""], ids=["missing", "broken", "empty"])
def test_no_manifest_or_not_json_reads_as_none(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "manifest.json"
    if content is not None:
        path.write_text(content)
    assert read_manifest(path) is None


def test_the_plan_manifest_records_the_plans_md5_under_the_key_staged_md5_reads() -> None:
    manifest = _plan()
    assert staged_md5(manifest, PLAN_FILE) == hashlib.md5(b"plan bytes").hexdigest()
    assert staged_md5(manifest, ONNX_FILE) is None
    assert json.loads(json.dumps(manifest)) == manifest


def test_the_onnx_manifest_records_its_md5_and_sources() -> None:
    manifest = OnnxManifest("u2netp", "src", 1, "out").as_dict()
    assert staged_md5(manifest, ONNX_FILE) == "out"
    assert staged_md5(manifest, PLAN_FILE) is None
    assert onnx_current(manifest, "src", 1)
    assert not onnx_current(manifest, "src", 2)
    assert not onnx_current(manifest, "other", 1)
    assert not onnx_current(None, "src", 1)


@pytest.mark.parametrize("manifest", [None, {}, {"output_md5": ""}, {"output_md5": 3}])
def test_staged_md5_is_none_without_a_recorded_md5(manifest: dict | None) -> None:
    assert staged_md5(manifest, ONNX_FILE) is None


def test_parse_plan_manifest_reads_what_plan_manifest_writes() -> None:
    assert parse_plan_manifest(_plan()) == PlanFacts(
        tensorrt_version="10.5.0",
        compute_capability="9.0",
        gpu_name="NVIDIA H100 80GB HBM3",
        max_batch=16,
        precision="fp16",
        verified=True,
        staged_unverified=False,
    )
    forced = parse_plan_manifest(_plan(passed=False, forced=True))
    assert (forced.verified, forced.staged_unverified, forced.sm) == (False, True, "sm_90")


@pytest.mark.parametrize(
    "broken",
    [{}, {"tensorrt_version": "10.5.0"}, {"tensorrt_version": "10.5.0", "gpu": "sm_89"}],
    ids=["empty", "no-gpu", "gpu-not-an-object"],
)
def test_parse_plan_manifest_names_what_is_missing(broken: dict) -> None:
    with pytest.raises(ValueError, match=r"expected tensorrt_version and gpu\.compute_capability"):
        parse_plan_manifest(broken)


@pytest.mark.parametrize(
    ("manifest", "batch"),
    [({"profile": {"max": [16, 3, 320, 320]}}, 16), ({"profile": {"max": []}}, None), ({}, None)],
)
def test_plan_max_batch(manifest: dict, batch: int | None) -> None:
    assert plan_max_batch(manifest) == batch


@pytest.mark.parametrize(
    "change",
    [
        {"tensorrt_version": "10.6.0"},
        {"compute_capability": "8.9"},
        {"precision": "fp32"},
        {"workspace_gb": 8.0},
        {"source_md5": "def"},
        {"build_recipe": 1},
    ],
)
def test_a_plan_is_up_to_date_only_for_the_inputs_it_was_built_from(change: dict) -> None:
    md5 = hashlib.md5(b"plan bytes").hexdigest()
    assert plan_up_to_date(_plan(), md5, _inputs())
    assert not plan_up_to_date(_plan(), md5, _inputs(**change))
    assert not plan_up_to_date(_plan(), "changed since", _inputs())
    assert not plan_up_to_date(_plan(passed=False, forced=True), md5, _inputs())


@pytest.mark.parametrize(
    ("built", "loads"),
    [
        ({"tensorrt_version": "10.5.0", "gpu": {"compute_capability": "9.0"}}, True),
        ({"tensorrt_version": "10.6.0", "gpu": {"compute_capability": "9.0"}}, False),
        ({"tensorrt_version": "10.5.0", "gpu": {"compute_capability": "8.9"}}, False),
        ({"tensorrt_version": "10.5.0", "gpu": "sm_90"}, False),
        (None, True),
    ],
    ids=["same", "other-tensorrt", "other-gpu", "unreadable", "hand-staged"],
)
def test_a_plan_loads_only_with_the_tensorrt_and_gpu_that_built_it(
    built: dict | None, loads: bool
) -> None:
    assert plan_loads_with(built, _inputs()) is loads
